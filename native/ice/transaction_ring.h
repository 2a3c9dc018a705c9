// The transaction ids of a peer's latest valid checks. A check carries nothing else that says it
// is fresh, so a captured check replayed from another address would look like the peer moving:
// a repeated transaction id may be answered (a retransmission is normal) but never moves a path.
#pragma once
#include <cstdint>
#include <cstring>

namespace halfsec {

class TransactionRing {
 public:
  static constexpr int kSize = 16;

  // True when `tid` (12 bytes, RFC 5389 §6) is among the last kSize recorded; records it if not.
  bool SeenOrAdd(const uint8_t* tid) {
    for (int i = 0; i < count_; i++) {
      if (std::memcmp(ids_[i], tid, 12) == 0) return true;
    }
    std::memcpy(ids_[next_], tid, 12);
    next_ = (next_ + 1) % kSize;
    if (count_ < kSize) count_++;
    return false;
  }

 private:
  uint8_t ids_[kSize][12] = {};
  int next_ = 0, count_ = 0;
};

}  // namespace halfsec
