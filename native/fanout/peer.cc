#include "fanout/peer.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "fanout/worker.h"
#include "media/rtcp_reporter.h"
#include "rtp/rtcp.h"
#include "rtp/rtx.h"

namespace halfsec {

namespace {
constexpr int64_t kRtcpIntervalMs = 1000;
constexpr int64_t kLayerStaleMs = 1000;
// Sequence numbers per upstream NACK packet.
constexpr int kNackBatch = 64;
// Pull: connectivity checks every 50 ms until one succeeds, then a consent check every ~2 s
// (RFC 7675 wants one every 4-6 s at most; the ICE-lite side refreshes its consent from them).
constexpr int64_t kCheckIntervalMs = 50;
constexpr int64_t kConsentIntervalMs = 2000;
constexpr uint32_t kPullPriority = 0x6e0001ff;  // host-type priority; only one pair exists

uint32_t Random32() {
  uint32_t v = 0;
  RAND_bytes(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  return v;
}
}  // namespace

Peer::Peer(PeerConfig config, const DtlsIdentity& identity) : cfg_(std::move(config)), identity_(identity) {}

Peer::~Peer() {
  if (sock_ >= 0) ::close(sock_);
}

void Peer::SendRaw(const uint8_t* d, size_t n) {
  if (has_addr_) worker_->SendNow(d, n, addr_, sock_);
}

void Peer::set_address(const sockaddr_storage& a) {
  addr_ = a;
  has_addr_ = true;
}

void Peer::MoveTo(const sockaddr_storage& a, std::string old_key, int64_t now_ms) {
  set_address(a);
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
  if (cfg_.role == PeerRole::kViewer) {
    // Start from the cached keyframe at once; ask the publisher only when there is none.
    if (!worker_->ReplayKeyframe(*this)) WantKeyframe(std::max(0, cfg_.stream->TopLiveLayer(worker_->now_ms(), kLayerStaleMs)));
  }
}

// ---------------------------------------------------------------- publisher side

int Peer::LayerOf(const uint8_t* d, const RtpHeader& h, bool repaired) {
  const int count = static_cast<int>(std::min<size_t>(cfg_.rids.size(), kMaxLayers));
  for (int i = 0; i < count; i++) {
    if (repaired ? rtx_ssrc_layer_[i] == h.ssrc && h.ssrc != 0 : in_[kVideo][i].started() && in_[kVideo][i].ssrc() == h.ssrc) {
      return i;
    }
  }
  const uint8_t* v;
  size_t vlen;
  if (!FindRtpExtension(d, h, repaired ? cfg_.repaired_rid_ext_id : cfg_.rid_ext_id, &v, &vlen)) return -1;
  const std::string_view rid(reinterpret_cast<const char*>(v), vlen);
  for (int i = 0; i < count; i++) {
    if (cfg_.rids[i] != rid) continue;
    if (repaired) rtx_ssrc_layer_[i] = h.ssrc;
    return i;
  }
  return -1;
}

InboundStream* Peer::Classify(uint8_t* d, int* len, RtpHeader* h, int* kind, int* layer, uint8_t* media_pt) {
  const bool is_rtx = cfg_.rtx_apt[h->payload_type] != kNoPt;
  *media_pt = is_rtx ? cfg_.rtx_apt[h->payload_type] : h->payload_type;
  *kind = cfg_.kind_by_pt[*media_pt];
  if (*kind >= kMediaKinds) return nullptr;
  const bool simulcast = *kind == kVideo && !cfg_.rids.empty();
  *layer = 0;
  if (simulcast) {
    *layer = LayerOf(d, *h, is_rtx);
    if (*layer < 0) return nullptr;
  }
  InboundStream& in = in_[*kind][*layer];
  if (is_rtx) {
    if (!in.started() || !UnwrapRtx(d, len, h, *media_pt)) return nullptr;
    Store32(d + 8, in.ssrc());
    h->ssrc = in.ssrc();
  } else if (!in.started()) {
    in.set_ssrc(h->ssrc);
  } else if (in.ssrc() != h->ssrc) {
    // Simulcast: the layer restarted with a new SSRC. Otherwise a second SSRC of one kind is
    // not ours to forward.
    if (!simulcast) return nullptr;
    in.Restart(h->ssrc);
  }
  return &in;
}

void Peer::OnSrtp(uint8_t* d, size_t n, int64_t now_ms) {
  if (!srtp_ready_ || cfg_.role != PeerRole::kPublisher) return;
  int len = srtp_in_.UnprotectRtp(d, n);
  if (len < 0) {
    WorkerStats::Bump(worker_->counters().srtp_errors);
    return;
  }
  last_seen_ms_ = now_ms;
  NoteMedia(now_ms, true);
  RtpHeader h;
  if (!ParseRtp(d, static_cast<size_t>(len), &h)) return;
  int kind, layer;
  uint8_t media_pt;
  InboundStream* in = Classify(d, &len, &h, &kind, &layer, &media_pt);
  bool recovered;
  if (!in || !in->Track(h.sequence, now_ms, &recovered)) return;
  Stream* s = cfg_.stream.get();
  if (kind == kVideo) {
    s->layer_seen_ms[layer].store(now_ms, std::memory_order_relaxed);
    layer_bytes_[layer] += static_cast<uint64_t>(len);
  }
  MediaPacket* pkt = worker_->NewPacket();
  if (!pkt) return;
  std::memcpy(pkt->data, d, static_cast<size_t>(len));
  pkt->len = static_cast<uint16_t>(len);
  pkt->rtp = h;
  pkt->kind = static_cast<MediaKind>(kind);
  pkt->layer = static_cast<uint8_t>(layer);
  pkt->recovered = recovered;
  pkt->epoch = epoch_;
  pkt->keyframe = kind == kVideo && IsKeyframeStart(cfg_.codec_by_pt[media_pt], d + h.header_len, h.payload_len);
  s->keyframes.Add(pkt, now_ms);
  worker_->Publish(*this, pkt);
}

void Peer::SendNacks(int64_t now_ms) {
  uint16_t seqs[kNackBatch];
  for (auto& lines : in_) {
    for (auto& in : lines) {
      const int count = in.nacks().TakeDue(now_ms, seqs, kNackBatch);
      if (count == 0) continue;
      const size_t len = BuildNack(scratch_, cfg_.rtcp_ssrc, in.ssrc(), seqs, count);
      SendRtcp(scratch_, len);
      WorkerStats::Bump(worker_->counters().nacks_sent, static_cast<uint64_t>(count));
    }
  }
}

// Measured layer rates let the control plane's policy compare a viewer's estimate with what
// each layer really costs.
void Peer::ReportLayerRates(int64_t now_ms) {
  const double secs = last_rtcp_ms_ > 0 ? (now_ms - last_rtcp_ms_) / 1000.0 : 0;
  const int layers = static_cast<int>(std::clamp<size_t>(cfg_.rids.size(), 1, kMaxLayers));
  double bps[kMaxLayers] = {};
  for (int i = 0; i < layers; i++) {
    bps[i] = secs > 0 ? layer_bytes_[i] * 8.0 / secs : 0;
    layer_bytes_[i] = 0;
  }
  if (secs > 0) worker_->EmitLayers(cfg_.id, bps, layers);
}

void Peer::SendKeyframeRequest(int layer) {
  if (layer < 0 || layer >= kMaxLayers) layer = 0;
  const InboundStream& in = in_[kVideo][layer];
  if (in.started()) SendPli(in.ssrc());
}

// ---------------------------------------------------------------- viewer side

void Peer::WantKeyframe(int layer) {
  if (keyframe_asks_.Allow(worker_->now_ms())) worker_->KeyframeWanted(*cfg_.stream, layer);
}

void Peer::StartOrSwitch(Outbound& o, const MediaPacket& pkt, int64_t now_ms) {
  if (!o.seq.started()) {
    o.seq.Start(pkt.rtp.sequence, static_cast<uint16_t>(Random32()), pkt.layer);
  } else {
    o.seq.Continue(pkt.rtp.sequence, pkt.rtp.timestamp, pkt.layer, now_ms, cfg_.clock_rate[pkt.kind]);
  }
  o.layer = pkt.layer;
  o.epoch = pkt.epoch;
}

void Peer::Forward(const MediaPacket& pkt, int top) {
  if (!srtp_ready_ || !has_addr_) return;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt.rtp.payload_type];
  if (out_pt >= 128) return;
  Outbound& o = out_[pkt.kind];
  const int64_t now = worker_->now_ms();
  // A new source (a relayed stream re-pulled): its sequence numbers say nothing about the old
  // ones, so the line restarts as on a layer switch, at a keyframe for video.
  const bool new_source = o.seq.started() && pkt.epoch != o.epoch;
  if (new_source && pkt.kind == kVideo) o.layer = -1;
  if (pkt.kind == kVideo) {
    const LayerSwitcher::Decision d = layers_.Decide(o.layer, pkt.layer, pkt.keyframe, pkt.recovered, top);
    if (d.want_keyframe >= 0) WantKeyframe(d.want_keyframe);
    if (d.action == LayerSwitcher::Action::kDrop) return;
    if (d.action == LayerSwitcher::Action::kSwitch) StartOrSwitch(o, pkt, now);
  } else if (!o.seq.started() || new_source) {
    StartOrSwitch(o, pkt, now);
  }
  // Already sent (the keyframe replay overlaps the live queue): only recovered packets go late.
  if (!o.seq.IsNew(pkt.rtp.sequence) && !pkt.recovered) return;
  Send(o, pkt, out_pt);
}

void Peer::Send(Outbound& o, const MediaPacket& pkt, uint8_t out_pt) {
  const uint16_t out_seq = o.seq.OutSeq(pkt.rtp.sequence);
  const uint32_t out_ts = o.seq.OutTs(pkt.rtp.timestamp);
  uint8_t* slot = worker_->BatchSlot();
  const size_t len = RewriteRtp(pkt.data, pkt.len, pkt.rtp, slot, cfg_.out_ssrc[pkt.kind], out_pt, out_seq, out_ts);
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_);
  o.seq.Sent(pkt.rtp.sequence, out_seq, out_ts, worker_->now_ms());
  o.packets++;
  o.octets += static_cast<uint32_t>(pkt.rtp.payload_len);
  sent_++;
}

void Peer::Retransmit(int kind, uint16_t out_seq) {
  nacks_++;
  WorkerStats::Bump(worker_->counters().nacks_received);
  Outbound& o = out_[kind];
  const SeqRewriter::Segment* seg = o.seq.started() ? o.seq.Lookup(out_seq) : nullptr;
  if (!seg) return;
  const uint16_t seq = static_cast<uint16_t>(out_seq - seg->seq_delta);
  const MediaPacket* pkt = worker_->CachedPacket(cfg_.stream->id, kind, seg->layer, seq);
  if (!pkt) return;
  if (!retransmit_budget_.Take(worker_->now_ms())) return;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt->rtp.payload_type];
  if (out_pt >= 128) return;
  uint8_t* slot = worker_->BatchSlot();
  size_t len;
  if (kind == kVideo && cfg_.out_rtx_pt != kNoPt) {
    // RFC 4588: RTX stream with its own SSRC and sequence; the payload leads with the OSN.
    len = RewriteRtp(pkt->data, pkt->len, pkt->rtp, slot, cfg_.out_rtx_ssrc, cfg_.out_rtx_pt, rtx_seq_++,
                     pkt->rtp.timestamp + seg->ts_delta);
    len = InsertRtxOsn(slot, len, pkt->rtp.csrc_end, out_seq);
  } else {
    len = RewriteRtp(pkt->data, pkt->len, pkt->rtp, slot, cfg_.out_ssrc[kind], out_pt, out_seq,
                     pkt->rtp.timestamp + seg->ts_delta);
  }
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_);
  retransmits_++;
  WorkerStats::Bump(worker_->counters().retransmits);
}

void Peer::SendSenderReports(int64_t now_ms) {
  (void)now_ms;
  size_t off = 0;
  const uint64_t ntp = NtpNow();
  for (int kind = 0; kind < kMediaKinds; kind++) {
    Outbound& o = out_[kind];
    if (!o.seq.started() || o.layer < 0) continue;
    const Stream::SenderClock c = cfg_.stream->GetSenderClock(kind, o.layer);
    const uint32_t rtp = SenderReportRtpTime(c.valid, c.ntp, c.rtp, ntp, cfg_.clock_rate[kind], o.seq.ts_delta(),
                                             o.seq.TsAt(worker_->now_ms(), cfg_.clock_rate[kind]));
    off += BuildSenderReport(scratch_ + off, cfg_.out_ssrc[kind], ntp, rtp, o.packets, o.octets);
  }
  if (off > 0) SendRtcp(scratch_, off);
}

void Peer::ReportFeedback() {
  fb_.nacks = nacks_;
  fb_.retransmits = retransmits_;
  fb_.packets = sent_;
  fb_.layer = out_[kVideo].layer;
  nacks_ = retransmits_ = sent_ = 0;
  worker_->EmitFeedback(cfg_.id, fb_);
}

void Peer::OnSrtcp(uint8_t* d, size_t n, int64_t now_ms) {
  if (!srtp_ready_) return;
  const int len = srtp_in_.UnprotectRtcp(d, n);
  if (len < 0) {
    WorkerStats::Bump(worker_->counters().srtp_errors);
    return;
  }
  last_seen_ms_ = now_ms;
  if (cfg_.role == PeerRole::kPublisher) {
    NoteMedia(now_ms, false);
    OnPublisherRtcp(d, static_cast<size_t>(len));
  } else {
    OnViewerRtcp(d, static_cast<size_t>(len));
  }
}

void Peer::OnPublisherRtcp(const uint8_t* d, size_t n) {
  RtcpSummary r;
  ParseRtcp(d, n, &r, [](uint32_t, uint16_t) {});
  if (!r.has_sr) return;
  for (int kind = 0; kind < kMediaKinds; kind++) {
    for (int layer = 0; layer < kMaxLayers; layer++) {
      if (in_[kind][layer].started() && in_[kind][layer].ssrc() == r.sr_ssrc) {
        cfg_.stream->SetSenderClock(kind, layer, r.sr_ntp, r.sr_rtp);
      }
    }
  }
}

void Peer::OnViewerRtcp(const uint8_t* d, size_t n) {
  RtcpSummary r;
  ParseRtcp(d, n, &r, [this](uint32_t media, uint16_t seq) {
    if (media == cfg_.out_ssrc[kVideo]) {
      Retransmit(kVideo, seq);
    } else if (media == cfg_.out_ssrc[kAudio]) {
      Retransmit(kAudio, seq);
    }
  });
  if (r.keyframe_request) WantKeyframe(std::max(0, out_[kVideo].layer));
  if (r.has_remb) fb_.remb_bps = static_cast<double>(r.remb_bps);
  if (r.has_report && (r.report_ssrc == cfg_.out_ssrc[kVideo] || r.report_ssrc == cfg_.out_ssrc[kAudio])) {
    fb_.loss = r.fraction_lost / 256.0;
    const double rtt = RoundTripMs(r.last_sr, r.delay_since_sr, NtpNow());
    if (rtt >= 0) fb_.rtt_ms = rtt;
  }
}

void Peer::SendPli(uint32_t media_ssrc) {
  if (srtp_ready_) WorkerStats::Bump(worker_->counters().keyframe_requests);
  const size_t len = BuildPli(scratch_, cfg_.rtcp_ssrc, media_ssrc);
  SendRtcp(scratch_, len);
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

void Peer::NoteMedia(int64_t now_ms, bool rtp) {
  if (first_media_ms_ < 0) {
    if (!rtp) return;  // the clock starts with the first media packet
    first_media_ms_ = now_ms;
  } else {
    longest_media_gap_ms_ = std::max(longest_media_gap_ms_, now_ms - last_media_ms_);
  }
  last_media_ms_ = now_ms;
}

bool Peer::MediaTimedOut(int64_t now_ms) const {
  // Pulls follow their origin's stream, which has its own publisher and grace: not timed here.
  const int timeout = worker_->media_timeout_ms();
  if (cfg_.role != PeerRole::kPublisher || cfg_.pull || timeout <= 0 || first_media_ms_ < 0) return false;
  // Never below twice the stream's own longest silence (audio DTX, a paused screen share).
  const int64_t limit = std::max<int64_t>(timeout, 2 * longest_media_gap_ms_);
  return now_ms - last_media_ms_ > limit;
}

bool Peer::OnTick(int64_t now_ms, const char** reason) {
  if (cfg_.pull && !failed_) PullChecks(now_ms);
  if (failed_) {
    *reason = fail_reason_;
    return false;
  }
  if (!srtp_ready_) {
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
    if (now_ms - last_rtcp_ms_ >= kRtcpIntervalMs) {
      const size_t len = BuildUpstreamFeedback(scratch_, cfg_.rtcp_ssrc, &in_[0][0], kMediaKinds * kMaxLayers, cfg_.remb_bps);
      ReportLayerRates(now_ms);
      last_rtcp_ms_ = now_ms;
      if (len > 0) SendRtcp(scratch_, len);
    }
  } else {
    if (now_ms - last_rtcp_ms_ >= kRtcpIntervalMs) {
      last_rtcp_ms_ = now_ms;
      SendSenderReports(now_ms);
    }
    if (cfg_.feedback_interval_ms > 0 && now_ms - last_feedback_ms_ >= cfg_.feedback_interval_ms) {
      last_feedback_ms_ = now_ms;
      ReportFeedback();
    }
  }
  return true;
}

void Peer::Close() {
  if (dtls_ && dtls_->state() == DtlsState::kConnected && has_addr_) dtls_->Close();
}

}  // namespace halfsec
