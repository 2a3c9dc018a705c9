// A peer's RTCP: SRTCP in (publisher reports, viewer feedback: NACK, PLI/FIR, REMB, receiver
// reports, transport-cc), sender reports and SDES out, and the feedback summaries the control
// plane's policy reads, with the slower pace of a viewer that is sent nothing.
#include <algorithm>

#include "base/clock.h"
#include "fanout/peer.h"
#include "fanout/worker.h"
#include "media/rtcp_reporter.h"
#include "rtp/rtcp.h"

namespace halfsec {

namespace {
// A viewer that was sent no packet for kLayerStaleMs (a stream with no media) is reported on less
// often: sender reports at RFC 3550's recommended minimum interval (6.2: 5 s) and feedback
// summaries to the control plane at the same pace (nothing changes for the policy while nothing
// is sent). Media wakes the viewer and the 1 s cadence resumes at once.
constexpr int64_t kQuietReportMs = 5000;
}  // namespace

void Peer::SendSenderReports(int64_t now_ms) {
  (void)now_ms;
  size_t off = 0;
  const uint64_t ntp = NtpNow();
  uint32_t ssrcs[kMediaKinds + kMaxLayers];
  int n = 0;
  for (int kind = 0; kind < kMediaKinds; kind++) {
    Outbound& o = out_[kind];
    if (!o.seq.started() || o.layer < 0) continue;
    const Stream::SenderClock c = cfg_.stream->GetSenderClock(kind, o.layer);
    const uint32_t rtp = SenderReportRtpTime(c.valid, c.ntp, c.rtp, ntp, cfg_.clock_rate[kind], o.seq.ts_delta(),
                                             o.seq.TsAt(worker_->now_ms(), cfg_.clock_rate[kind]));
    off += BuildSenderReport(scratch_ + off, cfg_.out_ssrc[kind], ntp, rtp, o.packets, o.octets);
    ssrcs[n++] = cfg_.out_ssrc[kind];
  }
  if (layered()) off += LayeredSenderReports(scratch_ + off, ntp, ssrcs, &n);
  if (n == 0) return;
  // RFC 3550 §6.1: a compound packet, the SDES CNAME of every SSRC reported on after the SRs.
  off += BuildSdesCname(scratch_ + off, ssrcs, n, cfg_.cname);
  SendRtcp(scratch_, off);
}

void Peer::ReportFeedback() {
  fb_.nacks = nacks_;
  fb_.retransmits = retransmits_;
  fb_.packets = sent_;
  fb_.layer = out_[kVideo].layer;
  ReportSvc();
  if (bwe_) {
    fb_.estimate_bps = static_cast<double>(bwe_->estimate_bps());
    fb_.acked_bps = bwe_->acked_bps();
  }
  summary_news_ = nacks_ || retransmits_ || sent_;
  nacks_ = retransmits_ = sent_ = 0;
  worker_->EmitFeedback(cfg_.id, fb_);
}

void Peer::OnSrtcp(uint8_t* d, size_t n, int64_t now_ms) {
  if (!srtp_ready_) return;
  if (tick_.asleep) WakeTicks();  // transport-cc feedback may carry a probe's outcome
  const int len = srtp_in_.UnprotectRtcp(d, n);
  if (len < 0) {
    WorkerStats::Bump(worker_->counters().srtp_errors);
    return;
  }
  last_seen_ms_ = now_ms;
  heard_ms_ = now_ms;
  if (cfg_.role == PeerRole::kPublisher) {
    NoteMedia(now_ms, false);
    OnPublisherRtcp(d, static_cast<size_t>(len));
  } else {
    OnViewerRtcp(d, static_cast<size_t>(len));
  }
}

void Peer::OnViewerRtcp(const uint8_t* d, size_t n) {
  summary_news_ = true;  // loss, round trip, REMB or the estimate may have moved
  RtcpSummary r;
  r.report_for = cfg_.out_ssrc[kVideo];
  ParseRtcp(d, n, &r, [this](uint32_t media, uint16_t seq) {
    if (media == cfg_.out_ssrc[kVideo]) {
      Retransmit(kVideo, seq);
    } else if (media == cfg_.out_ssrc[kAudio]) {
      Retransmit(kAudio, seq);
    } else if (const int l = LayerOfOutSsrc(media); l >= 0) {
      RetransmitFrom(sim_[l], kVideo, media, seq, false);
    }
  });
  if (bwe_) OnTransportCc(d, n);
  if (r.keyframe_request && layered()) {
    // Per layer, merged per stream and layer (not by this viewer's pacer: a pull asks for each).
    const int l = LayerOfOutSsrc(r.keyframe_ssrc);
    if (l >= 0) worker_->KeyframeWanted(*cfg_.stream, l);
  } else if (r.keyframe_request) WantKeyframe(std::max(0, out_[kVideo].layer));
  if (r.has_remb) fb_.remb_bps = static_cast<double>(r.remb_bps);
  if (r.has_report && (r.report_ssrc == cfg_.out_ssrc[kVideo] || r.report_ssrc == cfg_.out_ssrc[kAudio])) {
    fb_.loss = r.fraction_lost / 256.0;
    const double rtt = RoundTripMs(r.last_sr, r.delay_since_sr, NtpNow());
    if (rtt >= 0) {
      fb_.rtt_ms = rtt;
      if (bwe_) bwe_->set_rtt_ms(rtt);
      if (twcc_trace_) twcc_trace_->RoundTrip(MonotonicUs(), rtt);
    }
  }
}

void Peer::SendRtcp(uint8_t* buf, size_t len) {
  if (!srtp_ready_ || !has_addr_) return;
  const int out = srtp_out_.ProtectRtcp(buf, len);
  if (out > 0) {
    SendRaw(buf, static_cast<size_t>(out));
  } else if (out == kSrtpIndexExhausted) {
    Fail("srtcp-index-exhausted");  // RFC 3711 §9.2: no rekey here, so the session ends
  }
}

bool Peer::Quiet(int64_t now_ms) const {
  return !probe_.active() && (last_forward_ms_ < 0 || now_ms - last_forward_ms_ >= kLayerStaleMs);
}

int64_t Peer::RtcpIntervalMs(int64_t now_ms) const { return Quiet(now_ms) ? kQuietReportMs : kRtcpIntervalMs; }

int64_t Peer::FeedbackIntervalMs(int64_t now_ms) const {
  return Quiet(now_ms) ? std::max<int64_t>(cfg_.feedback_interval_ms, kQuietReportMs) : cfg_.feedback_interval_ms;
}

}  // namespace halfsec
