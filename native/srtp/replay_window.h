// SRTP/SRTCP replay window (RFC 3711 3.3.2): a sliding ring bitmap over packet indices.
// Include only from srtp/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace halfsec {
namespace srtp_internal {

// Sliding window over packet indices as a ring bitmap: bit (i mod kBits) marks index i, valid for
// highest - kBits < i <= highest.
template <size_t kBits>
class ReplayWindow {
  static_assert(kBits % 64 == 0, "window must be whole words");

 public:
  uint64_t highest() const { return highest_; }
  void Reset(uint64_t index) {
    highest_ = index;
    std::memset(bits_, 0, sizeof(bits_));
    Set(index);
  }
  // True if the index must be rejected (already seen, or too old to tell).
  bool Rejects(uint64_t index) const {
    if (index > highest_) return false;
    if (highest_ - index >= kBits) return true;
    return (bits_[(index % kBits) / 64] >> (index % 64)) & 1u;
  }
  // Records an authenticated index (Rejects(index) was false).
  void Accept(uint64_t index) {
    if (index > highest_) {
      uint64_t delta = index - highest_;
      if (delta >= kBits) {
        std::memset(bits_, 0, sizeof(bits_));
      } else {
        for (uint64_t i = highest_ + 1; i <= index; ++i)
          bits_[(i % kBits) / 64] &= ~(uint64_t{1} << (i % 64));
      }
      highest_ = index;
    }
    Set(index);
  }

 private:
  void Set(uint64_t index) { bits_[(index % kBits) / 64] |= uint64_t{1} << (index % 64); }
  uint64_t highest_ = 0;
  uint64_t bits_[kBits / 64] = {};
};

}  // namespace srtp_internal
}  // namespace halfsec
