#include "stream.h"

#include <new>

namespace halfsec {

MediaPacket* MediaPacket::Create() { return new (std::nothrow) MediaPacket(); }

void MediaPacket::Release() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

bool Stream::TakeKeyframeRequestSlot(int64_t now_ms, int64_t interval_ms) {
  int64_t last = last_keyframe_request_ms.load(std::memory_order_relaxed);
  while (now_ms - last >= interval_ms) {
    if (last_keyframe_request_ms.compare_exchange_weak(last, now_ms, std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace halfsec
