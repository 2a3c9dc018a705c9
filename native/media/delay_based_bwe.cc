#include "media/delay_based_bwe.h"

#include <algorithm>
#include <cmath>

namespace halfsec {

// ---------------------------------------------------------------- InterArrival

bool InterArrival::Add(int64_t send_us, int64_t arrival_us, double* send_delta_ms, double* arrival_delta_ms,
                       int64_t* arrival_ms) {
  if (!cur_.valid) {
    cur_ = {true, send_us, send_us, arrival_us, arrival_us};
    return false;
  }
  if (send_us < cur_.first_send) return false;  // sent before the group: reordered, ignored
  const bool same_burst = send_us - cur_.first_send <= kBurstUs;
  // Packets that queued somewhere and arrive back to back (less than a burst apart, and
  // sooner after the previous one than they were sent) belong to the group they queued behind.
  const int64_t arrival_gap = arrival_us - cur_.last_arrival;
  const bool queued_behind = arrival_gap >= 0 && arrival_gap < kBurstUs && arrival_gap - (send_us - cur_.last_send) < 0;
  if (same_burst || queued_behind) {
    cur_.last_send = std::max(cur_.last_send, send_us);
    cur_.last_arrival = std::max(cur_.last_arrival, arrival_us);
    return false;
  }
  bool out = false;
  if (prev_.valid) {
    const int64_t sd = cur_.last_send - prev_.last_send;
    const int64_t ad = cur_.last_arrival - prev_.last_arrival;
    // A negative arrival delta is reordering between groups; a gap of seconds is a pause or a
    // receiver clock jump: neither says anything about queues.
    if (ad >= 0 && ad < 3'000'000 && sd < 3'000'000) {
      *send_delta_ms = sd / 1000.0;
      *arrival_delta_ms = ad / 1000.0;
      *arrival_ms = cur_.last_arrival / 1000;
      out = true;
    }
  }
  prev_ = cur_;
  cur_ = {true, send_us, send_us, arrival_us, arrival_us};
  return out;
}

// ---------------------------------------------------------------- TrendlineFilter

namespace {
constexpr double kSmoothing = 0.9;
constexpr double kTrendGain = 4.0;
constexpr int kMaxDeltasForGain = 60;
}  // namespace

void TrendlineFilter::Update(double send_delta_ms, double arrival_delta_ms, int64_t arrival_ms) {
  deltas_ = std::min(deltas_ + 1, 1000);
  if (first_ms_ < 0) first_ms_ = arrival_ms;
  accumulated_ += arrival_delta_ms - send_delta_ms;
  smoothed_ = kSmoothing * smoothed_ + (1 - kSmoothing) * accumulated_;
  xs_[next_] = static_cast<double>(arrival_ms - first_ms_);
  ys_[next_] = smoothed_;
  next_ = (next_ + 1) % kWindow;
  count_ = std::min(count_ + 1, kWindow);
  if (count_ == kWindow) {
    double xm = 0, ym = 0;
    for (int i = 0; i < kWindow; i++) {
      xm += xs_[i];
      ym += ys_[i];
    }
    xm /= kWindow;
    ym /= kWindow;
    double num = 0, den = 0;
    for (int i = 0; i < kWindow; i++) {
      num += (xs_[i] - xm) * (ys_[i] - ym);
      den += (xs_[i] - xm) * (xs_[i] - xm);
    }
    if (den > 0) slope_ = num / den;
  }
  modified_ = std::min(deltas_, kMaxDeltasForGain) * slope_ * kTrendGain;
}

// ---------------------------------------------------------------- OveruseDetector

namespace {
constexpr double kOverusingTimeMs = 10;
constexpr double kUp = 0.0087, kDown = 0.039;  // threshold adaptation gains (per ms)
constexpr double kMaxAdaptStepMs = 100;
}  // namespace

BandwidthUsage OveruseDetector::Detect(double m, double dt_ms, int deltas, int64_t now_ms) {
  if (deltas < 2) {
    state_ = BandwidthUsage::kNormal;
    return state_;
  }
  if (m > threshold_) {
    // §5.4: overuse once the trend stayed above the threshold for overuse_time_th and is not
    // already falling.
    time_over_ms_ = time_over_ms_ < 0 ? dt_ms / 2 : time_over_ms_ + dt_ms;
    over_count_++;
    if (time_over_ms_ > kOverusingTimeMs && over_count_ > 1 && m >= prev_m_) {
      time_over_ms_ = 0;
      over_count_ = 0;
      state_ = BandwidthUsage::kOverusing;
    }
  } else if (m < -threshold_) {
    time_over_ms_ = -1;
    over_count_ = 0;
    state_ = BandwidthUsage::kUnderusing;
  } else {
    time_over_ms_ = -1;
    over_count_ = 0;
    state_ = BandwidthUsage::kNormal;
  }
  prev_m_ = m;
  Adapt(m, now_ms);
  return state_;
}

void OveruseDetector::Adapt(double m, int64_t now_ms) {
  if (last_adapt_ms_ < 0) last_adapt_ms_ = now_ms;
  const double am = std::fabs(m);
  // A spike far above the threshold (a keyframe, a route change) does not drag it up.
  if (am > threshold_ + 15) {
    last_adapt_ms_ = now_ms;
    return;
  }
  const double k = am < threshold_ ? kDown : kUp;
  const double dt = std::min<double>(static_cast<double>(now_ms - last_adapt_ms_), kMaxAdaptStepMs);
  threshold_ += k * (am - threshold_) * dt;
  threshold_ = std::clamp(threshold_, 6.0, 600.0);
  last_adapt_ms_ = now_ms;
}

// ---------------------------------------------------------------- AimdRateControl

void AimdRateControl::Update(BandwidthUsage usage, double acked_bps, int64_t now_ms) {
  // §5.5 state transitions.
  switch (usage) {
    case BandwidthUsage::kOverusing:
      state_ = State::kDecrease;
      break;
    case BandwidthUsage::kUnderusing:
      state_ = State::kHold;
      break;
    case BandwidthUsage::kNormal:
      if (state_ == State::kHold) state_ = State::kIncrease;
      else if (state_ == State::kDecrease) state_ = State::kHold;
      break;
  }
  const double dt_ms = last_ms_ < 0 ? 0 : static_cast<double>(std::min<int64_t>(now_ms - last_ms_, 1000));
  last_ms_ = now_ms;
  // §5.5 keeps the congestion point's variance normalized by its mean, in kbit/s.
  const double std_max = avg_max_ < 0 ? 0 : std::sqrt(var_max_ * std::max(avg_max_ / 1000, 1.0)) * 1000;
  if (avg_max_ >= 0 && acked_bps > avg_max_ + 3 * std_max) avg_max_ = -1;  // far from the old congestion point
  if (state_ == State::kIncrease) {
    double next;
    const bool near_max = avg_max_ >= 0 && rate_ < avg_max_ + 3 * std_max && rate_ > avg_max_ - 3 * std_max;
    if (near_max) {
      // Additive: about half a packet per response time.
      const double response_ms = 100 + rtt_ms_;
      const double alpha = 0.5 * std::min(dt_ms / response_ms, 1.0);
      next = rate_ + std::max(1000.0, alpha * 1200 * 8);
    } else {
      next = rate_ * std::pow(1.08, std::min(dt_ms / 1000.0, 1.0));
    }
    // Never far above what the viewer has shown it receives: an estimate must be earned.
    const double limit = 1.5 * acked_bps + 10'000;
    if (next > limit) next = std::max(rate_, limit);
    rate_ = next;
  } else if (state_ == State::kDecrease) {
    // At most once per round trip (a queue takes that long to show a decrease worked), and to
    // no less than half the rate at once: what arrived in the last 500 ms dips when a queue
    // drops a burst, and one dip must not take the estimate to the floor.
    const double wait_ms = std::max(200.0, rtt_ms_);
    if (now_ms - last_decrease_ms_ >= wait_ms) {
      const double next = std::max(kBeta * acked_bps, 0.5 * rate_);
      if (next < rate_ || rate_ <= 0) rate_ = next;
      // Normalized variance of the congestion point (§5.5).
      if (avg_max_ < 0) {
        avg_max_ = acked_bps;
      } else {
        const double a = 0.05;
        const double err_kbps = (avg_max_ - acked_bps) / 1000;
        var_max_ = (1 - a) * var_max_ + a * err_kbps * err_kbps / std::max(avg_max_ / 1000, 1.0);
        var_max_ = std::clamp(var_max_, 0.4, 2.5);
        avg_max_ = (1 - a) * avg_max_ + a * acked_bps;
      }
      last_decrease_ms_ = now_ms;
    }
    state_ = State::kHold;
  }
  rate_ = std::max(rate_, kMinBps);
}

}  // namespace halfsec
