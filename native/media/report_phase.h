// When a periodic report (a viewer's sender reports, its feedback summaries) counts its next
// interval from. Peers whose cadence starts together (viewers that joined in the same tick, or
// every viewer of a stream resuming media at once after the quiet pace) would otherwise report
// in the same worker tick forever: hundreds of SRTCP packets and control-plane events in one
// tick, which delays every packet that arrives meanwhile (halfsec_packet_residence_seconds).
// RFC 3550 §6.3.1 randomizes RTCP intervals for the same reason. Here only a broken cadence is
// moved: a report sent on time keeps the period exact, one sent late (first report, resume
// after the quiet pace, a peer woken late) gets a random phase within one interval, so the next
// one comes after a uniform (0, interval] instead of a full interval.
#pragma once
#include <cstdint>

namespace halfsec {

// A report due at `last_ms + interval_ms` went out at `now_ms`: the value `last_ms` takes.
// `slack_ms`: lateness still taken as on time (a tick or two). `seed`: any per-peer, per-report
// value (it is mixed here).
inline int64_t NextReportBase(int64_t now_ms, int64_t last_ms, int64_t interval_ms, uint64_t seed, int64_t slack_ms = 100) {
  if (interval_ms <= 1 || now_ms - last_ms <= interval_ms + slack_ms) return now_ms;
  // splitmix64: a well-mixed value from a weak seed.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return now_ms - static_cast<int64_t>(z % static_cast<uint64_t>(interval_ms));
}

}  // namespace halfsec
