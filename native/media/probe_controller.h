// When and how hard to probe one viewer's path before a step up (draft-ietf-rmcat-gcc-02 leaves
// probing to the sender; this follows the common practice of short padding clusters).
//
// A probe aims at what the viewer would step up to: the next layer's measured rate with room
// for the policy's headroom, plus audio (Target), never above what the stream's top layer needs
// the same way. While the estimate is known and below that, every so often padding is sent for
// kDurationMs so that media and padding together reach it, but never more than kMaxGain times
// the estimate (Aim): right after a cut the estimate sits well below the link, and a probe
// straight to the next layer from there (measured: 600 kbit/s link, estimate 320-420 kbit/s,
// next layer's need 1.03 Mbit/s) overfilled the shaper's queue and froze the picture more
// often than one bounded by what the path was last seen to carry. The estimator reports whether
// it held. A probe stops early as soon as the feedback
// shows it is not carried (a queue growing, loss, overuse: Abort), so a failed probe adds at
// most a feedback interval's excess to the path's queue. No probe while the path is overused
// or within kQuietAfterCutMs of a cut. A failed probe doubles the wait before the next one (up
// to kMaxIntervalMs), one that held resets it. Padding is paced by the worker's tick (20 ms),
// in packets of at most 255 padding octets.
//
// Bounds (what a viewer's own feedback, forged or not, can make the relay send it): media never
// exceeds the stream's top layer (the relay forwards, it does not encode); padding is at most
// Target(top layer) for kDurationMs, once per kBaseIntervalMs + kDurationMs at most, and never
// more than kMaxPadBps; all of a worker's viewers together share PaddingBudget.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace halfsec {

class ProbeController {
 public:
  // Long enough that a shaper's burst allowance (a few KB) cannot carry a whole probe, short
  // enough that a probe that fails adds only tens of ms to the queue.
  static constexpr int64_t kDurationMs = 250;
  static constexpr int64_t kBaseIntervalMs = 1000, kMaxIntervalMs = 4000, kQuietAfterCutMs = 2000;
  // What the policy needs before a step up is 1.2 x the next layer (ts/media/policy.ts
  // headroom); a probe aims a little above so that the estimate it leaves clears that.
  static constexpr double kLayerMargin = 1.3;
  static constexpr double kAudioAllowanceBps = 64'000;
  // The most a probe may ask of the path, as a multiple of its estimate.
  static constexpr double kMaxGain = 2.0;
  // Padding rate bounds (bit/s): below the floor a probe says nothing; the ceiling bounds what
  // a probe can cost a viewer's path whatever the stream.
  static constexpr double kMinPadBps = 80'000, kMaxPadBps = 4'000'000;

  // The total rate (media, padding, audio) a probe toward a layer of `layer_bps` aims at, with
  // the stream's top layer at `top_bps` (0: unknown, no bound from it): never beyond the top.
  static double Target(double layer_bps, double top_bps) {
    const double bps = top_bps > 0 ? std::min(layer_bps, top_bps) : layer_bps;
    return bps * kLayerMargin + kAudioAllowanceBps;
  }

  // What the next probe toward `target_bps` sends in all (media and padding): the target, or
  // kMaxGain x the estimate when that is lower (a probe that holds there raises the estimate,
  // and the next one reaches further).
  static double Aim(uint64_t estimate_bps, double target_bps) {
    return std::min(target_bps, kMaxGain * static_cast<double>(estimate_bps));
  }

  // True when a probe toward `target_bps` should start now; `last_cut_ms` and `overusing` from
  // the estimator.
  bool Due(int64_t now_ms, uint64_t estimate_bps, double target_bps, int64_t last_cut_ms = -1,
           bool overusing = false) const {
    if (active_ || estimate_bps == 0 || target_bps <= static_cast<double>(estimate_bps)) return false;
    if (overusing || (last_cut_ms >= 0 && now_ms - last_cut_ms < kQuietAfterCutMs)) return false;
    return now_ms >= next_ms_;
  }
  // Starts a probe whose padding fills the gap between `target_bps` and the media the viewer
  // acknowledged (`media_bps`), never more than `target_bps` itself (feedback claiming no media
  // arrived cannot raise it past the target) nor kMaxPadBps.
  void Start(int64_t now_ms, double target_bps, double media_bps, int cluster) {
    active_ = true;
    start_ms_ = now_ms;
    const double gap = target_bps - std::max(0.0, media_bps);
    pad_bps_ = std::min({std::max(gap, kMinPadBps), std::max(target_bps, kMinPadBps), kMaxPadBps});
    sent_bytes_ = 0;
    packets_ = 0;
    cluster_ = cluster;
  }
  bool active() const { return active_; }
  int cluster() const { return cluster_; }
  double pad_bps() const { return pad_bps_; }
  uint32_t packets() const { return packets_; }
  // Padding bytes owed at `now_ms` (the rate times the time since the start, bounded by the
  // probe's length) minus what was sent; 0 once it is over.
  uint64_t Owed(int64_t now_ms) const {
    if (!active_) return 0;
    const int64_t t = std::min(now_ms - start_ms_ + 20, kDurationMs);  // one tick ahead
    const double due = pad_bps_ * static_cast<double>(t) / 8000.0;
    return due > static_cast<double>(sent_bytes_) ? static_cast<uint64_t>(due) - sent_bytes_ : 0;
  }
  void Sent(uint64_t bytes) {
    sent_bytes_ += bytes;
    packets_++;
  }
  // True once the probe's time is up (it stops being active).
  bool Finish(int64_t now_ms) {
    if (!active_ || now_ms - start_ms_ < kDurationMs) return false;
    active_ = false;
    next_ms_ = now_ms + interval_ms_;  // a result (or its absence) comes before then
    return true;
  }
  // Stops the probe now: the feedback already shows the path does not carry it. The outcome
  // (failed) still comes from the estimator.
  void Abort(int64_t now_ms) {
    if (!active_) return;
    active_ = false;
    aborted_++;
    next_ms_ = now_ms + interval_ms_;
  }
  uint32_t aborted() const { return aborted_; }
  int64_t interval_ms() const { return interval_ms_; }
  void OnOutcome(int outcome, int64_t now_ms) {
    if (outcome > 0) {
      interval_ms_ = kBaseIntervalMs;
    } else if (outcome < 0) {
      interval_ms_ = std::min(interval_ms_ * 2, kMaxIntervalMs);
    }
    if (outcome != 0) next_ms_ = now_ms + interval_ms_;
  }

 private:
  bool active_ = false;
  int64_t start_ms_ = 0, next_ms_ = 0, interval_ms_ = kBaseIntervalMs;
  double pad_bps_ = 0;
  uint64_t sent_bytes_ = 0;
  uint32_t packets_ = 0, aborted_ = 0;
  int cluster_ = -1;
};

// Probe padding one worker sends all its viewers together, bytes per second with a burst of
// one tick's worth: each viewer's probes are bounded (ProbeController), but hundreds of viewers
// of one worker probing at once (after a shared link recovers, or sessions whose feedback keeps
// their estimates just below the next layer) would add up to more than the media they carry.
// A probe that finds the budget spent sends less and is judged failed: it backs off.
class PaddingBudget {
 public:
  static constexpr double kBytesPerSecond = 100e6 / 8;  // 100 Mbit/s
  static constexpr int64_t kBurstMs = 20;               // one worker tick

  // True (and `bytes` spent) when the budget holds them at `now_ms`.
  bool Take(int64_t now_ms, size_t bytes) {
    const double cap = kBytesPerSecond * kBurstMs / 1000.0;
    if (last_ms_ < 0) tokens_ = cap;
    else if (now_ms > last_ms_) tokens_ = std::min(cap, tokens_ + static_cast<double>(now_ms - last_ms_) * kBytesPerSecond / 1000.0);
    last_ms_ = std::max(last_ms_, now_ms);
    if (tokens_ < static_cast<double>(bytes)) return false;
    tokens_ -= static_cast<double>(bytes);
    return true;
  }

 private:
  double tokens_ = 0;
  int64_t last_ms_ = -1;
};

}  // namespace halfsec
