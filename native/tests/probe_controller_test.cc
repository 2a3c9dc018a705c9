// Probes toward the next layer (media/probe_controller.h) on synthetic links (tests/twcc_sim.h):
// what they aim at, how little a failing one adds to a limited path's queue, and what a viewer
// lying in its transport-cc feedback can make the relay send.
#include <cstdio>

#include "media/probe_controller.h"
#include "tests/check.h"
#include "tests/twcc_sim.h"

namespace halfsec {

namespace {
// The layers bench/latency and the browser tests see from Chromium at 1280x720 (bit/s).
constexpr double kMid = 388'000, kTop = 826'000;
}  // namespace

TEST(ProbeAimsAtTheNextLayerNeverBeyondTheTop) {
  // The next layer's rate with the margin, plus audio: not a multiple of the estimate.
  CHECK_EQ(ProbeController::Target(kTop, kTop), kTop * ProbeController::kLayerMargin + ProbeController::kAudioAllowanceBps);
  // A next-step rate above the stream's top layer (stale, or a wrong SVC step) is cut to the top.
  CHECK_EQ(ProbeController::Target(5'000'000, kTop), ProbeController::Target(kTop, kTop));
  ProbeController p;
  const double target = ProbeController::Target(kTop, kTop);
  // From an estimate far below the target (just after a cut) a probe asks the path for at most
  // kMaxGain x the estimate; close enough, the target itself.
  CHECK_EQ(ProbeController::Aim(400'000, target), 800'000.0);
  CHECK_EQ(ProbeController::Aim(700'000, target), target);
  CHECK(!p.Due(0, 0, target));                                         // no estimate yet: no probe
  CHECK(!p.Due(0, static_cast<uint64_t>(target) + 1, target));         // already there: no probe
  CHECK(!p.Due(0, 400'000, target, /*last_cut_ms=*/-1, /*overusing=*/true));
  CHECK(!p.Due(1000, 400'000, target, /*last_cut_ms=*/0));             // within 2 s of a cut
  CHECK(p.Due(0, 400'000, target));
  // Padding fills the gap between the target and the media that arrived.
  p.Start(0, target, 400'000, 0);
  CHECK_EQ(p.pad_bps(), target - 400'000);
  // Feedback claiming no media arrived cannot raise it past the target, nor a huge target past
  // the ceiling.
  p.Start(0, target, 0, 1);
  CHECK_EQ(p.pad_bps(), target);
  p.Start(0, 50e6, 0, 2);
  CHECK_EQ(p.pad_bps(), ProbeController::kMaxPadBps);
  // What a probe sends: its rate for kDurationMs, one packet of slack.
  p.Start(0, target, 400'000, 3);
  uint64_t sent = 0;
  for (int64_t t = 0; p.active(); t += 20) {
    for (uint64_t owed = p.Owed(t); owed > 0; owed = owed > 291 ? owed - 291 : 0) {
      p.Sent(291);
      sent += 291;
    }
    p.Finish(t);
  }
  CHECK(sent <= (target - 400'000) * ProbeController::kDurationMs / 8000.0 + 291);
}

TEST(AFailingProbeStopsEarlyAndWaitsLongerEachTime) {
  // 600 kbit/s with tc's 8 KB burst, the viewer on the middle layer, probing toward the top.
  auto run = [](bool abort) {
    test::LinkSim sim;
    sim.rate_bps = 1'000'000;
    sim.capacity_bps = 600'000;
    sim.burst_bytes = 8 * 1024;
    sim.abort_failing = abort;
    sim.Run(6'000);
    sim.rate_bps = kMid;
    sim.probe_target_bps = ProbeController::Target(kTop, kTop);
    sim.Run(4'000);  // the queue the move down left drains
    sim.max_queue_us = 0;
    sim.padding_bytes = 0;
    sim.probes_started = 0;
    const uint32_t aborted_before = sim.probes.aborted();
    uint64_t highest = 0;
    sim.Run(30'000, [&](int64_t) { highest = std::max(highest, sim.bwe.estimate_bps()); });
    std::printf("  %s: %u probes in 30 s, %u aborted, %.1f KB padding, deepest queue %.0f ms, highest estimate %llu\n",
                abort ? "stopping early" : "full length", sim.probes_started, sim.probes.aborted() - aborted_before,
                sim.padding_bytes / 1024.0, sim.max_queue_us / 1000.0, static_cast<unsigned long long>(highest));
    CHECK(highest < 700'000);  // no probe held on a link that cannot carry the top layer
    CHECK(sim.probes_started >= 3);
    // Each failure doubles the wait (1, 2, 4, 4, ... s): far fewer than one a second.
    CHECK(sim.probes_started <= 30'000 / (ProbeController::kMaxIntervalMs + ProbeController::kDurationMs) + 3);
    CHECK_EQ(sim.probes.interval_ms(), ProbeController::kMaxIntervalMs);
    struct Out {
      uint64_t padding;
      int64_t queue_us;
      uint32_t probes, aborted;
    };
    return Out{sim.padding_bytes, sim.max_queue_us, sim.probes_started, sim.probes.aborted() - aborted_before};
  };
  const auto early = run(true), full = run(false);
  CHECK(early.aborted >= 1);
  // Stopping at the first feedback that shows the queue growing sends less padding per probe
  // and leaves a shallower queue.
  CHECK(early.padding * full.probes < full.padding * early.probes);
  CHECK(early.queue_us < full.queue_us);
}

TEST(ForgedFeedbackCannotMakeTheRelaySendMoreThanTheTopLayerAndABoundedProbe) {
  // An open path; the viewer forges its feedback. Whatever it claims, the relay sends at most the
  // stream's top layer (here it sends the middle one) plus probes toward the top: each at most
  // Target(top) for kDurationMs, at most once per kBaseIntervalMs + kDurationMs.
  const double target = ProbeController::Target(kTop, kTop);
  const double bound_bps = target * ProbeController::kDurationMs /
                           static_cast<double>(ProbeController::kBaseIntervalMs + ProbeController::kDurationMs);
  std::mt19937 rng{11};
  const char* names[] = {"all lost", "loss bursts every 2.5 s", "loss bursts every 1.3 s", "random delays",
                         "compressed arrivals"};
  uint32_t probes = 0;
  for (int mode = 0; mode < 5; mode++) {
    test::LinkSim sim;
    sim.rate_bps = kMid;
    sim.capacity_bps = 50'000'000;
    sim.probe_target_bps = target;
    sim.forge = [&](std::vector<std::optional<int64_t>>& arr) {
      const int64_t ms = sim.now_us / 1000;
      const int64_t first = arr.front().value_or(0);
      // Loss bursts cut the estimate so that probes come due again as soon as they may.
      const bool burst = (mode == 1 && ms % 2500 < 600) || (mode == 2 && ms % 1300 < 300);
      for (auto& a : arr) {
        if (mode == 0 || burst) a.reset();
        else if (mode == 4) a = first;  // everything "arrived" at once
        else if (mode == 3 && a) a = *a + std::uniform_int_distribution<int64_t>(0, 200'000)(rng);
      }
      if (!arr.front()) arr.front() = first;  // a receiver reports up to a packet that arrived
    };
    sim.Run(60'000);
    const double padding_bps = sim.padding_bytes * 8.0 / 60.0;
    std::printf("  forged (%s): %u probes, padding %.0f bit/s on average (bound %.0f), estimate %llu\n", names[mode],
                sim.probes_started, padding_bps, bound_bps, static_cast<unsigned long long>(sim.bwe.estimate_bps()));
    // One tick of look-ahead per probe and one packet of rounding are the only slack.
    CHECK(padding_bps <= bound_bps * 1.1);
    probes += sim.probes_started;
  }
  CHECK(probes > 10);  // the forgeries did make the relay probe: the bound was exercised
}

}  // namespace halfsec
