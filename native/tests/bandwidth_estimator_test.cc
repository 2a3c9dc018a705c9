// The estimator on synthetic feedback traces (tests/twcc_sim.h): a sender through a bottleneck
// link whose receiver reports every 100 ms, through the real reader, matcher and estimator.
#include <cstdio>

#include "media/bandwidth_estimator.h"
#include "media/delay_based_bwe.h"
#include "media/probe_controller.h"
#include "tests/check.h"
#include "tests/twcc_sim.h"

namespace halfsec {

TEST(EstimatorStaysUnknownOnAnOpenLink) {
  test::LinkSim sim;
  sim.rate_bps = 1'500'000;
  sim.capacity_bps = 10'000'000;
  sim.Run(20'000);
  // Nothing limited the path: no estimate to act on, and no overuse was ever signalled.
  CHECK_EQ(sim.bwe.estimate_bps(), uint64_t{0});
  CHECK(!sim.bwe.known());
  // What arrived is what was sent.
  CHECK(sim.bwe.acked_bps() > 1'300'000 && sim.bwe.acked_bps() < 1'800'000);
}

TEST(EstimatorFollowsAStepDownWithinSeconds) {
  test::LinkSim sim;
  sim.rate_bps = 1'500'000;
  sim.capacity_bps = 10'000'000;
  sim.Run(5'000);
  CHECK(!sim.bwe.known());
  sim.capacity_bps = 600'000;
  int64_t below_at = -1;
  sim.Run(10'000, [&](int64_t ms) {
    if (below_at < 0 && sim.bwe.known() && sim.bwe.estimate_bps() < 800'000) below_at = ms;
  });
  std::printf("  step down: estimate below 800 kbit/s %lld ms after the limit; now %llu bit/s\n",
              static_cast<long long>(below_at - 5000), static_cast<unsigned long long>(sim.bwe.estimate_bps()));
  CHECK(below_at > 0 && below_at - 5000 <= 3000);
  // Bounded on both sides: below the sending rate and near the link, never collapsing.
  CHECK(sim.bwe.estimate_bps() < 800'000);
  CHECK(sim.bwe.estimate_bps() > 200'000);
}

TEST(EstimatorSeesAGrowingQueueBeforeAnyLoss) {
  test::LinkSim sim;
  sim.rate_bps = 1'000'000;
  sim.capacity_bps = 10'000'000;
  sim.max_queue_ms = 60'000;  // a deep buffer: delay grows, nothing is dropped
  sim.Run(3'000);
  sim.capacity_bps = 700'000;
  int64_t known_at = -1;
  sim.Run(5'000, [&](int64_t ms) {
    if (known_at < 0 && sim.bwe.known()) known_at = ms;
  });
  std::printf("  deep buffer: delay-based limit %lld ms after the step; estimate %llu, loss-based %.0f\n",
              static_cast<long long>(known_at - 3000), static_cast<unsigned long long>(sim.bwe.estimate_bps()),
              sim.bwe.loss_based_bps());
  CHECK(known_at > 0 && known_at - 3000 <= 2000);
  CHECK(sim.bwe.loss_based_bps() < 0);  // no loss: the delay-based part alone found it
  CHECK(sim.bwe.estimate_bps() < 700'000 && sim.bwe.estimate_bps() > 300'000);
}

TEST(EstimatorStepsUpOnlyThroughProbesThatHold) {
  test::LinkSim sim;
  sim.rate_bps = 1'500'000;
  sim.capacity_bps = 600'000;
  sim.Run(8'000);
  CHECK(sim.bwe.known());
  // The policy moved the viewer down to a 300 kbit/s layer; the next one needs 1.5 Mbit/s.
  sim.rate_bps = 300'000;
  sim.probe_target_bps = 1'500'000 * 1.35;
  sim.Run(10'000);
  const uint64_t limited = sim.bwe.estimate_bps();
  std::printf("  limited link, probing: estimate %llu bit/s\n", static_cast<unsigned long long>(limited));
  // Probes against the 600 kbit/s link fail: the estimate stays under the next layer's need.
  CHECK(limited > 0 && limited < 1'000'000);
  sim.capacity_bps = 10'000'000;
  int64_t up_at = -1;
  const int64_t lifted = sim.now_us / 1000;
  sim.Run(10'000, [&](int64_t ms) {
    if (up_at < 0 && sim.bwe.estimate_bps() >= 1'500'000 * 1.2) up_at = ms;
  });
  std::printf("  limit lifted: estimate above 1.8 Mbit/s after %lld ms; now %llu bit/s\n",
              static_cast<long long>(up_at - lifted), static_cast<unsigned long long>(sim.bwe.estimate_bps()));
  CHECK(up_at > 0 && up_at - lifted <= 6'000);
  // Bounded above by what the probes tested, not runaway.
  CHECK(sim.bwe.estimate_bps() <= 1'500'000 * 1.35 + 400'000);
}

TEST(EstimatorIsNotFooledByAShapersBurstAllowance) {
  // tc tbf with an 8 KB burst: a short probe passes whole at the paced rate; a queue still grows.
  test::LinkSim sim;
  sim.rate_bps = 1'000'000;
  sim.capacity_bps = 600'000;
  sim.burst_bytes = 8 * 1024;
  sim.Run(6'000);
  CHECK(sim.bwe.known());
  sim.rate_bps = 340'000;
  sim.probe_target_bps = 1'000'000;
  uint64_t highest = 0;
  sim.Run(20'000, [&](int64_t) { highest = std::max(highest, sim.bwe.estimate_bps()); });
  std::printf("  600 kbit/s with an 8 KB burst, probing toward 1 Mbit/s: highest estimate %llu bit/s\n",
              static_cast<unsigned long long>(highest));
  CHECK(highest < 800'000);
  // The same probes on an open path hold.
  sim.capacity_bps = 10'000'000;
  sim.Run(8'000);
  CHECK(sim.bwe.estimate_bps() >= 900'000);
}

TEST(EstimatorWithoutProbesDoesNotClimbPastWhatItCarries) {
  test::LinkSim sim;
  sim.rate_bps = 1'500'000;
  sim.capacity_bps = 600'000;
  sim.Run(8'000);
  sim.rate_bps = 300'000;
  sim.capacity_bps = 10'000'000;
  sim.Run(10'000);
  // 1.5 x what arrives (+10 kbit/s) is the most an unprobed estimate may claim.
  CHECK(sim.bwe.estimate_bps() <= 1.5 * 300'000 + 10'000 + 50'000);
}

TEST(EstimatorCutsOnBurstyLossAndRecoversAfter) {
  test::LinkSim sim;
  sim.rate_bps = 1'000'000;
  sim.capacity_bps = 10'000'000;
  sim.Run(3'000);
  // Bursts: 25 % loss for a second, clean for a second, five times.
  for (int i = 0; i < 5; i++) {
    sim.loss = 0.25;
    sim.Run(1'000);
    sim.loss = 0;
    sim.Run(1'000);
  }
  const uint64_t lossy = sim.bwe.estimate_bps();
  std::printf("  after bursty loss: estimate %llu bit/s (loss-based %.0f)\n", static_cast<unsigned long long>(lossy),
              sim.bwe.loss_based_bps());
  CHECK(sim.bwe.known());
  CHECK(lossy > 0 && lossy < 1'000'000);
  CHECK(lossy > 150'000);
  // Clean again: the loss-based part grows back to what the link carries (no delay signal).
  sim.Run(15'000);
  std::printf("  15 s clean: estimate %llu bit/s\n", static_cast<unsigned long long>(sim.bwe.estimate_bps()));
  CHECK(sim.bwe.estimate_bps() >= 1'000'000);
}

TEST(OveruseDetectorThresholdAdapts) {
  OveruseDetector d;
  // A steady trend just above the threshold triggers overuse after more than 10 ms.
  BandwidthUsage u = BandwidthUsage::kNormal;
  for (int i = 0; i < 5; i++) u = d.Detect(20, 5, 10, i * 5);
  CHECK(u == BandwidthUsage::kOverusing);
  // A falling trend below the negative threshold is underuse.
  CHECK(d.Detect(-30, 5, 10, 100) == BandwidthUsage::kUnderusing);
  // Small trends pull the threshold down toward them, never below 6.
  for (int i = 0; i < 200; i++) d.Detect(1, 5, 10, 200 + i * 100);
  CHECK(d.threshold() >= 6 && d.threshold() < 8);
}

TEST(AimdDecreasesToBetaTimesThroughputOncePerRoundTrip) {
  AimdRateControl a;
  a.SetRate(1'500'000);
  a.Update(BandwidthUsage::kOverusing, 1'000'000, 1000);
  CHECK_EQ(static_cast<int64_t>(a.rate()), 850'000);
  a.Update(BandwidthUsage::kOverusing, 100'000, 1050);  // within the round trip: held
  CHECK_EQ(static_cast<int64_t>(a.rate()), 850'000);
  // A throughput dip (a dropped burst) halves the rate at most.
  a.Update(BandwidthUsage::kOverusing, 100'000, 1300);
  CHECK_EQ(static_cast<int64_t>(a.rate()), 425'000);
  a.Update(BandwidthUsage::kNormal, 400'000, 1350);
  a.Update(BandwidthUsage::kNormal, 400'000, 1400);
  a.Update(BandwidthUsage::kOverusing, 400'000, 1700);
  CHECK_EQ(static_cast<int64_t>(a.rate()), 340'000);
  // Normal: hold, then increase, bounded by 1.5 x throughput.
  for (int i = 0; i < 100; i++) a.Update(BandwidthUsage::kNormal, 800'000, 1800 + i * 100);
  CHECK(a.rate() > 500'000);
  CHECK(a.rate() <= 1.5 * 800'000 + 10'000);
}

TEST(WorkerPaddingBudgetBoundsAllProbesTogether) {
  // 500 viewers each owed a 4 Mbit/s probe, every 20 ms tick for a second: the worker sends no
  // more than its budget (100 Mbit/s) plus one burst, whatever each viewer is owed.
  PaddingBudget budget;
  constexpr size_t kPacket = 291;
  uint64_t sent = 0;
  for (int64_t now = 0; now < 1000; now += 20) {
    for (int viewer = 0; viewer < 500; viewer++) {
      uint64_t owed = static_cast<uint64_t>(4e6 / 8 * 0.02);
      while (owed > 0 && budget.Take(now, kPacket)) {
        sent += kPacket;
        owed = owed > kPacket ? owed - kPacket : 0;
      }
    }
  }
  const double cap = PaddingBudget::kBytesPerSecond * (1.0 + PaddingBudget::kBurstMs / 1000.0);
  CHECK(static_cast<double>(sent) <= cap);
  CHECK(static_cast<double>(sent) >= 0.9 * PaddingBudget::kBytesPerSecond);  // and uses it
  // A quiet worker's single probe is not held back.
  PaddingBudget quiet;
  CHECK(quiet.Take(5000, 4'000'000 / 8 / 50));
}

}  // namespace halfsec
