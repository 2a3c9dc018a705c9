// One viewer asks for a keyframe at most once per interval, however many reasons arrive (a PLI,
// a layer it waits for, a start without a cached keyframe): the publisher's picture needs a
// round trip to come, and asking again meanwhile only adds to a storm.
#pragma once
#include <cstdint>

namespace halfsec {

class KeyframeRequestPacer {
 public:
  explicit KeyframeRequestPacer(int64_t interval_ms) : interval_ms_(interval_ms) {}
  bool Allow(int64_t now_ms) {
    if (now_ms - last_ms_ < interval_ms_) return false;
    last_ms_ = now_ms;
    return true;
  }

 private:
  int64_t interval_ms_;
  int64_t last_ms_ = -1000000;
};

}  // namespace halfsec
