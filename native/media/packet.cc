#include "media/packet.h"

#include <new>

namespace halfsec {

void MediaPacket::Release() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (pool) {
    pool->Return(this);
  } else {
    delete this;
  }
}

PacketPool::PacketPool(size_t max_cached) : returned_(max_cached), max_cached_(max_cached) {
  free_.reserve(max_cached);
}

PacketPool::~PacketPool() {
  MediaPacket* p;
  while (returned_.Pop(&p)) free_.push_back(p);
  for (MediaPacket* f : free_) delete f;
}

MediaPacket* PacketPool::Get() {
  MediaPacket* p;
  if (free_.empty()) {
    while (free_.size() < max_cached_ && returned_.Pop(&p)) free_.push_back(p);
  }
  if (!free_.empty()) {
    p = free_.back();
    free_.pop_back();
  } else {
    p = new (std::nothrow) MediaPacket();
    if (!p) return nullptr;
    p->pool = this;
    allocated_.fetch_add(1, std::memory_order_relaxed);
  }
  p->refs.store(1, std::memory_order_relaxed);
  p->keyframe = false;
  p->recovered = false;
  p->layer = 0;
  p->rx_ns = 0;
  return p;
}

void PacketPool::Return(MediaPacket* pkt) {
  if (!returned_.Push(pkt)) {
    allocated_.fetch_sub(1, std::memory_order_relaxed);
    delete pkt;
  }
}

}  // namespace halfsec
