// The publisher side of Peer: inbound lines (SSRC and sequence restarts, RFC 3550 §8.2), the
// fan-out of each packet, and the RTCP the relay sends upstream (NACK, PLI, reports).
#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "fanout/peer.h"
#include "fanout/worker.h"
#include "media/rtcp_reporter.h"
#include "rtp/rtcp.h"
#include "rtp/rtx.h"

namespace halfsec {

namespace {
// Sequence numbers per upstream NACK packet.
constexpr int kNackBatch = 64;
// A second SSRC of one kind takes over once the current one has sent nothing for this long
// (an encoder restart leaves a gap of a frame or two; two live SSRCs never alternate).
constexpr int64_t kSsrcQuietMs = 250;
constexpr int64_t kTransportCcIntervalMs = 50;
constexpr int kTransportCcPacketsPerTick = 4;
constexpr size_t kTransportCcMaxBytes = 1200;  // whole RTCP datagram before SRTCP's trailer
}  // namespace

int Peer::LayerOf(const uint8_t* d, const RtpHeader& h, bool repaired) {
  const int count = static_cast<int>(std::min<size_t>(cfg_.rids.size(), kMaxLayers));
  if (!cfg_.layer_ssrcs.empty()) {
    // A layered pull: the upstream announced each layer's SSRC; its retransmissions come on
    // the same SSRC (no RTX between relays), so `repaired` never applies here.
    for (int i = 0; i < count && i < static_cast<int>(cfg_.layer_ssrcs.size()); i++) {
      if (!repaired && cfg_.layer_ssrcs[i] == h.ssrc) return i;
    }
    return -1;
  }
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

Peer::Inbound Peer::Classify(uint8_t* d, int* len, RtpHeader* h) {
  Inbound c;
  c.rtx = cfg_.rtx_apt[h->payload_type] != kNoPt;
  c.media_pt = c.rtx ? cfg_.rtx_apt[h->payload_type] : h->payload_type;
  c.kind = cfg_.kind_by_pt[c.media_pt];
  if (c.kind >= kMediaKinds) return c;
  c.simulcast = c.kind == kVideo && !cfg_.rids.empty();
  if (c.simulcast) {
    c.layer = LayerOf(d, *h, c.rtx);
    if (c.layer < 0) return c;
  }
  InboundStream& in = in_[c.kind][c.layer];
  if (c.rtx) {
    if (!in.started() || !UnwrapRtx(d, len, h, c.media_pt)) return c;
    Store32(d + 8, in.ssrc());
    h->ssrc = in.ssrc();
  }
  c.line = &in;
  return c;
}

bool Peer::OnSrtp(uint8_t* d, size_t n, int64_t now_ms, bool current_path) {
  if (!srtp_ready_ || cfg_.role != PeerRole::kPublisher) return false;
  int len = srtp_in_.UnprotectRtp(d, n);
  if (len < 0) {
    WorkerStats::Bump(worker_->counters().srtp_errors);
    return false;
  }
  last_seen_ms_ = now_ms;
  if (current_path) heard_ms_ = now_ms;
  NoteMedia(now_ms, true);
  AcceptRtp(d, len, now_ms);
  return true;
}

bool Peer::OnIngest(uint8_t* d, size_t n, int64_t now_ms) {
  if (!cfg_.ingest || n < 8) return false;
  if (LooksLikeRtcp(d, n)) {
    // FFmpeg's RTP muxer sends its sender reports on the same socket (one per SSRC it sends).
    if (Load32(d + 4) != cfg_.ingest_ssrc[kAudio] && Load32(d + 4) != cfg_.ingest_ssrc[kVideo]) return false;
    last_seen_ms_ = now_ms;
    NoteMedia(now_ms, false);
    OnPublisherRtcp(d, n);
    return true;
  }
  RtpHeader h;
  if (!LooksLikeRtp(d, n) || !ParseRtp(d, n, &h) || h.ssrc == 0) return false;
  const uint8_t media_pt = cfg_.rtx_apt[h.payload_type] != kNoPt ? cfg_.rtx_apt[h.payload_type] : h.payload_type;
  const uint8_t kind = cfg_.kind_by_pt[media_pt];
  if (kind >= kMediaKinds || cfg_.ingest_ssrc[kind] != h.ssrc) return false;
  if (kind == kVideo) {
    // B-frames: frames arrive in decode order with presentation timestamps, so a frame's RTP
    // timestamp runs behind the one before it. WebRTC receivers decode in timestamp order and
    // do not reorder: refuse the source rather than show it jerking (docs/ingest.md).
    if (ingest_has_ts_ && h.timestamp != ingest_last_ts_ && static_cast<int32_t>(h.timestamp - ingest_last_ts_) < 0) {
      Fail("b-frames");
      return false;
    }
    ingest_last_ts_ = h.timestamp;
    ingest_has_ts_ = true;
  }
  if (!ingest_live_) {
    ingest_live_ = true;
    worker_->Emit("connected", cfg_.id);
  }
  last_seen_ms_ = now_ms;
  heard_ms_ = now_ms;
  NoteMedia(now_ms, true);
  AcceptRtp(d, static_cast<int>(n), now_ms);
  return true;
}

void Peer::AcceptRtp(uint8_t* d, int len, int64_t now_ms) {
  RtpHeader h;
  if (!ParseRtp(d, static_cast<size_t>(len), &h)) return;
  // Every packet counts for congestion control, RTX and padding-only probes included.
  if (transport_cc_) {
    const uint8_t* v;
    size_t vlen;
    if (FindRtpExtension(d, h, cfg_.transport_cc_ext_id, &v, &vlen) && vlen == 2) {
      const int64_t kernel_us = worker_->rx_arrival_us();
      transport_cc_->OnPacket(Load16(v), kernel_us > 0 ? kernel_us : MonotonicUs(), h.ssrc);
    }
  }
  KnowSsrc(h.ssrc);
  const Inbound c = Classify(d, &len, &h);
  if (!c.line) return;
  if (const uint8_t spt = cfg_.stream_pt_by_pt[c.media_pt]; spt != kNoPt) {
    d[1] = static_cast<uint8_t>((d[1] & 0x80) | spt);  // the marker bit stays
    h.payload_type = spt;
  }
  // Simulcast: the rid names the layer, so a new SSRC under it is that layer's restart at once.
  bool recovered;
  const InboundStream::Verdict v = c.line->Accept(h.ssrc, h.sequence, now_ms, c.simulcast ? 0 : kSsrcQuietMs, !c.rtx, &recovered);
  if (v == InboundStream::Verdict::kDrop) return;
  // Received straight into a pooled packet: it becomes the MediaPacket as is (no copy).
  MediaPacket* pkt = worker_->TakeReceived(d);
  if (!pkt) {
    if (!(pkt = worker_->NewPacket())) return;
    std::memcpy(pkt->data, d, static_cast<size_t>(len));
  }
  pkt->len = static_cast<uint16_t>(len);
  pkt->rx_ns = worker_->rx_ns();
  pkt->rtp = h;
  pkt->kind = static_cast<MediaKind>(c.kind);
  pkt->layer = static_cast<uint8_t>(c.layer);
  pkt->recovered = recovered;
  pkt->codec = cfg_.codec_by_pt[c.media_pt];
  pkt->keyframe = c.kind == kVideo && IsKeyframeStart(pkt->codec, d + h.header_len, h.payload_len);
  pkt->layers = FrameLayers{};
  pkt->dd_len = 0;
  MediaPacket*& held = held_[c.kind][c.layer];
  if (v == InboundStream::Verdict::kProbation) {
    if (held) held->Release();
    held = pkt;  // published only if the next packet confirms the jump as a restart
    return;
  }
  const bool resumes = held && held->rtp.ssrc == h.ssrc && held->rtp.sequence == static_cast<uint16_t>(h.sequence - 1);
  if (v == InboundStream::Verdict::kRestart) OnLineRestart(c, resumes ? held->keyframe : pkt->keyframe);
  if (held) {
    if (v == InboundStream::Verdict::kRestart && resumes) {
      PublishPacket(held, now_ms);
    } else {
      held->Release();
    }
    held = nullptr;
  }
  PublishPacket(pkt, now_ms);
}

void Peer::KnowSsrc(uint32_t ssrc) {
  // Pulls and ingests have their own socket and never move; a handful of SSRCs per publisher at most.
  if (cfg_.pull || cfg_.ingest || known_ssrcs_.size() >= 2 * kMediaKinds * kMaxLayers) return;
  if (std::find(known_ssrcs_.begin(), known_ssrcs_.end(), ssrc) != known_ssrcs_.end()) return;
  known_ssrcs_.push_back(ssrc);
  worker_->KnowSsrc(ssrc, this);
}

void Peer::OnLineRestart(const Inbound& c, bool keyframe) {
  Stream* s = cfg_.stream.get();
  epoch_[c.kind][c.layer] = s->source_epoch.fetch_add(1) + 1;
  s->ClearSenderClock(c.kind, c.layer);  // the old line's NTP <-> RTP mapping says nothing now
  // Viewers wait for the new line's first keyframe: ask for one unless it is already here.
  if (c.kind == kVideo && !keyframe) worker_->KeyframeWanted(*s, c.layer);
}

void Peer::PublishPacket(MediaPacket* pkt, int64_t now_ms) {
  Stream* s = cfg_.stream.get();
  pkt->epoch = epoch_[pkt->kind][pkt->layer];
  if (pkt->kind == kVideo) {
    if (cfg_.dd_ext_id != 0 && pkt->codec == Codec::kAv1) ReadDependencyDescriptor(pkt);
    s->layer_seen_ms[pkt->layer].store(now_ms, std::memory_order_relaxed);
    layer_rate_[pkt->layer].Add(pkt->len, now_ms);
  } else {
    audio_rate_->Add(pkt->len, now_ms);
  }
  s->keyframes.Add(pkt, now_ms);
  worker_->Publish(*this, pkt);
}

size_t Peer::FeedbackHead() { return BuildFeedbackHead(scratch_, cfg_.rtcp_ssrc, cfg_.cname, cfg_.rtcp_rsize); }

void Peer::SendNacks(int64_t now_ms) {
  uint16_t seqs[kNackBatch];
  size_t off = 0;
  for (auto& lines : ingress_->in) {
    for (auto& in : lines) {
      const int count = in.nacks().TakeDue(now_ms, seqs, kNackBatch);
      if (count == 0) continue;
      if (off == 0) off = FeedbackHead();
      off += BuildNack(scratch_ + off, cfg_.rtcp_ssrc, in.ssrc(), seqs, count);
      WorkerStats::Bump(worker_->counters().nacks_sent, static_cast<uint64_t>(count));
    }
  }
  if (off > 0) SendRtcp(scratch_, off);
}

// Measured layer rates let the control plane's policy compare a viewer's estimate with what
// each layer really costs.
// The same figures (RTP packets as received, headers included) feed /api/streams and /metrics.
void Peer::ReportLayerRates(int64_t now_ms) {
  const int layers = static_cast<int>(std::clamp<size_t>(cfg_.rids.size(), 1, kMaxLayers));
  double bps[kMaxLayers] = {};
  uint32_t ssrcs[kMaxLayers] = {};
  for (int i = 0; i < layers; i++) {
    bps[i] = layer_rate_[i].Bps(now_ms);
    ssrcs[i] = in_[kVideo][i].started() ? in_[kVideo][i].ssrc() : 0;
    cfg_.stream->layer_kbps[i].store(static_cast<uint32_t>(bps[i] / 1000), std::memory_order_relaxed);
  }
  worker_->EmitLayers(cfg_.id, bps, ssrcs, layers, audio_rate_->Bps(now_ms));
}

// Feedback leaves every kTransportCcIntervalMs (Chromium's own receivers send every 50-250 ms),
// at most a few bounded packets at a time: a burst of loss is reported over several ticks.
void Peer::SendTransportCc(int64_t now_ms) {
  if (!transport_cc_ || now_ms - last_transport_cc_ms_ < kTransportCcIntervalMs) return;
  last_transport_cc_ms_ = now_ms;
  for (int i = 0; i < kTransportCcPacketsPerTick && transport_cc_->pending(); i++) {
    const size_t off = FeedbackHead();
    const size_t len = transport_cc_->Build(scratch_ + off, kTransportCcMaxBytes - off, cfg_.rtcp_ssrc);
    if (len == 0) break;
    SendRtcp(scratch_, off + len);
    WorkerStats::Bump(worker_->counters().transport_cc_sent);
  }
}

void Peer::SendKeyframeRequest(int layer) {
  if (!ingress_) return;  // not a publisher: nothing to ask
  if (layer < 0 || layer >= kMaxLayers) layer = 0;
  const InboundStream& in = in_[kVideo][layer];
  if (in.started()) SendPli(in.ssrc());
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

void Peer::SendPli(uint32_t media_ssrc) {
  if (srtp_ready_) WorkerStats::Bump(worker_->counters().keyframe_requests);
  const size_t off = FeedbackHead();
  SendRtcp(scratch_, off + BuildPli(scratch_ + off, cfg_.rtcp_ssrc, media_ssrc));
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

}  // namespace halfsec
