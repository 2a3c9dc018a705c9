// The delay-based half of a viewer's bandwidth estimate, after the design published in
// draft-ietf-rmcat-gcc-02 §5 (Google Congestion Control), written for the relay: the relay does
// not encode, it forwards, so the estimate steers which layer a viewer gets, not an encoder.
//
//  - InterArrival (§5.2): packets sent within 5 ms form a group; the change in one-way delay
//    between consecutive groups is d(i) = (t_i - t_{i-1}) - (T_i - T_{i-1}), arrival minus send.
//  - TrendlineFilter (the slope of the accumulated, smoothed d(i) over a window of groups, in
//    place of §5.3's Kalman filter: same input, same output role, fewer tuning constants).
//  - OveruseDetector (§5.4): the trend against an adaptive threshold del_var_th.
//  - AimdRateControl (§5.5): Increase / Hold / Decrease, multiplicative increase far from the
//    last congestion point, additive near it, decrease to beta times the received rate.
// Times are in µs (packets) or ms (filters); rates in bit/s. One thread owns each instance.
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

enum class BandwidthUsage : uint8_t { kNormal, kUnderusing, kOverusing };

class InterArrival {
 public:
  static constexpr int64_t kBurstUs = 5000;

  // Feeds one received packet, in send order. True when a group completed: the deltas between
  // it and the group before it are written (ms), with the completed group's last arrival.
  bool Add(int64_t send_us, int64_t arrival_us, double* send_delta_ms, double* arrival_delta_ms,
           int64_t* arrival_ms);
  void Reset() { cur_.valid = prev_.valid = false; }

 private:
  struct Group {
    bool valid = false;
    int64_t first_send = 0, last_send = 0, first_arrival = 0, last_arrival = 0;
  };
  Group cur_, prev_;
};

class TrendlineFilter {
 public:
  static constexpr int kWindow = 20;

  void Update(double send_delta_ms, double arrival_delta_ms, int64_t arrival_ms);
  // The trend scaled as libwebrtc-style detectors expect: slope * min(deltas, 60) * gain.
  double modified_trend() const { return modified_; }
  double slope() const { return slope_; }
  int deltas() const { return deltas_; }

 private:
  double accumulated_ = 0, smoothed_ = 0, slope_ = 0, modified_ = 0;
  int deltas_ = 0;
  int64_t first_ms_ = -1;
  double xs_[kWindow] = {}, ys_[kWindow] = {};
  int count_ = 0, next_ = 0;
};

class OveruseDetector {
 public:
  // One group's modified trend `m`; `dt_ms` the send time between the groups.
  BandwidthUsage Detect(double m, double dt_ms, int deltas, int64_t now_ms);
  double threshold() const { return threshold_; }
  BandwidthUsage state() const { return state_; }

 private:
  void Adapt(double m, int64_t now_ms);
  double threshold_ = 12.5;
  double time_over_ms_ = -1;
  int over_count_ = 0;
  double prev_m_ = 0;
  int64_t last_adapt_ms_ = -1;
  BandwidthUsage state_ = BandwidthUsage::kNormal;
};

class AimdRateControl {
 public:
  enum class State : uint8_t { kHold, kIncrease, kDecrease };

  // Starts at `bps` (a first estimate, e.g. the throughput measured before any congestion).
  void SetRate(double bps) { rate_ = bps; }
  // One detector output with the throughput the viewer acknowledged (bit/s) at `now_ms`.
  void Update(BandwidthUsage usage, double acked_bps, int64_t now_ms);
  // A probe showed the path carries `bps`: the estimate takes it when it is higher.
  void RaiseTo(double bps) {
    if (bps > rate_) rate_ = bps;
  }
  void set_rtt_ms(double rtt) { rtt_ms_ = rtt; }
  double rate() const { return rate_; }
  State state() const { return state_; }
  int64_t last_decrease_ms() const { return last_decrease_ms_; }

  static constexpr double kBeta = 0.85;
  static constexpr double kMinBps = 50'000;

 private:
  double rate_ = 0;
  State state_ = State::kHold;
  int64_t last_ms_ = -1, last_decrease_ms_ = -1'000'000;
  double rtt_ms_ = 100;
  // Exponential average and variance (normalized) of the throughput at congestion (§5.5).
  double avg_max_ = -1, var_max_ = 0.4;
};

}  // namespace halfsec
