// The packets one worker forwarded lately for one stream, per kind and layer, found by the
// publisher's sequence number to answer viewers' NACKs. References to the shared buffers, not
// copies.
#pragma once
#include <cstdint>
#include <vector>

#include "media/packet.h"

namespace halfsec {

class RetransmissionBuffer {
 public:
  static constexpr size_t kSize = 1024;  // per kind and layer: ~4 s at 2.5 Mbit/s

  RetransmissionBuffer() = default;
  ~RetransmissionBuffer();
  RetransmissionBuffer(const RetransmissionBuffer&) = delete;
  RetransmissionBuffer& operator=(const RetransmissionBuffer&) = delete;

  void Store(MediaPacket* pkt);  // takes its own reference
  // Null when the packet was never stored or has been overwritten since. `epoch` names the
  // source line (MediaPacket::epoch): after an SSRC or sequence restart an old line's packet
  // with the same number is not the one asked for.
  const MediaPacket* Find(int kind, int layer, uint16_t seq, uint32_t epoch) const;

 private:
  std::vector<MediaPacket*> ring_[kMediaKinds * kMaxLayers];
};

}  // namespace halfsec
