// The data plane's one clock: CLOCK_MONOTONIC in milliseconds (never jumps with the wall clock).
#pragma once
#include <time.h>

#include <cstdint>

namespace halfsec {

inline int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The same clock with sub-millisecond precision, for moments JS compares with its own readings
// (libuv's uv_hrtime, i.e. process.hrtime(), reads CLOCK_MONOTONIC too).
inline double MonotonicMsPrecise() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace halfsec
