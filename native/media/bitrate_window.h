// Bit rate over a sliding window: bytes in fixed time buckets, the oldest dropped as the clock
// moves on. One per publisher line, touched only by its worker thread; O(1) per packet.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace halfsec {

class BitrateWindow {
 public:
  static constexpr int kBuckets = 20;
  static constexpr int64_t kBucketMs = 100;  // a 2 s window

  void Add(size_t bytes, int64_t now_ms) {
    Advance(now_ms);
    if (first_ms_ < 0) first_ms_ = now_ms;
    bytes_[Index(head_)] += bytes;
  }

  // Bits per second over the window (or over the time since the first byte when shorter).
  double Bps(int64_t now_ms) {
    Advance(now_ms);
    if (first_ms_ < 0) return 0;
    uint64_t sum = 0;
    for (uint64_t b : bytes_) sum += b;
    // The current bucket is partly filled: the window spans the full ones plus its elapsed part.
    const int64_t span = std::min<int64_t>((kBuckets - 1) * kBucketMs + now_ms % kBucketMs + 1, now_ms - first_ms_ + 1);
    return span > 0 ? static_cast<double>(sum) * 8000.0 / static_cast<double>(std::max<int64_t>(span, kBucketMs)) : 0;
  }

 private:
  static size_t Index(int64_t bucket) { return static_cast<size_t>(bucket % kBuckets); }
  void Advance(int64_t now_ms) {
    const int64_t b = now_ms / kBucketMs;
    if (head_ < 0) {
      head_ = b;
      return;
    }
    if (b <= head_) return;
    const int64_t steps = std::min<int64_t>(b - head_, kBuckets);
    for (int64_t k = 1; k <= steps; k++) bytes_[Index(head_ + k)] = 0;
    head_ = b;
  }

  uint64_t bytes_[kBuckets] = {};
  int64_t head_ = -1;  // the bucket now being filled (now_ms / kBucketMs)
  int64_t first_ms_ = -1;
};

}  // namespace halfsec
