#include "fanout/peer.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "fanout/worker.h"
#include "media/report_phase.h"
#include "media/rtcp_reporter.h"
#include "rtp/rtcp.h"
#include "rtp/rtx.h"

namespace halfsec {

namespace {
// Pull: connectivity checks every 50 ms until one succeeds, then a consent check every ~2 s
// (RFC 7675 wants one every 4-6 s at most; the ICE-lite side refreshes its consent from them).
constexpr int64_t kCheckIntervalMs = 50;
constexpr int64_t kConsentIntervalMs = 2000;
constexpr uint32_t kPullPriority = 0x6e0001ff;  // host-type priority; only one pair exists
// The relay's handshake ends before the viewer's: as DTLS server the relay is done at the
// client's Finished, the client only at ours, a flight later (RFC 6347 4.2.4). Stacks that read
// the socket on one thread and install SRTP keys on another (libdatachannel) drop media that
// overtakes their key set-up, and nothing repairs the cached keyframe's first packets (a viewer
// cannot NACK a packet before the first one it saw), so a viewer's video starts this much later,
// from the cache, which holds every video packet since the keyframe. Audio, never replayed, goes
// at once.
constexpr int64_t kViewerStartGraceMs = 20;

uint32_t Random32() {
  uint32_t v = 0;
  RAND_bytes(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  return v;
}
}  // namespace

thread_local uint8_t Peer::scratch_[kMaxPacket + kSrtpMaxTrailer];

Peer::Peer(PeerConfig config, const DtlsIdentity& identity) : cfg_(std::move(config)), identity_(identity) {
  if (cfg_.role == PeerRole::kPublisher && cfg_.transport_cc_ext_id != 0) transport_cc_ = std::make_unique<TransportCcWriter>();
  if (cfg_.role == PeerRole::kPublisher) {
    ingress_ = std::make_unique<Ingress>();
    in_ = ingress_->in;
    layer_rate_ = ingress_->layer_rate;
    audio_rate_ = &ingress_->audio_rate;
  }
}

Peer::~Peer() {
  if (sock_ >= 0) ::close(sock_);
  if (cfg_.ingest && !cfg_.ingest_path.empty()) ::unlink(cfg_.ingest_path.c_str());
  for (auto& kind : held_) {
    for (MediaPacket* p : kind) {
      if (p) p->Release();
    }
  }
}

void Peer::SendRaw(const uint8_t* d, size_t n) {
  if (!has_addr_) return;
  if (tcp_id_ != 0) {
    worker_->SendTcp(tcp_id_, d, n);
  } else {
    worker_->SendNow(d, n, addr_, sock_);
  }
}

std::string Peer::path_key() const { return tcp_id_ != 0 ? TcpPathKey(tcp_id_) : AddrKey(addr_); }

void Peer::set_address(const sockaddr_storage& a, uint64_t tcp_id) {
  addr_ = a;
  tcp_id_ = tcp_id;
  has_addr_ = true;
}

void Peer::OnPathDrained() {
  if (cfg_.role == PeerRole::kViewer && srtp_ready_ && out_[kVideo].layer >= 0) WantKeyframe(out_[kVideo].layer);
}

void Peer::MoveTo(const sockaddr_storage& a, uint64_t tcp_id, std::string old_key, int64_t now_ms) {
  set_address(a, tcp_id);
  prev_addr_key_ = std::move(old_key);
  moved_ms_ = now_ms;
  heard_ms_ = now_ms;
}

void Peer::Attach(Worker* worker) {
  worker_ = worker;
  created_ms_ = worker->now_ms();
  last_seen_ms_ = created_ms_;
  retransmit_budget_.Start(created_ms_);
  rtx_seq_ = static_cast<uint16_t>(Random32());
  if (cfg_.role == PeerRole::kViewer && (cfg_.twcc_ext_id[kAudio] != 0 || cfg_.twcc_ext_id[kVideo] != 0)) {
    history_ = std::make_unique<SendHistory>();
    bwe_ = std::make_unique<BandwidthEstimator>();
    twcc_trace_ = TwccTraceRecorder::MaybeOpen(cfg_.id);
  }
  if (cfg_.cname.empty()) {
    uint8_t r[8];
    RAND_bytes(r, sizeof r);
    static const char kHex[] = "0123456789abcdef";
    cfg_.cname = "halfsec-";
    for (uint8_t b : r) cfg_.cname += {kHex[b >> 4], kHex[b & 15]};
  }
  if (cfg_.ingest) return;  // plain RTP from a local child: no ICE, DTLS or SRTP
  const DtlsRole role = cfg_.dtls_client ? DtlsRole::kClient : DtlsRole::kServer;
  dtls_ = std::make_unique<DtlsTransport>(identity_, role, cfg_.fingerprint_algorithm, cfg_.fingerprint,
                                          [this](const uint8_t* d, size_t n) { SendRaw(d, n); });
  if (cfg_.pull) {
    // The client's ClientHello waits for a successful check: the ICE-lite side drops datagrams
    // from an address it has not seen a check from.
    set_address(cfg_.remote_addr);
    RAND_bytes(reinterpret_cast<uint8_t*>(&tie_breaker_), sizeof(tie_breaker_));
    next_check_ms_ = created_ms_;
  } else if (!cfg_.dtls_client) {
    dtls_->Start();
  }
}

void Peer::OnAddressBound() {
  if (dtls_ && cfg_.dtls_client && !cfg_.pull && dtls_->state() == DtlsState::kNew) dtls_->Start();
}

void Peer::PullChecks(int64_t now_ms) {
  if (now_ms < next_check_ms_ || sock_ < 0) return;
  uint8_t* tid = check_tids_[check_next_++ % 4];
  RAND_bytes(tid, 12);
  const std::string username = cfg_.remote_ufrag + ":" + cfg_.local_ufrag;
  uint8_t out[512];
  const size_t len = BuildStunBindingRequest(out, sizeof out, tid, username, cfg_.remote_pwd, kPullPriority, true,
                                             tie_breaker_, true);
  if (len > 0) SendRaw(out, len);
  next_check_ms_ = now_ms + (ice_ok_ ? kConsentIntervalMs : kCheckIntervalMs);
}

void Peer::OnStunResponse(const uint8_t* d, size_t n, const StunMessage& m, int64_t now_ms) {
  if (!cfg_.pull || failed_) return;
  bool ours = false;
  for (const auto& tid : check_tids_) ours = ours || std::memcmp(tid, m.transaction_id, 12) == 0;
  if (!ours || !m.has_integrity || !VerifyStunIntegrity(d, n, m, cfg_.remote_pwd)) return;
  if (m.type != kStunBindingSuccess) return;  // an error leaves the checks running until the timeout
  last_seen_ms_ = now_ms;
  if (!ice_ok_) {
    ice_ok_ = true;
    next_check_ms_ = now_ms + kConsentIntervalMs;
  }
  if (dtls_ && dtls_->state() == DtlsState::kNew) dtls_->Start();
}

void Peer::OnDtls(const uint8_t* d, size_t n, int64_t now_ms) {
  if (!dtls_ || failed_) return;
  if (tick_.asleep) WakeTicks();
  const DtlsState st = dtls_->OnDatagram(d, n);
  if (st == DtlsState::kConnected && !srtp_ready_) {
    last_seen_ms_ = now_ms;
    OnDtlsConnected();
  } else if (st == DtlsState::kFailed || st == DtlsState::kClosed) {
    failed_ = true;
  }
}

void Peer::OnDtlsConnected() {
  SrtpKeyMaterial k;
  if (!dtls_->GetSrtpKeys(&k) || !srtp_in_.Init(k.profile, k.remote_key, k.remote_salt) ||
      !srtp_out_.Init(k.profile, k.local_key, k.local_salt)) {
    failed_ = true;
    return;
  }
  srtp_ready_ = true;
  worker_->Emit("connected", cfg_.id);
  if (cfg_.role == PeerRole::kViewer) start_due_ms_ = worker_->now_ms() + kViewerStartGraceMs;
}

void Peer::StartMedia() {
  start_due_ms_ = -1;
  // Start from the cached keyframe; ask the publisher when that did not start the viewer's video
  // (no cached keyframe, one too old, or one this viewer cannot take).
  worker_->ReplayKeyframe(*this);
  if (layered()) {
    // Every layer's decoder downstream starts at that layer's keyframe (merged per layer).
    for (size_t l = 0; l < cfg_.layer_ssrcs.size(); l++) {
      if (sim_[l].layer < 0) worker_->KeyframeWanted(*cfg_.stream, static_cast<int>(l));
    }
  } else if (out_[kVideo].layer < 0) {
    WantKeyframe(std::max(0, cfg_.stream->TopLiveLayer(worker_->now_ms(), kLayerStaleMs)));
  }
}

// ---------------------------------------------------------------- viewer side

void Peer::WantKeyframe(int layer) {
  if (keyframe_asks_.Allow(worker_->now_ms())) worker_->KeyframeWanted(*cfg_.stream, layer);
}

void Peer::StartOrSwitch(Outbound& o, const MediaPacket& pkt, int64_t now_ms) {
  if (!o.seq.started()) {
    o.seq.Start(pkt.rtp.sequence, static_cast<uint16_t>(Random32()), pkt.layer, pkt.epoch);
  } else {
    o.seq.Continue(pkt.rtp.sequence, pkt.rtp.timestamp, pkt.layer, now_ms, cfg_.clock_rate[pkt.kind], pkt.epoch);
  }
  o.layer = pkt.layer;
  o.epoch = pkt.epoch;
}

void Peer::Forward(const MediaPacket& pkt, int top) {
  last_forward_ms_ = worker_->now_ms();
  if (tick_.asleep) WakeTicks();
  if (!srtp_ready_ || !has_addr_) return;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt.rtp.payload_type];
  if (out_pt >= 128) return;
  if (start_due_ms_ >= 0 && pkt.kind == kVideo) return;  // StartMedia replays what this skips
  if (pkt.kind == kVideo && layered()) return ForwardAllLayers(pkt, out_pt);
  Outbound& o = out_[pkt.kind];
  const int64_t now = worker_->now_ms();
  // A new source line (a relayed stream re-pulled, a publisher's new SSRC or sequence restart):
  // its numbers say nothing about the old ones, so the viewer's line continues from it as on a
  // layer switch, at a keyframe for video. A straggler of an older line is dropped.
  const bool same_line = o.seq.started() && (pkt.kind == kAudio || pkt.layer == o.layer);
  if (same_line && static_cast<int32_t>(pkt.epoch - o.epoch) < 0) return;
  const bool new_source = same_line && pkt.epoch != o.epoch;
  if (new_source && pkt.kind == kVideo) o.layer = -1;
  bool leave_layer = false;
  if (pkt.kind == kVideo) {
    const LayerSwitcher::Decision d = layers_.Decide(o.layer, pkt.layer, pkt.keyframe, pkt.recovered, top);
    if (d.want_keyframe >= 0) WantKeyframe(d.want_keyframe);
    if (d.action == LayerSwitcher::Action::kDrop) return;
    if (d.action == LayerSwitcher::Action::kSwitch) {
      StartOrSwitch(o, pkt, now);
    } else if (d.want_keyframe >= 0 && d.want_keyframe < o.layer && pkt.rtp.marker && !pkt.recovered) {
      // Moving down because the path no longer carries this layer: its next frames would only
      // deepen the queue (and the loss) the lower layer's keyframe must cross, so the line leaves
      // the layer once this frame is out and waits for that keyframe, already asked for. A move
      // down with the path fine (a viewer's cap) keeps the picture going until the keyframe.
      leave_layer = PathBelowLayer(o.layer);
    }
  } else if (!o.seq.started() || new_source) {
    StartOrSwitch(o, pkt, now);
  }
  if (pkt.kind == kVideo && (pkt.codec == Codec::kVp8 || pkt.codec == Codec::kVp9 || (pkt.codec == Codec::kAv1 && cfg_.dd_ext_id != 0))) {
    ForwardLayered(o, pkt, out_pt);
  } else {
    // Already sent (the keyframe replay overlaps the live queue): only recovered packets go late.
    if (!o.seq.IsNew(pkt.rtp.sequence) && !pkt.recovered) return;
    Send(o, pkt, out_pt);
  }
  if (leave_layer) o.layer = -1;  // numbering continues from here at the switch (StartOrSwitch)
}

void Peer::Send(Outbound& o, const MediaPacket& pkt, uint8_t out_pt, int out_seq_at, bool marker, uint32_t ssrc) {
  const uint16_t out_seq = out_seq_at >= 0 ? static_cast<uint16_t>(out_seq_at) : o.seq.OutSeq(pkt.rtp.sequence);
  const uint32_t out_ts = o.seq.OutTs(pkt.rtp.timestamp);
  uint8_t* slot = worker_->BatchSlot();
  const uint8_t twcc = TwccId(pkt.kind);
  const size_t len = RewriteRtp(pkt.data, pkt.len, pkt.rtp, slot, ssrc != 0 ? ssrc : cfg_.out_ssrc[pkt.kind], out_pt, out_seq, out_ts,
                                OutExtensions(pkt, twcc));
  if (marker) slot[1] |= 0x80;
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_, tcp_id_);
  RecordSent(twcc, twcc_seq_, len, -1);
  if (out_map_ && pkt.kind == kVideo) out_map_->Sent(out_seq, pkt.rtp.sequence, marker);
  o.seq.Sent(pkt.rtp.sequence, out_seq, out_ts, worker_->now_ms());
  o.packets++;
  o.octets += static_cast<uint32_t>(pkt.rtp.payload_len);
  sent_++;
  if (!first_media_sent_) {
    first_media_sent_ = true;
    worker_->EmitFirstMedia(cfg_.id);
  }
}

void Peer::Retransmit(int kind, uint16_t out_seq) { RetransmitFrom(out_[kind], kind, cfg_.out_ssrc[kind], out_seq, true); }

void Peer::RetransmitFrom(Outbound& o, int kind, uint32_t ssrc, uint16_t out_seq, bool rtx_ok) {
  nacks_++;
  WorkerStats::Bump(worker_->counters().nacks_received);
  const SeqRewriter::Segment* seg = o.seq.started() ? o.seq.Lookup(out_seq) : nullptr;
  if (!seg) return;
  uint16_t seq = static_cast<uint16_t>(out_seq - seg->seq_delta);
  bool marker = false;
  if (kind == kVideo && out_map_ && !LayeredSource(out_seq, &seq, &marker)) return;
  const MediaPacket* pkt = worker_->CachedPacket(cfg_.stream->id, kind, seg->layer, seq, seg->source);
  if (!pkt) return;
  if (!retransmit_budget_.Take(worker_->now_ms())) return;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt->rtp.payload_type];
  if (out_pt >= 128) return;
  uint8_t* slot = worker_->BatchSlot();
  size_t len;
  const uint8_t twcc = TwccId(kind);
  if (kind == kVideo && rtx_ok && cfg_.out_rtx_pt != kNoPt) {
    // RFC 4588: RTX stream with its own SSRC and sequence; the payload leads with the OSN.
    size_t header_end;
    len = RewriteRtp(pkt->data, pkt->len, pkt->rtp, slot, cfg_.out_rtx_ssrc, cfg_.out_rtx_pt, rtx_seq_++,
                     pkt->rtp.timestamp + seg->ts_delta, OutExtensions(*pkt, twcc), &header_end);
    len = InsertRtxOsn(slot, len, header_end, out_seq);
  } else {
    len = RewriteRtp(pkt->data, pkt->len, pkt->rtp, slot, ssrc, out_pt, out_seq,
                     pkt->rtp.timestamp + seg->ts_delta, OutExtensions(*pkt, twcc));
  }
  if (marker) slot[1] |= 0x80;
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_, tcp_id_);
  RecordSent(twcc, twcc_seq_, len, -1);
  retransmits_++;
  WorkerStats::Bump(worker_->counters().retransmits);
}

bool Peer::OnTick(int64_t now_ms, const char** reason) {
  if (cfg_.pull && !failed_) PullChecks(now_ms);
  if (failed_) {
    *reason = fail_reason_;
    return false;
  }
  if (cfg_.ingest && !ingest_live_) {
    // The child has this long to start sending (FFmpeg probes its input first).
    if (now_ms - created_ms_ > worker_->connect_timeout_ms()) {
      *reason = "connect-timeout";
      return false;
    }
    return true;
  }
  if (!srtp_ready_ && !cfg_.ingest) {
    if (dtls_ && dtls_->TimeoutMs() == 0) dtls_->OnTimer();
    if (dtls_ && dtls_->state() == DtlsState::kFailed) {
      *reason = "dtls-failed";
      return false;
    }
    if (now_ms - created_ms_ > worker_->connect_timeout_ms()) {
      *reason = "connect-timeout";
      return false;
    }
    return true;
  }
  // RFC 7675: consent expires after a spell without any authenticated packet from the peer.
  if (now_ms - last_seen_ms_ > worker_->consent_timeout_ms()) {
    *reason = "consent-expired";
    return false;
  }
  if (MediaTimedOut(now_ms)) {
    *reason = "media-timeout";
    return false;
  }
  if (cfg_.role == PeerRole::kPublisher) {
    SendNacks(now_ms);
    SendTransportCc(now_ms);
    if (now_ms - last_rtcp_ms_ >= kRtcpIntervalMs) {
      const size_t len = BuildUpstreamFeedback(scratch_, cfg_.rtcp_ssrc, cfg_.cname, &in_[0][0], kMediaKinds * kMaxLayers, cfg_.remb_bps);
      ReportLayerRates(now_ms);
      last_rtcp_ms_ = now_ms;
      if (len > 0) SendRtcp(scratch_, len);
    }
  } else {
    if (start_due_ms_ >= 0 && now_ms >= start_due_ms_) StartMedia();
    if (const int64_t every = RtcpIntervalMs(now_ms); now_ms - last_rtcp_ms_ >= every) {
      last_rtcp_ms_ = NextReportBase(now_ms, last_rtcp_ms_, every, (uint64_t{cfg_.id} << 32) ^ static_cast<uint64_t>(now_ms));
      SendSenderReports(now_ms);
    }
    if (bwe_) Probe(now_ms);
    if (twcc_trace_) twcc_trace_->MaybeFlush(now_ms);
    if (history_) history_->ReleaseIfIdle(MonotonicUs());
    if (const int64_t every = FeedbackIntervalMs(now_ms); cfg_.feedback_interval_ms > 0 && now_ms - last_feedback_ms_ >= every) {
      last_feedback_ms_ = NextReportBase(now_ms, last_feedback_ms_, every, (uint64_t{cfg_.id} << 32) ^ static_cast<uint64_t>(now_ms) ^ 0x5a5a);
      // Quiet, and nothing sent, NACKed or reported since the previous summary: the control plane
      // has this one already (each summary with traffic is followed by one zero summary).
      if (!Quiet(now_ms) || summary_news_ || nacks_ || retransmits_ || sent_) ReportFeedback();
    }
  }
  return true;
}

int64_t Peer::IdleUntil(int64_t now_ms) const {
  if (cfg_.role != PeerRole::kViewer || cfg_.pull || cfg_.ingest || !srtp_ready_ || failed_ || start_due_ms_ >= 0) return 0;
  // While stream packets reach this viewer (or did within a layer's staleness), every tick may
  // have work: a probe, feedback. A second without any means no simulcast layer of the stream is
  // live here (Probe finds none to climb to), so only the deadlines below remain, each exact at
  // tick granularity.
  if (probe_.active() || (last_forward_ms_ >= 0 && now_ms - last_forward_ms_ < kLayerStaleMs)) return 0;
  // A viewer held below the VP8/VP9 layers it has seen probes toward the next step whether or
  // not media flows (Probe): it keeps its tick.
  if (bwe_ && SvcProbeBps() > 0) return 0;
  int64_t due = last_seen_ms_ + worker_->consent_timeout_ms() + 1;
  due = std::min(due, last_rtcp_ms_ + RtcpIntervalMs(now_ms));
  if (cfg_.feedback_interval_ms > 0) due = std::min(due, last_feedback_ms_ + FeedbackIntervalMs(now_ms));
  return due;
}

void Peer::WakeTicks() { worker_->WakePeer(this); }

void Peer::Close() {
  if (dtls_ && dtls_->state() == DtlsState::kConnected && has_addr_) dtls_->Close();
}

}  // namespace halfsec
