#include "peer.h"

#include <openssl/rand.h>

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
  if (!in_ssrc_set_[kind]) {
    in_ssrc_[kind] = h.ssrc;
    in_ssrc_set_[kind] = true;
  } else if (in_ssrc_[kind] != h.ssrc) {
    return;  // a second SSRC of the same kind (a simulcast layer): not forwarded yet
  }
  MediaPacket* pkt = MediaPacket::Create();
  if (!pkt) return;
  std::memcpy(pkt->data, d, static_cast<size_t>(len));
  pkt->len = static_cast<uint16_t>(len);
  pkt->rtp = h;
  pkt->kind = static_cast<MediaKind>(kind);
  worker_->Publish(*this, pkt);
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
    seq_delta_[kind] = static_cast<uint16_t>(start - pkt.rtp.sequence);
    seq_started_[kind] = true;
  }
  uint8_t* slot = worker_->BatchSlot();
  const size_t len = RewriteRtp(pkt.data, pkt.len, pkt.rtp, slot, cfg_.out_ssrc[kind], out_pt,
                                static_cast<uint16_t>(pkt.rtp.sequence + seq_delta_[kind]));
  const int out = srtp_out_.ProtectRtp(slot, len);
  if (out < 0) return;
  worker_->BatchCommit(static_cast<size_t>(out), addr_);
  tx_packets++;
}

void Peer::SendKeyframeRequest() {
  if (!srtp_ready_ || !has_addr_ || !in_ssrc_set_[kVideo]) return;
  const size_t len = BuildPli(scratch_, cfg_.rtcp_ssrc, in_ssrc_[kVideo]);
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
