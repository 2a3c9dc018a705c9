// A viewer's transport-wide congestion control: the relay's own transport-wide sequence numbers
// on everything it sends the viewer (media, RTX, probe padding), the viewer's transport-cc
// feedback matched against what was sent, the estimate (media/bandwidth_estimator.h) and
// probes before a step up (media/probe_controller.h). All on the viewer's worker thread.
#include <algorithm>
#include <array>

#include "base/clock.h"
#include "fanout/peer.h"
#include "fanout/worker.h"

namespace halfsec {

namespace {
constexpr size_t kPaddingPacket = 12 + kTwccExtensionBytes + 255;
constexpr int kMaxPaddingPerCall = 64;
// An estimate this far below the layer being sent (ts/media/policy.ts estimateDownMargin) is
// reported at once instead of at the next periodic summary, at most every kEarlySummaryMs: the
// sooner the policy moves the viewer down, the fewer frames a full queue costs it.
constexpr double kEarlyDownFraction = 0.8;
constexpr int64_t kEarlySummaryMs = 250;

// Per worker thread: one feedback packet's arrivals and their matches.
thread_local std::array<TransportCcArrival, kMaxTransportCcArrivals> t_arrivals;
thread_local std::array<PacketResult, SendHistory::kSize> t_results;
}  // namespace

void Peer::RecordSent(uint8_t twcc_id, uint16_t seq, size_t len, int probe) {
  if (twcc_id == 0) return;
  const int64_t now_us = MonotonicUs();
  history_->Record(seq, now_us, len, probe);
  if (twcc_trace_) twcc_trace_->Sent(now_us, seq, len, probe);
  twcc_seq_ = static_cast<uint16_t>(seq + 1);
}

void Peer::OnTransportCc(const uint8_t* d, size_t n) {
  size_t off = 0;
  while (off + 4 <= n) {
    const size_t len = (static_cast<size_t>(Load16(d + off + 2)) + 1) * 4;
    if (off + len > n) return;
    const uint8_t* p = d + off;
    off += len;
    if (p[1] != 205 || (p[0] & 0x1f) != 15) continue;
    if (twcc_trace_) twcc_trace_->Feedback(MonotonicUs(), p, len);
    TransportCcFeedback fb;
    size_t count = 0;
    if (!ParseTransportCc(p, len, &fb, t_arrivals.data(), t_arrivals.size(), &count)) continue;
    const int64_t offset = twcc_clock_.Unwrap(fb.reference_ticks);
    const size_t results = MatchTransportCc(fb, t_arrivals.data(), count, offset, history_.get(), t_results.data());
    if (results > 0) bwe_->OnFeedback(t_results.data(), results, worker_->now_ms());
  }
  if (cfg_.feedback_interval_ms <= 0 || !PathBelowLayer(out_[kVideo].layer)) return;
  const int64_t now = worker_->now_ms();
  if (now - last_feedback_ms_ >= kEarlySummaryMs) {
    last_feedback_ms_ = now;
    ReportFeedback();
  }
}

void Peer::Probe(int64_t now_ms) {
  const int outcome = bwe_->TakeProbeOutcome();
  if (outcome != 0) probe_.OnOutcome(outcome, now_ms);
  // Padding goes on the RTX stream (RFC 4588 §4), over UDP only: an ICE-TCP path has its own
  // congestion control and a probe would only fill its queue.
  if (cfg_.out_rtx_pt == kNoPt || TwccId(kVideo) == 0 || tcp_id_ != 0 || !srtp_ready_) return;
  if (probe_.active()) {
    // The feedback already shows the path does not carry the probe: stop adding to its queue.
    if (bwe_->ProbeFailing()) {
      probe_.Abort(now_ms);
      bwe_->EndProbe(probe_.cluster(), probe_.packets(), probe_.pad_bps(), now_ms, true);
      return;
    }
    SendPadding(now_ms);
    if (probe_.Finish(now_ms)) bwe_->EndProbe(probe_.cluster(), probe_.packets(), probe_.pad_bps(), now_ms);
    return;
  }
  const int cur = out_[kVideo].layer;
  if (cur < 0) return;
  // What the stream's top layer needs: no probe aims beyond it, whatever the estimate claims.
  const double top_bps = TopLayerBps(now_ms);
  if (top_bps <= 0) return;
  // The next VP8/VP9 layer step when layers are dropped (peer_svc.cc), else the next simulcast layer.
  double next_bps = SvcProbeBps();
  if (next_bps <= 0) {
    if (cur + 1 >= kMaxLayers) return;
    const int top = cfg_.stream->TopLiveLayer(now_ms, kLayerStaleMs);
    if (cur >= top) return;
    next_bps = cfg_.stream->layer_kbps[cur + 1].load(std::memory_order_relaxed) * 1000.0;
    if (next_bps <= 0) return;
  }
  const double target = ProbeController::Target(next_bps, top_bps);
  const uint64_t estimate = bwe_->estimate_bps();
  if (!probe_.Due(now_ms, estimate, target, bwe_->last_cut_ms(), bwe_->usage() == BandwidthUsage::kOverusing)) return;
  probe_.Start(now_ms, ProbeController::Aim(estimate, target), bwe_->media_acked_bps(), bwe_->BeginProbe(now_ms));
  SendPadding(now_ms);
}

bool Peer::PathBelowLayer(int layer) const {
  if (!bwe_ || layer < 0 || layer >= kMaxLayers) return false;
  const double estimate = static_cast<double>(bwe_->estimate_bps());
  const double layer_bps = cfg_.stream->layer_kbps[layer].load(std::memory_order_relaxed) * 1000.0;
  return estimate > 0 && layer_bps > 0 && estimate < kEarlyDownFraction * layer_bps;
}

double Peer::TopLayerBps(int64_t now_ms) const {
  // The highest measured rate of a live layer: the top simulcast layer, or a single encoding's
  // whole rate (SVC, where layer 0 carries every spatial and temporal layer).
  const Stream& s = *cfg_.stream;
  const int n = std::min(s.layer_count.load(std::memory_order_relaxed), kMaxLayers);
  double top = 0;
  for (int i = 0; i < n; i++) {
    const int64_t seen = s.layer_seen_ms[i].load(std::memory_order_relaxed);
    if (seen == 0 || now_ms - seen >= kLayerStaleMs) continue;
    top = std::max(top, s.layer_kbps[i].load(std::memory_order_relaxed) * 1000.0);
  }
  return top;
}

void Peer::SendPadding(int64_t now_ms) {
  uint64_t owed = probe_.Owed(now_ms);
  const Outbound& video = out_[kVideo];
  const uint32_t ts = video.seq.started() ? video.seq.TsAt(now_ms, cfg_.clock_rate[kVideo]) : 0;
  const uint8_t twcc = TwccId(kVideo);
  for (int i = 0; i < kMaxPaddingPerCall && owed > 0; i++) {
    if (!worker_->TakePadding(kPaddingPacket)) return;  // the worker's padding budget is spent
    uint8_t* slot = worker_->BatchSlot();
    const size_t len = BuildPaddingRtp(slot, kPaddingPacket, cfg_.out_rtx_ssrc, cfg_.out_rtx_pt, rtx_seq_, ts, twcc, twcc_seq_);
    const int out = srtp_out_.ProtectRtp(slot, len);
    if (out < 0) return;
    rtx_seq_++;
    worker_->BatchCommit(static_cast<size_t>(out), addr_, tcp_id_);
    RecordSent(twcc, twcc_seq_, len, probe_.cluster());
    probe_.Sent(len);
    owed = owed > len ? owed - len : 0;
  }
}

}  // namespace halfsec
