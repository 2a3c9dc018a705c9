#include "media/bandwidth_estimator.h"

#include <algorithm>

namespace halfsec {

namespace {
// §6: loss above 10 % cuts, below 2 % grows, between holds; the loss is measured over windows
// of at least this many packets and this long, so one feedback's handful does not decide.
constexpr uint32_t kLossWindowPackets = 40;
constexpr int64_t kLossWindowMs = 500;
constexpr double kLossCut = 0.10, kLossGrow = 0.02;
// A probe holds when its padding arrived at nearly the paced rate, with little loss and no
// overuse signal while it was in flight.
constexpr double kProbeHeldRatio = 0.9;
constexpr uint32_t kProbeMinPackets = 5;
constexpr int64_t kProbeReportTimeoutMs = 1000;
// A queue that grew by this much while the probe passed means the path did not carry it, even
// when a shaper's burst allowance let the bytes through at the paced rate.
constexpr int64_t kProbeMaxQueueGrowthUs = 15'000;
}  // namespace

void BandwidthEstimator::RateWindow::Add(int64_t arrival_us, size_t bytes) {
  const int64_t bin = arrival_us / kBinUs;
  if (first_us_ < 0) first_us_ = arrival_us;
  if (newest_ >= 0 && bin <= newest_ - kBins) return;  // older than the window
  if (bin > newest_) newest_ = bin;
  if (arrival_us > last_us_) last_us_ = arrival_us;
  const int slot = static_cast<int>(((bin % kBins) + kBins) % kBins);
  if (bin_of_[slot] != bin) {
    bin_of_[slot] = bin;
    bytes_[slot] = 0;
  }
  bytes_[slot] += bytes;
}

double BandwidthEstimator::RateWindow::rate() const {
  if (newest_ < 0) return 0;
  uint64_t sum = 0;
  for (int i = 0; i < kBins; i++) {
    if (bin_of_[i] > newest_ - kBins && bin_of_[i] <= newest_) sum += bytes_[i];
  }
  // Over the whole window once it is full; over what was seen before that.
  const double span_us = std::min<double>(kBins * kBinUs, std::max<double>(static_cast<double>(last_us_ - first_us_), kBinUs));
  return sum * 8.0 * 1e6 / span_us;
}

void BandwidthEstimator::OnFeedback(const PacketResult* r, size_t n, int64_t now_ms) {
  BandwidthUsage usage = detector_.state();
  for (size_t i = 0; i < n; i++) {
    const PacketResult& p = r[i];
    const bool in_cluster = !cluster_.done && p.probe >= 0 && p.probe == cluster_.id;
    if (in_cluster) cluster_.reported++;
    if (!p.received) {
      if (in_cluster) cluster_.lost++;
      window_lost_++;
      taken_lost_++;
      continue;
    }
    window_received_++;
    taken_received_++;
    acked_.Add(p.arrival_us, p.size);
    if (p.probe < 0) media_acked_.Add(p.arrival_us, p.size);
    if (in_cluster) {
      if (cluster_.received == 0 || p.arrival_us < cluster_.first_arrival) {
        cluster_.first_arrival = p.arrival_us;
        cluster_.first_arrival_size = p.size;
      }
      if (cluster_.received == 0 || p.arrival_us > cluster_.last_arrival) cluster_.last_arrival = p.arrival_us;
      cluster_.bytes += p.size;
      const int64_t delay = p.arrival_us - p.send_us;
      if (cluster_.received == 0 || delay < cluster_.min_delay) cluster_.min_delay = delay;
      if (cluster_.received == 0 || p.send_us >= cluster_.last_send) {
        cluster_.last_send = p.send_us;
        cluster_.last_delay = delay;
      }
      cluster_.received++;
    }
    double sd, ad;
    int64_t arrival_ms;
    if (groups_.Add(p.send_us, p.arrival_us, &sd, &ad, &arrival_ms)) {
      trend_.Update(sd, ad, arrival_ms);
      usage = detector_.Detect(trend_.modified_trend(), sd, trend_.deltas(), now_ms);
      if (usage == BandwidthUsage::kOverusing && !cluster_.done) cluster_.overuse = true;
    }
    last_send_us_ = p.send_us;
  }
  const double acked = acked_.rate();
  if (!known_) aimd_.SetRate(1.5 * acked + 10'000);  // tracks what is carried until a limit shows
  aimd_.Update(usage, acked, now_ms);
  if (aimd_.last_decrease_ms() == now_ms) {
    known_ = true;
    last_cut_ms_ = now_ms;
  }
  LossBased(now_ms);
  EvaluateProbe(now_ms);
}

void BandwidthEstimator::LossBased(int64_t now_ms) {
  if (window_start_ms_ < 0) window_start_ms_ = now_ms;
  const uint32_t total = window_received_ + window_lost_;
  if (total < kLossWindowPackets || now_ms - window_start_ms_ < kLossWindowMs) return;
  const double loss = static_cast<double>(window_lost_) / total;
  const double acked = acked_.rate();
  if (loss > kLossCut) {
    // §6 scales the sending rate, which an encoder then follows. The relay's sending rate is
    // the layer's and does not follow, so the cut applies to what arrived instead: repeated
    // cuts under steady loss settle near the throughput rather than compounding to nothing.
    // At most halved per window, like the delay-based decrease.
    const double cut = acked * (1 - 0.5 * loss);
    loss_bps_ = std::max(AimdRateControl::kMinBps, loss_bps_ < 0 ? cut : std::max(cut, 0.5 * loss_bps_));
    known_ = true;
    last_cut_ms_ = now_ms;
  } else if (loss < kLossGrow && loss_bps_ >= 0) {
    const double limit = 1.5 * acked + 10'000;
    const double next = loss_bps_ * 1.05;
    loss_bps_ = next > limit ? std::max(loss_bps_, limit) : next;
  }
  window_received_ = window_lost_ = 0;
  window_start_ms_ = now_ms;
}

uint64_t BandwidthEstimator::estimate_bps() const {
  if (!known_) return 0;
  double e = aimd_.rate();
  if (loss_bps_ >= 0) e = std::min(e, loss_bps_);
  return static_cast<uint64_t>(e);
}

double BandwidthEstimator::TakeLoss() {
  const uint32_t total = taken_received_ + taken_lost_;
  const double loss = total ? static_cast<double>(taken_lost_) / total : 0;
  taken_received_ = taken_lost_ = 0;
  return loss;
}

int BandwidthEstimator::BeginProbe(int64_t now_ms) {
  cluster_ = Cluster{};
  cluster_.id = next_cluster_;
  next_cluster_ = (next_cluster_ + 1) % 100;
  cluster_.done = false;
  cluster_.end_ms = now_ms + 60'000;  // until EndProbe says when
  cluster_.media_bps = media_acked_.rate();
  outcome_ = 0;
  return cluster_.id;
}

bool BandwidthEstimator::ProbeFailing() const {
  if (cluster_.done) return false;
  if (cluster_.overuse) return true;
  if (cluster_.received > 0 && cluster_.last_delay - cluster_.min_delay > kProbeMaxQueueGrowthUs) return true;
  return cluster_.reported >= kProbeMinPackets && cluster_.lost * 10 > cluster_.reported;
}

void BandwidthEstimator::EndProbe(int id, uint32_t packets, double paced_bps, int64_t now_ms, bool aborted) {
  if (cluster_.done || cluster_.id != id) return;
  cluster_.aborted = aborted;
  cluster_.expected = packets;
  cluster_.paced_bps = paced_bps;
  cluster_.end_ms = now_ms;
  if (aborted) EvaluateProbe(now_ms);
}

void BandwidthEstimator::EvaluateProbe(int64_t now_ms) {
  if (cluster_.done || (cluster_.expected == 0 && !cluster_.aborted)) return;
  // An aborted cluster is decided at once: nothing that arrives later can make it hold.
  const bool all_reported = cluster_.aborted || cluster_.reported >= cluster_.expected;
  if (!all_reported && now_ms - cluster_.end_ms < kProbeReportTimeoutMs) return;
  cluster_.done = true;
  const int64_t span_us = cluster_.last_arrival - cluster_.first_arrival;
  bool held = !cluster_.aborted && cluster_.received >= kProbeMinPackets && span_us > 0 && !cluster_.overuse &&
              cluster_.received * 10 >= cluster_.expected * 9 &&
              cluster_.last_delay - cluster_.min_delay <= kProbeMaxQueueGrowthUs;
  double recv_bps = 0;
  if (held) {
    recv_bps = (cluster_.bytes - cluster_.first_arrival_size) * 8.0 * 1e6 / static_cast<double>(span_us);
    held = recv_bps >= kProbeHeldRatio * cluster_.paced_bps;
  }
  outcome_ = held ? 1 : -1;
  if (!held) return;
  // The path carried the media and the padding together.
  const double carried = cluster_.media_bps + std::min(recv_bps, cluster_.paced_bps);
  aimd_.RaiseTo(carried);
  if (loss_bps_ >= 0 && loss_bps_ < carried) loss_bps_ = carried;
}

int BandwidthEstimator::TakeProbeOutcome() {
  const int o = outcome_;
  outcome_ = 0;
  return o;
}

}  // namespace halfsec
