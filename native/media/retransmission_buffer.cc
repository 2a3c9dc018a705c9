#include "media/retransmission_buffer.h"

namespace halfsec {

RetransmissionBuffer::~RetransmissionBuffer() {
  for (auto& r : ring_) {
    for (MediaPacket* p : r) {
      if (p) p->Release();
    }
  }
}

void RetransmissionBuffer::Store(MediaPacket* pkt) {
  auto& r = ring_[pkt->kind * kMaxLayers + pkt->layer];
  if (r.empty()) r.assign(kSize, nullptr);
  MediaPacket*& slot = r[pkt->rtp.sequence % kSize];
  if (slot) slot->Release();
  pkt->AddRef(1);
  slot = pkt;
}

const MediaPacket* RetransmissionBuffer::Find(int kind, int layer, uint16_t seq, uint32_t epoch) const {
  if (kind < 0 || kind >= kMediaKinds || layer < 0 || layer >= kMaxLayers) return nullptr;
  const auto& r = ring_[kind * kMaxLayers + layer];
  if (r.empty()) return nullptr;
  const MediaPacket* p = r[seq % kSize];
  return p && p->rtp.sequence == seq && p->epoch == epoch ? p : nullptr;
}

}  // namespace halfsec
