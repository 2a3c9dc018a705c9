// Retransmissions to one viewer are paced by a token bucket, so a viewer that NACKs everything
// cannot turn the relay into an amplifier.
#pragma once
#include <algorithm>
#include <cstdint>

namespace halfsec {

class TokenBucket {
 public:
  TokenBucket(double per_second, double burst) : rate_(per_second), burst_(burst), tokens_(burst) {}
  void Start(int64_t now_ms) {
    tokens_ = burst_;
    last_ms_ = now_ms;
  }
  // True (and one token spent) when a token is available at `now_ms`.
  bool Take(int64_t now_ms) {
    tokens_ = std::min(burst_, tokens_ + (now_ms - last_ms_) * rate_ / 1000.0);
    last_ms_ = now_ms;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_, burst_, tokens_;
  int64_t last_ms_ = 0;
};

}  // namespace halfsec
