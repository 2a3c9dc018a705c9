#include "media/report_phase.h"

#include <vector>

#include "tests/check.h"

namespace halfsec {

TEST(ReportPhaseKeepsAnOnTimeCadenceExact) {
  // Sent within a tick or two of its due time: the next interval counts from now.
  CHECK_EQ(NextReportBase(10'000, 9'000, 1'000, 7), 10'000);
  CHECK_EQ(NextReportBase(10'020, 9'000, 1'000, 7), 10'020);
  CHECK_EQ(NextReportBase(10'100, 9'000, 1'000, 7), 10'100);
}

TEST(ReportPhaseSpreadsPeersWhoseCadenceStartsTogether) {
  // 500 viewers resume media in the same tick after the 5 s quiet pace (or send their first
  // report): their next reports spread over the following interval instead of sharing a tick.
  const int64_t now = 50'000, interval = 1'000, tick = 20;
  std::vector<int> per_tick(interval / tick, 0);
  for (uint32_t id = 1; id <= 500; id++) {
    const int64_t base = NextReportBase(now, now - 5'000, interval, (uint64_t{id} << 32) ^ static_cast<uint64_t>(now));
    CHECK(base <= now);
    CHECK(base > now - interval);
    const int64_t next_due = base + interval;  // in (now, now + interval]
    per_tick[static_cast<size_t>((next_due - now - 1) / tick)]++;
  }
  // Uniform over 50 ticks: 10 expected per tick; never anywhere near all 500 in one.
  int most = 0, empty = 0;
  for (int n : per_tick) {
    most = n > most ? n : most;
    empty += n == 0;
  }
  CHECK(most <= 30);
  CHECK(empty <= 5);
}

TEST(ReportPhaseDependsOnTheSeed) {
  const int64_t a = NextReportBase(50'000, 0, 1'000, 1), b = NextReportBase(50'000, 0, 1'000, 2);
  CHECK(a != b);
  CHECK_EQ(NextReportBase(50'000, 0, 1'000, 1), a);  // deterministic for a seed
}

}  // namespace halfsec
