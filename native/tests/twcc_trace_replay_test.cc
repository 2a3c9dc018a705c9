// The estimator on RECORDED transport-cc traces (native/tests/traces/README.md): what the relay
// sent a headless Chromium viewer and the feedback Chromium returned, through the real reader,
// matcher and estimator (tests/twcc_trace.h). Assertions are on the estimate's direction and
// bounds, loose enough for changes to probing (the replay drives the estimator, not the probe
// controller) yet each fails on an estimator that moves the wrong way.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>

#include "tests/check.h"
#include "tests/twcc_trace.h"

namespace halfsec {

std::string test::TracePath(const char* name) {
  char exe[PATH_MAX] = {};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string("./x");
  for (int i = 0; i < 3 && dir.rfind('/') != std::string::npos; i++) dir.resize(dir.rfind('/'));
  return dir + "/native/tests/traces/" + name + ".txt.gz";
}

namespace {
constexpr int64_t kS = 1'000'000;

// Before any limit: an estimate, when there is one, is not below what the link carried.
int BelowSent(const test::TraceReplay& r, int64_t from, int64_t to) {
  int below = 0;
  for (const auto& s : r.samples) {
    if (s.us >= from && s.us < to && s.estimate != 0 && s.estimate < 0.9 * s.sent_bps) below++;
  }
  return below;
}

test::TraceReplay Load(const char* name) {
  test::TraceReplay r = test::ReplayTrace(test::TracePath(name));
  CHECK(r.ok);
  if (r.ok) r.Print(name);
  // The trace is real and the reader understood it: every feedback parsed and matched sends.
  CHECK(r.feedbacks > 20);
  CHECK_EQ(r.parse_failures, 0);
  CHECK(r.matched > r.sends / 2);
  return r;
}
}  // namespace

TEST(RecordedSteadyLinkNeverEstimatesBelowWhatItCarries) {
  const test::TraceReplay r = Load("steady");
  if (!r.ok) return;
  CHECK_EQ(BelowSent(r, kS, r.end_us + 1), 0);  // from 1 s: the sent-rate window is full
  // An open path builds no queue: the delay-based detector never signals overuse.
  CHECK(r.FirstOveruse(0, r.end_us + 1) < 0);
  // What the viewer acknowledged is what was sent: the replay matched real feedback.
  const auto& last = r.samples.back();
  CHECK(last.acked_bps > 0.7 * last.sent_bps && last.acked_bps < 1.3 * last.sent_bps);
}

TEST(RecordedStepDownFallsNearTheLinkAndStaysAboveAFloor) {
  const test::TraceReplay r = Load("step-down");
  if (!r.ok || !r.marks.count("limit")) {
    CHECK(r.marks.count("limit"));
    return;
  }
  const int64_t limit = r.marks.at("limit");
  const double kLinkBps = r.link_bps;  // the tbf rate the trace was recorded behind
  CHECK(kLinkBps > 0);
  CHECK(r.MeanSent(kS, limit) > 2 * kLinkBps);  // the viewer was sending well above the link
  CHECK_EQ(BelowSent(r, kS, limit), 0);
  int64_t near_at = -1;
  for (const auto& s : r.samples) {
    if (s.us >= limit && s.estimate > 0 && s.estimate <= 1.5 * kLinkBps) {
      near_at = s.us;
      break;
    }
  }
  const int64_t overuse_at = r.FirstOveruse(limit, r.end_us + 1);
  std::printf("  step down: estimate within 1.5x the link %.2f s after the limit; first overuse %.2f s after; loss-based %.0f at the end\n",
              (near_at - limit) / 1e6, (overuse_at - limit) / 1e6, r.samples.back().loss_based);
  // The delay-based part sees the queue the tbf builds (not only the loss when it overflows).
  CHECK(overuse_at >= limit && overuse_at - limit <= 4 * kS);
  CHECK(r.FirstOveruse(0, limit) < 0);
  // ...and signals it while the queue grows, not as it drains.
  if (overuse_at >= 0) {
    const double q = r.At(overuse_at).queue_ms, q_before = r.At(overuse_at - 300'000).queue_ms;
    std::printf("  step down: queue %.1f ms at the first overuse, %.1f ms 300 ms before\n", q, q_before);
    CHECK(q > q_before + 5);
  }
  CHECK(near_at >= limit && near_at - limit <= 4 * kS);
  // Never collapsing once known, and near the link at the end.
  CHECK(r.MinKnownEstimate(limit, r.end_us + 1) >= 0.25 * kLinkBps);
  const uint64_t end = r.samples.back().estimate;
  CHECK(end >= 0.3 * kLinkBps && end <= 1.5 * kLinkBps);
  // Each part on its own: the delay-based rate came down to the link too (the queue, not only
  // the tbf's drops, told it), and the loss-based part cut.
  std::printf("  step down: delay-based %.0f, loss-based %.0f at the end\n", r.samples.back().delay_based, r.samples.back().loss_based);
  CHECK(r.samples.back().delay_based <= 2 * kLinkBps);
  CHECK(r.samples.back().loss_based > 0 && r.samples.back().loss_based <= 2 * kLinkBps);
}

TEST(RecordedStepUpRisesAfterTheLimitIsLifted) {
  const test::TraceReplay r = Load("step-up");
  if (!r.ok || !r.marks.count("lift")) {
    CHECK(r.marks.count("lift"));
    return;
  }
  const int64_t lift = r.marks.at("lift");
  const double kLinkBps = r.link_bps;
  CHECK(kLinkBps > 0);
  const uint64_t at_lift = r.At(lift).estimate;
  const uint64_t top = r.MaxEstimate(lift, r.end_us + 1);
  std::printf("  step up: %llu bit/s at the lift, up to %llu after; sent %.0f before, %.0f over the last 2 s\n",
              static_cast<unsigned long long>(at_lift), static_cast<unsigned long long>(top), r.MeanSent(lift - 2 * kS, lift),
              r.MeanSent(r.end_us - 2 * kS, r.end_us + 1));
  // Limited: known and near the link when the limit goes.
  CHECK(at_lift > 0 && at_lift <= 1.5 * kLinkBps);
  CHECK(r.MinKnownEstimate(2 * kS, r.end_us + 1) >= 0.25 * kLinkBps);
  // Lifted: the estimate climbs well past the old link (through the probes the trace holds and
  // the delay-based increase), and nothing after the lift cuts it back below where it was.
  CHECK(top >= 2 * at_lift);
  // The probes' verdicts match the path: none holds while it is limited (each probes above the
  // link), and one holds once it is open.
  std::printf("  step up: probes held/failed while limited %d/%d, after the lift %d/%d\n", r.Probes(0, lift, 1),
              r.Probes(0, lift, -1), r.Probes(lift, r.end_us + 1, 1), r.Probes(lift, r.end_us + 1, -1));
  CHECK_EQ(r.Probes(0, lift, 1), 0);
  CHECK(r.Probes(lift, r.end_us + 1, 1) >= 1);
  // A probe that held lifts the estimate at once (the replay holds what the recording probed).
  for (size_t i = 1; i < r.samples.size(); i++) {
    if (r.samples[i].us < lift || r.samples[i].probe_outcome != 1) continue;
    std::printf("  step up: first held probe %.2f s after the lift: %llu -> %llu bit/s\n", (r.samples[i].us - lift) / 1e6,
                static_cast<unsigned long long>(r.samples[i - 1].estimate), static_cast<unsigned long long>(r.samples[i].estimate));
    CHECK(r.samples[i].estimate >= 1.2 * r.samples[i - 1].estimate);
    break;
  }
  CHECK(r.MinKnownEstimate(lift + kS, r.end_us + 1) >= 0.8 * at_lift);
}

TEST(RecordedBurstyLossCutsThenRecovers) {
  const test::TraceReplay r = Load("bursty-loss");
  if (!r.ok || !r.marks.count("lossOn") || !r.marks.count("lossOff")) {
    CHECK(r.marks.count("lossOff"));
    return;
  }
  const int64_t on = r.marks.at("lossOn"), off = r.marks.at("lossOff");
  const double before = r.MeanSent(on - kS, on);
  CHECK_EQ(BelowSent(r, kS, on), 0);
  // Cut: during the bursts the estimate (unknown before) falls well below what the relay sends...
  uint64_t low = UINT64_MAX;
  bool cut = false;
  for (const auto& s : r.samples) {
    if (s.us < on || s.us >= off + kS || s.estimate == 0) continue;
    low = std::min(low, s.estimate);
    if (s.estimate < 0.8 * s.sent_bps) cut = true;
  }
  const uint64_t end = r.samples.back().estimate;
  const double sent_end = r.MeanSent(r.end_us - 2 * kS, r.end_us + 1);
  std::printf("  bursty loss: sent %.0f before, lowest %llu during, %llu at the end (sent %.0f)\n", before,
              static_cast<unsigned long long>(low), static_cast<unsigned long long>(end), sent_end);
  CHECK(cut);
  // The loss-based part is what cut: the bursts add no queueing delay.
  double loss_low = -1;
  for (const auto& s : r.samples)
    if (s.us >= on && s.us < off + kS && s.loss_based > 0 && (loss_low < 0 || s.loss_based < loss_low)) loss_low = s.loss_based;
  CHECK(loss_low > 0 && loss_low < 0.8 * before);
  // ...but not to nothing.
  CHECK(low != UINT64_MAX && low >= 0.15 * before);
  // Recovers once the bursts stop: well above the cut, not below what is sent.
  CHECK(end >= 1.3 * low);
  CHECK(end >= 0.9 * sent_end);
}
}  // namespace halfsec
