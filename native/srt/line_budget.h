// A budget of output lines a second: the first `per_second` lines of each one-second window may
// be written, the rest are only counted until TakeSkipped hands the count over. halfsec-srt
// spends it on `refused` lines: a caller can be refused hundreds of times a second (each costs it
// only a handshake's round trip), and the relay logs every line, so a flood must cost the log one
// summary line a second and never fill the stdout pipe libsrt's receive thread writes to.
// Thread-safe. No libsrt here, so the native unit tests can run it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace halfsec::srt {

class LineBudget {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LineBudget(int per_second) : per_second_(per_second) {}

  // True: this line may be written now; false: it was counted instead.
  bool Take(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - window_ >= std::chrono::seconds(1)) {
      window_ = now;
      lines_ = 0;
    }
    if (lines_ >= per_second_) {
      skipped_++;
      return false;
    }
    lines_++;
    return true;
  }

  // The lines counted instead of written since the last call.
  uint64_t TakeSkipped() {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = skipped_;
    skipped_ = 0;
    return n;
  }

 private:
  const int per_second_;
  std::mutex mu_;
  Clock::time_point window_{};
  int lines_ = 0;
  uint64_t skipped_ = 0;
};

}  // namespace halfsec::srt
