// Does an RTP payload start a keyframe? Enough of each payload format (RFC 6184, RFC 7741,
// RFC 9628, the AV1 RTP specification) to tell, bounded by the payload length.
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

enum class Codec : uint8_t { kUnknown = 0, kH264 = 1, kVp8 = 2, kVp9 = 3, kAv1 = 4, kOpus = 5 };

bool IsKeyframeStart(Codec codec, const uint8_t* payload, size_t len);

}  // namespace halfsec
