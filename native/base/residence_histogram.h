// How long forwarded packets stay in the relay: from the kernel's receive timestamp of the
// datagram that carried them in (SO_TIMESTAMPNS, CLOCK_REALTIME) to the return of the send call
// that carried them out, one sample per datagram sent to a viewer (a packet fanned out to N
// viewers is N samples). Fixed buckets, written by one worker thread without allocation or
// locked instructions, read by any thread at scrape time (counts may be a packet apart).
#pragma once
#include <time.h>

#include <atomic>
#include <cstdint>

namespace halfsec {

// The kernel stamps received datagrams with CLOCK_REALTIME; send returns are read on the same clock.
inline int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class ResidenceHistogram {
 public:
  // Upper bounds in ns of the finite buckets (Prometheus `le`); one more bucket holds the rest.
  static constexpr int kFinite = 18;
  static constexpr int64_t kUpperNs[kFinite] = {
      10'000,    25'000,    50'000,    100'000,    250'000,    500'000,     750'000,       1'000'000,     1'500'000,
      2'000'000, 3'000'000, 5'000'000, 10'000'000, 25'000'000, 50'000'000,  100'000'000,   250'000'000,   1'000'000'000};
  static constexpr int kBuckets = kFinite + 1;

  // Worker thread only. A negative span (the wall clock stepped back) counts as zero.
  void Record(int64_t ns) {
    if (ns < 0) ns = 0;
    int b = 0;
    while (b < kFinite && ns > kUpperNs[b]) b++;
    Bump(counts_[b], 1);
    Bump(sum_ns_, static_cast<uint64_t>(ns));
  }

  // Non-cumulative bucket counts (kBuckets of them) and the sum of every recorded span in ns.
  void Read(uint64_t* counts, uint64_t* sum_ns) const {
    for (int i = 0; i < kBuckets; i++) counts[i] = counts_[i].load(std::memory_order_relaxed);
    *sum_ns = sum_ns_.load(std::memory_order_relaxed);
  }

 private:
  // One writer: a plain load and store, no locked read-modify-write on the per-packet path.
  static void Bump(std::atomic<uint64_t>& c, uint64_t n) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::atomic<uint64_t> counts_[kBuckets] = {};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace halfsec
