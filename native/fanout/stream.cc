#include "fanout/stream.h"

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
  return p;
}

void PacketPool::Return(MediaPacket* pkt) {
  if (!returned_.Push(pkt)) {
    allocated_.fetch_sub(1, std::memory_order_relaxed);
    delete pkt;
  }
}

KeyframeCache::~KeyframeCache() { Clear(); }

void KeyframeCache::Add(MediaPacket* pkt, int64_t now_ms) {
  if (pkt->kind != kVideo || pkt->layer >= kMaxLayers || pkt->recovered) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto& gop = gop_[pkt->layer];
  if (pkt->keyframe) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
    overflow_[pkt->layer] = false;
    keyframe_ms_[pkt->layer] = now_ms;
  } else if (gop.empty() || overflow_[pkt->layer]) {
    return;  // no keyframe yet, or this group of pictures outgrew the cache
  }
  if (gop.size() >= kMaxPackets) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
    overflow_[pkt->layer] = true;
    return;
  }
  pkt->AddRef(1);
  gop.push_back(pkt);
}

void KeyframeCache::Snapshot(int layer, int64_t now_ms, int64_t max_age_ms, std::vector<MediaPacket*>* out) {
  if (layer < 0 || layer >= kMaxLayers) return;
  std::lock_guard<std::mutex> lock(mu_);
  // Replaying a long group of pictures would start the viewer seconds behind live.
  if (now_ms - keyframe_ms_[layer] > max_age_ms) return;
  for (MediaPacket* p : gop_[layer]) {
    p->AddRef(1);
    out->push_back(p);
  }
}

void KeyframeCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& gop : gop_) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
  }
}

bool Stream::TakeKeyframeRequestSlot(int layer, int64_t now_ms, int64_t interval_ms) {
  if (layer < 0 || layer >= kMaxLayers) return false;
  auto& slot = last_keyframe_request_ms[layer];
  int64_t last = slot.load(std::memory_order_relaxed);
  while (last == 0 || now_ms - last >= interval_ms) {
    if (slot.compare_exchange_weak(last, now_ms, std::memory_order_relaxed)) return true;
  }
  return false;
}

int Stream::TopLiveLayer(int64_t now_ms, int64_t stale_ms) const {
  const int n = layer_count.load(std::memory_order_relaxed);
  for (int i = n - 1; i >= 0; i--) {
    const int64_t seen = layer_seen_ms[i].load(std::memory_order_relaxed);
    if (seen != 0 && now_ms - seen < stale_ms) return i;
  }
  return -1;
}

}  // namespace halfsec
