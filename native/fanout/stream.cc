#include "fanout/stream.h"

namespace halfsec {

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
