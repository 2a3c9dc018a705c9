// The holes in one inbound sequence line that are worth NACKing upstream, and when to ask again.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace halfsec {

class NackGenerator {
 public:
  // A hole is worth asking for this long, this often, this many times; older holes are dropped
  // first when a burst of loss would make the list grow without bound.
  static constexpr int64_t kGiveUpMs = 1000;
  static constexpr int64_t kRetryMs = 50;
  static constexpr int kTries = 4;
  static constexpr size_t kMaxMissing = 256;

  // Sequence numbers [first, end) went missing at `now_ms`.
  void OnGap(uint16_t first, uint16_t end, int64_t now_ms);
  // True when `seq` was missing (and is no longer).
  bool OnArrived(uint16_t seq);
  // Drops holes past their tries or age, then writes up to `max` due sequence numbers, in
  // sequence order, and schedules their retry. Returns how many.
  int TakeDue(int64_t now_ms, uint16_t* seqs, int max);
  bool empty() const { return missing_.empty(); }
  size_t size() const { return missing_.size(); }

 private:
  struct Missing {
    uint16_t seq;
    uint8_t tries;
    int64_t since_ms, next_ms;
  };
  std::vector<Missing> missing_;
};

}  // namespace halfsec
