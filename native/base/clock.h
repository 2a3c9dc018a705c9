// The data plane's one clock: CLOCK_MONOTONIC in milliseconds, or µs where packet timing needs it (never jumps with the wall clock).
#pragma once
#include <time.h>

#include <cstdint>

namespace halfsec {

inline int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The same clock in microseconds, for arrival times finer than a millisecond (transport-cc
// receive deltas count 250 µs).
inline int64_t MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// CLOCK_REALTIME in microseconds: only to place kernel receive timestamps (which use it) on the
// monotonic clock.
inline int64_t RealtimeUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// The same clock with sub-millisecond precision, for moments JS compares with its own readings
// (libuv's uv_hrtime, i.e. process.hrtime(), reads CLOCK_MONOTONIC too).
inline double MonotonicMsPrecise() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace halfsec
