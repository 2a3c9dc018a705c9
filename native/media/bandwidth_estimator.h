// One viewer's bandwidth estimate from its transport-cc feedback: the delay-based part
// (media/delay_based_bwe.h) and the loss-based part of draft-ietf-rmcat-gcc-02 §6, their
// minimum, raised by probes that held (media/probe_controller.h). Rates in bit/s.
//
// The relay forwards what the publisher encodes and cannot slow a layer down, so until the
// path shows a limit (a delay-based decrease, loss above 10 %) the estimate is unknown (0):
// the layer policy then has nothing to act on, rather than an estimate that only echoes what
// it happens to be sending. One thread owns each instance.
#pragma once
#include <cstddef>
#include <cstdint>

#include "media/delay_based_bwe.h"
#include "media/send_history.h"

namespace halfsec {

class BandwidthEstimator {
 public:
  // One feedback's packets, in transport-wide sequence order; `now_ms` on the relay's clock.
  void OnFeedback(const PacketResult* r, size_t n, int64_t now_ms);
  void set_rtt_ms(double rtt) { aimd_.set_rtt_ms(rtt); }

  // Probing: a cluster begins (its id goes on each probe packet's history entry) and ends
  // with the number of packets and the padding rate it was paced at.
  int BeginProbe(int64_t now_ms);
  // `aborted`: the sender stopped it early (ProbeFailing), so it failed whatever comes after.
  void EndProbe(int id, uint32_t packets, double paced_bps, int64_t now_ms, bool aborted = false);
  // True while the current cluster's feedback already shows the path does not carry it: the
  // queue grew by more than a probe may add, its packets were lost, or overuse was signalled.
  // The sender stops padding at once instead of finishing the cluster.
  bool ProbeFailing() const;
  // The latest cluster's outcome once the feedback reported it: +1 held, -1 failed, 0 none
  // (pending or already taken).
  int TakeProbeOutcome();

  // The estimate, 0 while unknown.
  uint64_t estimate_bps() const;
  // What the viewer acknowledged over the last ~500 ms, all packets / media only.
  double acked_bps() const { return acked_.rate(); }
  double media_acked_bps() const { return media_acked_.rate(); }
  double delay_based_bps() const { return aimd_.rate(); }
  double loss_based_bps() const { return loss_bps_; }
  BandwidthUsage usage() const { return detector_.state(); }
  bool known() const { return known_; }
  // When the estimate was last cut (a delay-based decrease or a loss-based cut), -1 never: a
  // path that just showed its limit is not probed again at once.
  int64_t last_cut_ms() const { return last_cut_ms_; }
  // Fraction of packets the feedback reported lost since the previous call.
  double TakeLoss();

 private:
  // Received bytes per 50 ms of arrival time over the last 500 ms.
  class RateWindow {
   public:
    void Add(int64_t arrival_us, size_t bytes);
    double rate() const;

   private:
    static constexpr int kBins = 10;
    static constexpr int64_t kBinUs = 50'000;
    uint64_t bytes_[kBins] = {};
    int64_t bin_of_[kBins] = {};
    int64_t newest_ = -1, first_us_ = -1, last_us_ = -1;
  };
  struct Cluster {
    int id = -1;
    uint32_t expected = 0, reported = 0, received = 0, lost = 0;
    double paced_bps = 0;
    int64_t end_ms = -1;
    int64_t first_arrival = 0, last_arrival = 0;
    uint64_t bytes = 0, first_arrival_size = 0;
    double media_bps = 0;
    // One-way delay (arrival minus send, µs) of the cluster's packets: the smallest, and that of
    // the last one sent. A queue that fills during the probe shows as the difference.
    int64_t min_delay = 0, last_delay = 0, last_send = 0;
    bool overuse = false, aborted = false;
    bool done = true;
  };
  void LossBased(int64_t now_ms);
  void EvaluateProbe(int64_t now_ms);

  InterArrival groups_;
  TrendlineFilter trend_;
  OveruseDetector detector_;
  AimdRateControl aimd_;
  RateWindow acked_, media_acked_;
  bool known_ = false;
  int64_t last_cut_ms_ = -1;
  double loss_bps_ = -1;  // -1: no loss-based limit yet
  uint32_t window_received_ = 0, window_lost_ = 0;
  int64_t window_start_ms_ = -1;
  uint32_t taken_received_ = 0, taken_lost_ = 0;
  int64_t last_send_us_ = 0;
  Cluster cluster_;
  int next_cluster_ = 0;
  int outcome_ = 0;
};

}  // namespace halfsec
