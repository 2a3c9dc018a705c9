#include "peer.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "worker.h"

namespace halfsec {

namespace {
constexpr int64_t kConnectTimeoutMs = 10000;
// RFC 7675: consent expires 30 s after the last authenticated packet from the peer.
constexpr int64_t kConsentTimeoutMs = 30000;
}  // namespace

Peer::Peer(PeerConfig config, const DtlsIdentity& identity) : cfg_(std::move(config)), identity_(identity) {}

void Peer::set_address(const sockaddr_storage& a) {
  addr_ = a;
  has_addr_ = true;
}

void Peer::Attach(Worker* worker) {
  worker_ = worker;
  created_ms_ = worker->now_ms();
  last_seen_ms_ = created_ms_;
  dtls_ = std::make_unique<DtlsTransport>(identity_, DtlsRole::kServer, cfg_.fingerprint_algorithm, cfg_.fingerprint,
                                          [this](const uint8_t* d, size_t n) {
                                            if (has_addr_) worker_->SendNow(d, n, addr_);
                                          });
  dtls_->Start();
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
  // A new viewer can only start decoding at a keyframe.
  if (cfg_.role == PeerRole::kViewer) worker_->KeyframeWanted(*cfg_.stream);
}

void Peer::OnSrtp(uint8_t* d, size_t n, int64_t now_ms) {
  if (!srtp_ready_ || cfg_.role != PeerRole::kPublisher) return;
  const int len = srtp_in_.UnprotectRtp(d, n);
  if (len < 0) {
    srtp_errors++;
    return;
  }
  last_seen_ms_ = now_ms;
  rx_packets++;
  RtpHeader h;
  if (!ParseRtp(d, static_cast<size_t>(len), &h)) return;
  const uint8_t kind = cfg_.kind_by_pt[h.payload_type];
  if (kind >= kMediaKinds) return;
  if (kind == kVideo && !cfg_.rids.empty()) {
    if (!SelectLayer(d, h, now_ms)) return;
  } else if (!in_ssrc_set_[kind]) {
    in_ssrc_[kind] = h.ssrc;
    in_ssrc_set_[kind] = true;
  } else if (in_ssrc_[kind] != h.ssrc) {
    return;  // a second SSRC of one kind without simulcast: not ours to forward
  }
  Rebase& rb = rebase_[kind];
  const uint16_t seq = static_cast<uint16_t>(h.sequence + rb.seq_delta);
  const uint32_t ts = h.timestamp + rb.ts_delta;
  if (!rb.started || static_cast<int16_t>(seq - rb.last_seq) > 0) {
    rb.started = true;
    rb.last_seq = seq;
    rb.last_ts = ts;
    rb.last_ms = now_ms;
  }
  MediaPacket* pkt = worker_->NewPacket();
  if (!pkt) return;
  std::memcpy(pkt->data, d, static_cast<size_t>(len));
  pkt->len = static_cast<uint16_t>(len);
  pkt->rtp = h;
  pkt->kind = static_cast<MediaKind>(kind);
  pkt->seq = seq;
  pkt->ts = ts;
  worker_->Publish(*this, pkt);
}

int Peer::LayerOf(const uint8_t* d, const RtpHeader& h, int64_t now_ms) {
  const int count = static_cast<int>(std::min<size_t>(cfg_.rids.size(), kMaxLayers));
  int layer = -1;
  for (int i = 0; i < count; i++) {
    if (layers_[i].seen && layers_[i].ssrc == h.ssrc) layer = i;
  }
  if (layer < 0) {
    const uint8_t* v;
    size_t vlen;
    if (!FindRtpExtension(d, h, cfg_.rid_ext_id, &v, &vlen)) return -1;
    const std::string_view rid(reinterpret_cast<const char*>(v), vlen);
    for (int i = 0; i < count; i++) {
      if (cfg_.rids[i] == rid) layer = i;
    }
    if (layer < 0) return -1;
    layers_[layer].ssrc = h.ssrc;
    layers_[layer].seen = true;
  }
  layers_[layer].last_ms = now_ms;
  return layer;
}

bool Peer::SelectLayer(const uint8_t* d, const RtpHeader& h, int64_t now_ms) {
  // Until per-viewer layer selection exists, the stream carries the highest layer that is
  // flowing; a layer silent for a second no longer counts.
  constexpr int64_t kLayerStaleMs = 1000;
  constexpr int64_t kLayerPliIntervalMs = 300;
  const int layer = LayerOf(d, h, now_ms);
  if (layer < 0) return false;
  int target = -1;
  for (int i = 0; i < kMaxLayers; i++) {
    if (layers_[i].seen && now_ms - layers_[i].last_ms < kLayerStaleMs) target = i;
  }
  const bool current_alive = current_layer_ >= 0 && now_ms - layers_[current_layer_].last_ms < kLayerStaleMs;
  if (layer == current_layer_) {
    if (target != current_layer_ && now_ms - last_layer_pli_ms_ >= kLayerPliIntervalMs) {
      last_layer_pli_ms_ = now_ms;
      SendPli(layers_[target].ssrc);
    }
    return true;
  }
  if (layer != target && current_alive) return false;
  // A decoder can only cross to another layer at a keyframe of that layer.
  const Codec codec = cfg_.codec_by_pt[h.payload_type];
  if (!IsKeyframeStart(codec, d + h.header_len, h.payload_len)) {
    if (now_ms - last_layer_pli_ms_ >= kLayerPliIntervalMs) {
      last_layer_pli_ms_ = now_ms;
      SendPli(h.ssrc);
    }
    return false;
  }
  Rebase& rb = rebase_[kVideo];
  if (rb.started) {
    rb.seq_delta = static_cast<uint16_t>(rb.last_seq + 1 - h.sequence);
    const int64_t elapsed = std::max<int64_t>(1, (now_ms - rb.last_ms) * 90);  // 90 kHz video clock
    rb.ts_delta = static_cast<uint32_t>(rb.last_ts + static_cast<uint32_t>(elapsed) - h.timestamp);
  }
  current_layer_ = layer;
  in_ssrc_[kVideo] = h.ssrc;
  in_ssrc_set_[kVideo] = true;
  return true;
}

void Peer::OnSrtcp(uint8_t* d, size_t n, int64_t now_ms) {
  if (!srtp_ready_) return;
  const int len = srtp_in_.UnprotectRtcp(d, n);
  if (len < 0) {
    srtp_errors++;
    return;
  }
  last_seen_ms_ = now_ms;
  if (cfg_.role != PeerRole::kViewer) return;
  bool pli = false;
  if (ScanRtcpForKeyframeRequest(d, static_cast<size_t>(len), &pli) && pli) worker_->KeyframeWanted(*cfg_.stream);
}

void Peer::Forward(const MediaPacket& pkt) {
  if (!srtp_ready_ || !has_addr_) return;
  const uint8_t out_pt = cfg_.out_pt_by_pt[pkt.rtp.payload_type];
  if (out_pt >= 128) return;
  const int kind = pkt.kind;
  if (!seq_started_[kind]) {
    uint16_t start = 0;
    RAND_bytes(reinterpret_cast<uint8_t*>(&start), sizeof(start));
    seq_delta_[kind] = static_cast<uint16_t>(start - pkt.seq);
    seq_started_[kind] = true;
  }
  uint8_t* slot = worker_->BatchSlot();
  const size_t len = RewriteRtp(pkt.data, pkt.len, pkt.rtp, slot, cfg_.out_ssrc[kind], out_pt,
                                static_cast<uint16_t>(pkt.seq + seq_delta_[kind]), pkt.ts);
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_);
  tx_packets++;
}

void Peer::SendKeyframeRequest() {
  if (in_ssrc_set_[kVideo]) SendPli(in_ssrc_[kVideo]);
}

void Peer::SendPli(uint32_t media_ssrc) {
  if (!srtp_ready_ || !has_addr_) return;
  const size_t len = BuildPli(scratch_, cfg_.rtcp_ssrc, media_ssrc);
  const int out = srtp_out_.ProtectRtcp(scratch_, len);
  if (out > 0) worker_->SendNow(scratch_, static_cast<size_t>(out), addr_);
}

bool Peer::OnTick(int64_t now_ms, const char** reason) {
  if (failed_) {
    *reason = dtls_ && !dtls_->error().empty() ? "dtls-failed" : "dtls-closed";
    return false;
  }
  if (!srtp_ready_) {
    if (dtls_ && dtls_->TimeoutMs() == 0) dtls_->OnTimer();
    if (dtls_ && dtls_->state() == DtlsState::kFailed) {
      *reason = "dtls-failed";
      return false;
    }
    if (now_ms - created_ms_ > kConnectTimeoutMs) {
      *reason = "connect-timeout";
      return false;
    }
    return true;
  }
  if (now_ms - last_seen_ms_ > kConsentTimeoutMs) {
    *reason = "consent-expired";
    return false;
  }
  return true;
}

void Peer::Close() {
  if (dtls_ && dtls_->state() == DtlsState::kConnected && has_addr_) dtls_->Close();
}

}  // namespace halfsec
