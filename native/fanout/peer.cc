#include "fanout/peer.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "rtp/rtcp.h"
#include "fanout/worker.h"

namespace halfsec {

namespace {
constexpr int64_t kRtcpIntervalMs = 1000;
constexpr int64_t kLayerStaleMs = 1000;
constexpr int64_t kKeyframeAskIntervalMs = 300;
// Upstream NACKs: how long a hole is worth asking for, how often, and how many at once.
constexpr int64_t kNackGiveUpMs = 1000;
constexpr int64_t kNackRetryMs = 50;
constexpr int kNackTries = 4;
constexpr size_t kMaxMissing = 256;
// Retransmissions to one viewer: a token bucket, so a viewer that NACKs everything cannot
// turn the relay into an amplifier.
constexpr double kRetransmitPerSecond = 300;
constexpr double kRetransmitBurst = 150;
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

void Peer::Attach(Worker* worker) {
  worker_ = worker;
  created_ms_ = worker->now_ms();
  last_seen_ms_ = created_ms_;
  tokens_ms_ = created_ms_;
  retransmit_tokens_ = kRetransmitBurst;
  rtx_seq_ = static_cast<uint16_t>(Random32());
  const DtlsRole role = cfg_.pull ? DtlsRole::kClient : DtlsRole::kServer;
  dtls_ = std::make_unique<DtlsTransport>(identity_, role, cfg_.fingerprint_algorithm, cfg_.fingerprint,
                                          [this](const uint8_t* d, size_t n) { SendRaw(d, n); });
  if (cfg_.pull) {
    // The client's ClientHello waits for a successful check: the ICE-lite side drops datagrams
    // from an address it has not seen a check from.
    set_address(cfg_.remote_addr);
    RAND_bytes(reinterpret_cast<uint8_t*>(&tie_breaker_), sizeof(tie_breaker_));
    next_check_ms_ = created_ms_;
  } else {
    dtls_->Start();
  }
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

bool Peer::UnwrapRtx(uint8_t* d, int* len, RtpHeader* h) {
  // RFC 4588: the original sequence number leads the payload; the rest is the original payload.
  if (h->payload_len < 2) return false;  // padding-only probe
  const uint8_t apt = cfg_.rtx_apt[h->payload_type];
  const uint16_t osn = Load16(d + h->header_len);
  std::memmove(d + h->header_len, d + h->header_len + 2, static_cast<size_t>(*len) - h->header_len - 2);
  *len -= 2;
  d[1] = static_cast<uint8_t>((d[1] & 0x80) | apt);
  Store16(d + 2, osn);
  return ParseRtp(d, static_cast<size_t>(*len), h);
}

int Peer::LayerOf(const uint8_t* d, const RtpHeader& h, bool repaired) {
  const int count = static_cast<int>(std::min<size_t>(cfg_.rids.size(), kMaxLayers));
  for (int i = 0; i < count; i++) {
    if (repaired ? rtx_ssrc_layer_[i] == h.ssrc && h.ssrc != 0 : in_[kVideo][i].started && in_[kVideo][i].ssrc == h.ssrc) {
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

bool Peer::TrackInbound(Inbound& in, uint16_t seq, int64_t now_ms, bool* recovered) {
  *recovered = false;
  if (!in.started) {
    in.started = true;
    in.max_seq = seq;
    in.base_seq = seq;
    in.received = 1;
    return true;
  }
  const int16_t diff = static_cast<int16_t>(seq - in.max_seq);
  if (diff > 0) {
    if (seq < in.max_seq) in.cycles += 65536;
    // A small gap is loss worth NACKing; a big jump is a restart, not loss.
    if (diff > 1 && diff < 200) {
      for (uint16_t s = static_cast<uint16_t>(in.max_seq + 1); s != seq; s++) {
        if (in.missing.size() >= kMaxMissing) in.missing.erase(in.missing.begin());
        in.missing.push_back({s, 0, now_ms, now_ms});
      }
    }
    in.max_seq = seq;
    in.received++;
    return true;
  }
  for (size_t i = 0; i < in.missing.size(); i++) {
    if (in.missing[i].seq == seq) {
      in.missing.erase(in.missing.begin() + static_cast<long>(i));
      in.received++;
      *recovered = true;
      return true;
    }
  }
  return false;  // a duplicate, or too late to matter
}

void Peer::OnSrtp(uint8_t* d, size_t n, int64_t now_ms) {
  if (!srtp_ready_ || cfg_.role != PeerRole::kPublisher) return;
  int len = srtp_in_.UnprotectRtp(d, n);
  if (len < 0) {
    WorkerStats::Bump(worker_->counters().srtp_errors);
    return;
  }
  last_seen_ms_ = now_ms;
  RtpHeader h;
  if (!ParseRtp(d, static_cast<size_t>(len), &h)) return;
  bool is_rtx = cfg_.rtx_apt[h.payload_type] != kNoPt;
  const uint8_t media_pt = is_rtx ? cfg_.rtx_apt[h.payload_type] : h.payload_type;
  const uint8_t kind = cfg_.kind_by_pt[media_pt];
  if (kind >= kMediaKinds) return;
  const bool simulcast = kind == kVideo && !cfg_.rids.empty();
  int layer = 0;
  if (simulcast) {
    layer = LayerOf(d, h, is_rtx);
    if (layer < 0) return;
  }
  Inbound& in = in_[kind][layer];
  if (is_rtx) {
    if (!in.started || !UnwrapRtx(d, &len, &h)) return;
    Store32(d + 8, in.ssrc);
    h.ssrc = in.ssrc;
  } else if (!in.started) {
    in.ssrc = h.ssrc;
  } else if (in.ssrc != h.ssrc) {
    if (simulcast) {
      in = Inbound();  // the layer restarted with a new SSRC
      in.ssrc = h.ssrc;
    } else {
      return;  // a second SSRC of one kind without simulcast: not ours to forward
    }
  }
  bool recovered;
  if (!TrackInbound(in, h.sequence, now_ms, &recovered)) return;
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
  uint16_t seqs[64];
  for (int kind = 0; kind < kMediaKinds; kind++) {
    for (auto& in : in_[kind]) {
      if (in.missing.empty()) continue;
      int count = 0;
      auto& m = in.missing;
      m.erase(std::remove_if(m.begin(), m.end(),
                             [&](const Inbound::Missing& x) { return x.tries >= kNackTries || now_ms - x.since_ms > kNackGiveUpMs; }),
              m.end());
      for (auto& x : m) {
        if (x.next_ms > now_ms || count >= 64) continue;
        seqs[count++] = x.seq;
        x.tries++;
        x.next_ms = now_ms + kNackRetryMs;
      }
      if (count == 0) continue;
      std::sort(seqs, seqs + count, [&](uint16_t a, uint16_t b) { return static_cast<int16_t>(a - b) < 0; });
      const size_t len = BuildNack(scratch_, cfg_.rtcp_ssrc, in.ssrc, seqs, count);
      SendRtcp(scratch_, len);
      WorkerStats::Bump(worker_->counters().nacks_sent, static_cast<uint64_t>(count));
    }
  }
}

void Peer::SendUpstreamFeedback(int64_t now_ms) {
  (void)now_ms;
  size_t off = 0;
  uint32_t ssrcs[kMediaKinds * kMaxLayers];
  int n = 0;
  for (int kind = 0; kind < kMediaKinds; kind++) {
    for (auto& in : in_[kind]) {
      if (!in.started) continue;
      const uint32_t extended = in.cycles + in.max_seq;
      const uint32_t expected = extended - in.base_seq + 1;
      const uint32_t exp_int = expected - in.expected_prior, rec_int = in.received - in.received_prior;
      in.expected_prior = expected;
      in.received_prior = in.received;
      const uint8_t fraction = exp_int == 0 || rec_int >= exp_int ? 0 : static_cast<uint8_t>(((exp_int - rec_int) << 8) / exp_int);
      const uint32_t lost = expected > in.received ? expected - in.received : 0;
      off += BuildReceiverReport(scratch_ + off, cfg_.rtcp_ssrc, in.ssrc, fraction, lost, extended, 0, 0, 0);
      ssrcs[n++] = in.ssrc;
    }
  }
  if (n == 0) return;
  if (cfg_.remb_bps > 0) off += BuildRemb(scratch_ + off, cfg_.rtcp_ssrc, cfg_.remb_bps, ssrcs, n);
  SendRtcp(scratch_, off);
}

void Peer::SendKeyframeRequest(int layer) {
  if (layer < 0 || layer >= kMaxLayers) layer = 0;
  const Inbound& in = in_[kVideo][layer];
  if (in.started) SendPli(in.ssrc);
}

// ---------------------------------------------------------------- viewer side

void Peer::WantKeyframe(int layer) {
  const int64_t now = worker_->now_ms();
  if (now - last_keyframe_ask_ms_ < kKeyframeAskIntervalMs) return;
  last_keyframe_ask_ms_ = now;
  worker_->KeyframeWanted(*cfg_.stream, layer);
}

void Peer::StartOrSwitch(Outbound& o, const MediaPacket& pkt, int64_t now_ms) {
  const uint16_t seq = pkt.rtp.sequence;
  if (!o.started) {
    o.started = true;
    o.seq_delta = static_cast<uint16_t>(Random32() - seq);
    o.ts_delta = 0;
    o.last_out_seq = static_cast<uint16_t>(seq + o.seq_delta - 1);
  } else {
    // Continue the viewer's sequence and timestamp lines where the previous layer left them.
    o.seq_delta = static_cast<uint16_t>(o.last_out_seq + 1 - seq);
    const int64_t elapsed = std::max<int64_t>(1, (now_ms - o.last_ms) * cfg_.clock_rate[pkt.kind] / 1000);
    o.ts_delta = o.last_out_ts + static_cast<uint32_t>(elapsed) - pkt.rtp.timestamp;
  }
  o.layer = pkt.layer;
  o.epoch = pkt.epoch;
  o.last_in_seq = static_cast<uint16_t>(seq - 1);
  if (o.segment_count == 4) {
    std::memmove(o.segments, o.segments + 1, sizeof(o.segments[0]) * 3);
    o.segment_count = 3;
  }
  o.segments[o.segment_count++] = {static_cast<uint16_t>(seq + o.seq_delta), pkt.layer, o.seq_delta, o.ts_delta};
}

void Peer::Forward(const MediaPacket& pkt, int top) {
  if (!srtp_ready_ || !has_addr_) return;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt.rtp.payload_type];
  if (out_pt >= 128) return;
  Outbound& o = out_[pkt.kind];
  const int64_t now = worker_->now_ms();
  // A new source (a relayed stream re-pulled): its sequence numbers say nothing about the old
  // ones, so the line restarts as on a layer switch, at a keyframe for video.
  const bool new_source = o.started && pkt.epoch != o.epoch;
  if (new_source && pkt.kind == kVideo) o.layer = -1;
  if (pkt.kind == kVideo) {
    int target = top < 0 ? pkt.layer : top;
    if (pinned_layer_ >= 0) target = std::min(pinned_layer_, target);
    if (pkt.layer != o.layer) {
      // A decoder can only start, or cross to another layer, at a keyframe of that layer.
      if (pkt.layer != target || !pkt.keyframe || pkt.recovered) {
        if (pkt.layer == target) WantKeyframe(target);
        return;
      }
      StartOrSwitch(o, pkt, now);
    } else if (target != o.layer) {
      WantKeyframe(target);
    }
  } else if (!o.started || new_source) {
    StartOrSwitch(o, pkt, now);
  }
  // Already sent (the keyframe replay overlaps the live queue): only recovered packets go late.
  if (static_cast<int16_t>(pkt.rtp.sequence - o.last_in_seq) <= 0 && !pkt.recovered) return;
  Send(o, pkt, out_pt);
}

void Peer::Send(Outbound& o, const MediaPacket& pkt, uint8_t out_pt) {
  const uint16_t out_seq = static_cast<uint16_t>(pkt.rtp.sequence + o.seq_delta);
  const uint32_t out_ts = pkt.rtp.timestamp + o.ts_delta;
  uint8_t* slot = worker_->BatchSlot();
  const size_t len = RewriteRtp(pkt.data, pkt.len, pkt.rtp, slot, cfg_.out_ssrc[pkt.kind], out_pt, out_seq, out_ts);
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_);
  if (static_cast<int16_t>(pkt.rtp.sequence - o.last_in_seq) > 0) {
    o.last_in_seq = pkt.rtp.sequence;
    o.last_out_seq = out_seq;
    o.last_out_ts = out_ts;
    o.last_ms = worker_->now_ms();
  }
  o.packets++;
  o.octets += static_cast<uint32_t>(pkt.rtp.payload_len);
  sent_++;
}

void Peer::Retransmit(int kind, uint16_t out_seq) {
  nacks_++;
  WorkerStats::Bump(worker_->counters().nacks_received);
  Outbound& o = out_[kind];
  if (!o.started) return;
  const Outbound::Segment* seg = nullptr;
  for (int i = o.segment_count - 1; i >= 0; i--) {
    if (static_cast<int16_t>(out_seq - o.segments[i].out_start) >= 0) {
      seg = &o.segments[i];
      break;
    }
  }
  if (!seg) return;
  const uint16_t seq = static_cast<uint16_t>(out_seq - seg->seq_delta);
  const MediaPacket* pkt = worker_->CachedPacket(cfg_.stream->id, kind, seg->layer, seq);
  if (!pkt) return;
  const int64_t now = worker_->now_ms();
  retransmit_tokens_ = std::min(kRetransmitBurst, retransmit_tokens_ + (now - tokens_ms_) * kRetransmitPerSecond / 1000.0);
  tokens_ms_ = now;
  if (retransmit_tokens_ < 1) return;
  retransmit_tokens_ -= 1;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt->rtp.payload_type];
  if (out_pt >= 128) return;
  uint8_t* slot = worker_->BatchSlot();
  size_t len;
  if (kind == kVideo && cfg_.out_rtx_pt != kNoPt) {
    // RFC 4588: RTX stream with its own SSRC and sequence; the payload leads with the OSN.
    len = RewriteRtp(pkt->data, pkt->len, pkt->rtp, slot, cfg_.out_rtx_ssrc, cfg_.out_rtx_pt, rtx_seq_++,
                     pkt->rtp.timestamp + seg->ts_delta);
    const size_t hdr = pkt->rtp.csrc_end;
    std::memmove(slot + hdr + 2, slot + hdr, len - hdr);
    Store16(slot + hdr, out_seq);
    len += 2;
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
    if (!o.started || o.layer < 0) continue;
    uint32_t rtp;
    const Stream::SenderClock c = cfg_.stream->GetSenderClock(kind, o.layer);
    if (c.valid) {
      // The publisher's own clock mapping, shifted into this viewer's timestamp line.
      const int64_t since = static_cast<int64_t>(ntp - c.ntp);  // NTP units: 1/2^32 s
      rtp = c.rtp + static_cast<uint32_t>((since * static_cast<int64_t>(cfg_.clock_rate[kind])) >> 32) + o.ts_delta;
    } else {
      rtp = o.last_out_ts + static_cast<uint32_t>((worker_->now_ms() - o.last_ms) * cfg_.clock_rate[kind] / 1000);
    }
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
  RtcpSummary r;
  if (cfg_.role == PeerRole::kPublisher) {
    ParseRtcp(d, static_cast<size_t>(len), &r, [](uint32_t, uint16_t) {});
    if (!r.has_sr) return;
    for (int kind = 0; kind < kMediaKinds; kind++) {
      for (int layer = 0; layer < kMaxLayers; layer++) {
        if (in_[kind][layer].started && in_[kind][layer].ssrc == r.sr_ssrc) {
          cfg_.stream->SetSenderClock(kind, layer, r.sr_ntp, r.sr_rtp);
        }
      }
    }
    return;
  }
  ParseRtcp(d, static_cast<size_t>(len), &r, [this](uint32_t media, uint16_t seq) {
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
    if (r.last_sr != 0) {
      // RFC 3550 6.4.1: RTT = arrival - LSR - DLSR, in 1/65536 s.
      const uint32_t mid = static_cast<uint32_t>(NtpNow() >> 16);
      const uint32_t rtt = mid - r.last_sr - r.delay_since_sr;
      if (rtt < 65536u * 10) fb_.rtt_ms = rtt * 1000.0 / 65536.0;
    }
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
  if (out > 0) SendRaw(buf, static_cast<size_t>(out));
}

bool Peer::OnTick(int64_t now_ms, const char** reason) {
  if (cfg_.pull && !failed_) PullChecks(now_ms);
  if (failed_) {
    *reason = "dtls-failed";
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
  if (cfg_.role == PeerRole::kPublisher) {
    SendNacks(now_ms);
    if (now_ms - last_rtcp_ms_ >= kRtcpIntervalMs) {
      // Measured layer rates let the control plane's policy compare a viewer's estimate with
      // what each layer really costs.
      const double secs = last_rtcp_ms_ > 0 ? (now_ms - last_rtcp_ms_) / 1000.0 : 0;
      last_rtcp_ms_ = now_ms;
      SendUpstreamFeedback(now_ms);
      const int layers = static_cast<int>(std::clamp<size_t>(cfg_.rids.size(), 1, kMaxLayers));
      double bps[kMaxLayers] = {};
      for (int i = 0; i < layers; i++) {
        bps[i] = secs > 0 ? layer_bytes_[i] * 8.0 / secs : 0;
        layer_bytes_[i] = 0;
      }
      if (secs > 0) worker_->EmitLayers(cfg_.id, bps, layers);
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
