// The load generator's latency histogram (log-linear buckets). See bench_client.h.
#include "load/bench_client.h"

namespace halfsec::bench {

size_t Histogram::BucketOf(uint64_t v) {
  if (v < 64) return static_cast<size_t>(v);
  const int msb = 63 - __builtin_clzll(v);
  const size_t b = 64 + static_cast<size_t>(msb - 6) * 32 + ((v >> (msb - 5)) & 31);
  return b < kBuckets ? b : kBuckets - 1;
}

uint64_t Histogram::LowerBound(size_t bucket) {
  if (bucket < 64) return bucket;
  const size_t e = (bucket - 64) / 32 + 6, m = (bucket - 64) % 32;
  return (uint64_t{32} + m) << (e - 5);
}

}  // namespace halfsec::bench
