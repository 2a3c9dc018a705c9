#include "media/nack_generator.h"

#include <algorithm>

namespace halfsec {

void NackGenerator::OnGap(uint16_t first, uint16_t end, int64_t now_ms) {
  for (uint16_t s = first; s != end; s++) {
    if (missing_.size() >= kMaxMissing) missing_.erase(missing_.begin());
    missing_.push_back({s, 0, now_ms, now_ms});
  }
}

bool NackGenerator::OnArrived(uint16_t seq) {
  for (size_t i = 0; i < missing_.size(); i++) {
    if (missing_[i].seq == seq) {
      missing_.erase(missing_.begin() + static_cast<long>(i));
      return true;
    }
  }
  return false;
}

int NackGenerator::TakeDue(int64_t now_ms, uint16_t* seqs, int max) {
  if (missing_.empty()) return 0;
  missing_.erase(std::remove_if(missing_.begin(), missing_.end(),
                                [&](const Missing& x) { return x.tries >= kTries || now_ms - x.since_ms > kGiveUpMs; }),
                 missing_.end());
  int count = 0;
  for (auto& x : missing_) {
    if (x.next_ms > now_ms || count >= max) continue;
    seqs[count++] = x.seq;
    x.tries++;
    x.next_ms = now_ms + kRetryMs;
  }
  std::sort(seqs, seqs + count, [](uint16_t a, uint16_t b) { return static_cast<int16_t>(a - b) < 0; });
  return count;
}

}  // namespace halfsec
