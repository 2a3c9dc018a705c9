// RFC 4588 retransmission payloads: the original sequence number (OSN) leads the payload.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rtp/rtp.h"

namespace halfsec {

// Turns an RTX packet back into the packet it repairs, in place: payload type `apt`, the OSN
// as sequence number. False for a padding-only probe or when the result does not parse.
bool UnwrapRtx(uint8_t* d, int* len, RtpHeader* h, uint8_t apt);

// Inserts `osn` between the header (ending at `header_end`) and the payload of the `len`-byte
// packet at `d`, which must have two spare bytes. Returns the new length.
size_t InsertRtxOsn(uint8_t* d, size_t len, size_t header_end, uint16_t osn);

}  // namespace halfsec
