// The load generator's client: one WebRTC peer (viewer or publisher) of the relay, its ICE
// checks and consent, DTLS handshake, SRTP media and pacing. See bench_client.h.
#include "load/bench_client.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "ice/stun.h"

namespace halfsec::bench {

namespace {
constexpr int64_t kMs = 1000000;
// Connectivity checks until the first success, then consent (RFC 7675: every 4-6 s).
constexpr int64_t kCheckIntervalNs = 50 * kMs;
constexpr int64_t kCheckIntervalMaxNs = 1600 * kMs;
constexpr int64_t kConsentMinNs = 4000 * kMs;
constexpr int64_t kConnectTimeoutNs = 15000 * kMs;
// A publisher that fell this far behind its schedule (a stalled machine) resynchronises rather
// than sending a burst.
constexpr int64_t kMaxPacingLagNs = 200 * kMs;
// Priority of a peer-reflexive candidate (RFC 8445 5.1.2.1: type preference 110).
constexpr uint32_t kPrflxPriority = (110u << 24) | (65535u << 8) | 255u;

void Store64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

int64_t RandomRange(int64_t lo, int64_t hi) {
  uint32_t r = 0;
  RAND_bytes(reinterpret_cast<uint8_t*>(&r), sizeof r);
  return lo + static_cast<int64_t>(r % static_cast<uint32_t>(hi - lo));
}
}  // namespace

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint32_t ClientIp(uint8_t octet, uint32_t index) {
  const uint32_t hi = index / 250, lo = 1 + index % 250;
  return htonl((127u << 24) | (uint32_t{octet} << 16) | ((hi & 255) << 8) | lo);
}

// ---- Client ----

Client::Client(uint32_t id, uint32_t ip, ClientParams params, std::shared_ptr<ClientStats> stats)
    : id_(id), ip_(ip), p_(std::move(params)), stats_(std::move(stats)) {}

Client::~Client() = default;

void Client::Attach(Loop* loop, const DtlsIdentity& identity, int64_t now_ns) {
  loop_ = loop;
  created_ns_ = now_ns;
  RAND_bytes(reinterpret_cast<uint8_t*>(&tie_breaker_), sizeof tie_breaker_);
  dtls_ = std::make_unique<DtlsTransport>(identity, p_.dtls_role, p_.fingerprint_algorithm, p_.fingerprint,
                                          [this](const uint8_t* d, size_t n) { loop_->SendFrom(ip_, p_.remote, d, n); });
  if (p_.certificate && dtls_->state() != DtlsState::kFailed && !dtls_->UseCertificate(*p_.certificate)) {
    Fail("DTLS: the client's own certificate was refused");
    return;
  }
  if (dtls_->state() == DtlsState::kFailed) {
    Fail(dtls_->error());
    return;
  }
  // A DTLS server may hear the ClientHello before our own check has succeeded.
  if (p_.dtls_role == DtlsRole::kServer) dtls_->Start();
  stats_->state.store(static_cast<int>(ClientState::kChecking), std::memory_order_relaxed);
  if (p_.publisher) {
    const double pps = p_.rate_kbps * 1000.0 / 8.0 / p_.packet_size;
    interval_ns_ = static_cast<int64_t>(1e9 / (pps > 0 ? pps : 1));
    per_frame_ = static_cast<uint32_t>(pps / p_.fps + 0.5);
    if (per_frame_ == 0) per_frame_ = 1;
    if (p_.burst) interval_ns_ = static_cast<int64_t>(1e9 / p_.fps);  // one frame per step
    packet_.assign(p_.packet_size + kSrtpMaxTrailer, 0);
    // H.264-shaped filler: an FU-A-looking byte pattern that never repeats the magic.
    for (size_t i = 12 + kPayloadHeader; i < p_.packet_size; i++) packet_[i] = static_cast<uint8_t>(0x7c ^ i);
    RAND_bytes(reinterpret_cast<uint8_t*>(&seq_), sizeof seq_);
    RAND_bytes(reinterpret_cast<uint8_t*>(&rtp_ts_), sizeof rtp_ts_);
  }
  SendCheck(now_ns);
}

void Client::Fail(const std::string& why) {
  const int s = stats_->state.load(std::memory_order_relaxed);
  if (s == static_cast<int>(ClientState::kFailed) || s == static_cast<int>(ClientState::kClosed)) return;
  stats_->error = why;
  stats_->state.store(static_cast<int>(ClientState::kFailed), std::memory_order_release);
}

void Client::SendCheck(int64_t now_ns) {
  uint8_t* tid = tids_[tid_next_++ % 4];
  RAND_bytes(tid, 12);
  const std::string username = p_.remote_ufrag + ":" + p_.local_ufrag;
  uint8_t out[512];
  const size_t len = BuildStunBindingRequest(out, sizeof out, tid, username, p_.remote_pwd, kPrflxPriority,
                                             controlling_, tie_breaker_, controlling_);
  if (len > 0) loop_->SendFrom(ip_, p_.remote, out, len);
  if (ice_ok_) {
    next_check_ns_ = now_ns + RandomRange(kConsentMinNs, kConsentMinNs + 2000 * kMs);
  } else {
    check_interval_ns_ = check_interval_ns_ == 0 ? kCheckIntervalNs : std::min(check_interval_ns_ * 2, kCheckIntervalMaxNs);
    next_check_ns_ = now_ns + check_interval_ns_;
  }
}

bool Client::NeedsFastTick() const {
  if (p_.publisher) return true;
  const int s = stats_->state.load(std::memory_order_relaxed);
  return !srtp_ready_ && s != static_cast<int>(ClientState::kFailed) && s != static_cast<int>(ClientState::kClosed);
}

void Client::OnTick(int64_t now_ns) {
  const int s = stats_->state.load(std::memory_order_relaxed);
  if (s == static_cast<int>(ClientState::kFailed) || s == static_cast<int>(ClientState::kClosed)) return;
  if (now_ns >= next_check_ns_) SendCheck(now_ns);
  if (srtp_ready_) return;
  if (now_ns - created_ns_ > kConnectTimeoutNs) {
    Fail(ice_ok_ ? "dtls-timeout" : "ice-timeout");
    return;
  }
  if (dtls_ && dtls_->state() == DtlsState::kConnecting && dtls_->TimeoutMs() == 0) dtls_->OnTimer();
  if (dtls_ && dtls_->state() == DtlsState::kFailed) Fail(dtls_->error());
}

void Client::OnDatagram(uint8_t* d, size_t n, const sockaddr_in& from, int64_t rx_ns) {
  if (n == 0) return;
  if (d[0] >= 128 && d[0] <= 191) {
    OnMedia(d, n, rx_ns);
  } else if (LooksLikeStun(d, n)) {
    OnStun(d, n, from, rx_ns);
  } else if (LooksLikeDtls(d, n)) {
    OnDtls(d, n, rx_ns);
  }
}

void Client::OnStun(uint8_t* d, size_t n, const sockaddr_in& from, int64_t now_ns) {
  ClientStats::Bump(stats_->stun_in);
  StunMessage m;
  if (!ParseStun(d, n, &m)) return;
  if (m.type == kStunBindingRequest) {
    // A full agent (not the ICE-lite halfsec) checks us too: answer with our own password.
    const std::string expect = p_.local_ufrag + ":" + p_.remote_ufrag;
    if (m.username != expect || !m.has_integrity || !VerifyStunIntegrity(d, n, m, p_.local_pwd)) return;
    if (m.has_ice_controlling && controlling_) {
      // Both think they control: the remote answerer is a full agent that insists; give way.
      controlling_ = false;
    }
    uint8_t out[256];
    const size_t len = BuildStunBindingSuccess(out, sizeof out, m.transaction_id,
                                               reinterpret_cast<const sockaddr*>(&from), p_.local_pwd);
    if (len > 0) loop_->SendFrom(ip_, p_.remote, out, len);
    return;
  }
  if (m.type != kStunBindingSuccess && m.type != kStunBindingError) return;
  bool ours = false;
  for (auto& t : tids_) ours = ours || std::memcmp(t, m.transaction_id, 12) == 0;
  if (!ours || !m.has_integrity || !VerifyStunIntegrity(d, n, m, p_.remote_pwd)) return;
  if (m.type == kStunBindingError) {
    if (m.error_code == 487) {  // role conflict: take the other role and check again at once
      controlling_ = !controlling_;
      SendCheck(now_ns);
    }
    return;
  }
  if (ice_ok_) return;
  ice_ok_ = true;
  stats_->ice_ns.store(now_ns, std::memory_order_relaxed);
  stats_->state.store(static_cast<int>(ClientState::kDtls), std::memory_order_relaxed);
  next_check_ns_ = now_ns + RandomRange(kConsentMinNs, kConsentMinNs + 2000 * kMs);
  if (p_.dtls_role == DtlsRole::kClient && dtls_ && dtls_->state() == DtlsState::kNew) dtls_->Start();
}

void Client::OnDtls(const uint8_t* d, size_t n, int64_t now_ns) {
  if (!dtls_ || srtp_ready_) {
    if (dtls_ && srtp_ready_) dtls_->OnDatagram(d, n);  // retransmitted flight, alerts
    return;
  }
  const DtlsState st = dtls_->OnDatagram(d, n);
  if (st == DtlsState::kFailed || st == DtlsState::kClosed) {
    Fail(dtls_->error().empty() ? "dtls-closed" : dtls_->error());
    return;
  }
  if (st != DtlsState::kConnected) return;
  SrtpKeyMaterial k;
  if (!dtls_->GetSrtpKeys(&k) || !srtp_in_.Init(k.profile, k.remote_key, k.remote_salt) ||
      !srtp_out_.Init(k.profile, k.local_key, k.local_salt)) {
    Fail("srtp-init");
    return;
  }
  srtp_ready_ = true;
  stats_->connected_ns.store(now_ns, std::memory_order_relaxed);
  stats_->state.store(static_cast<int>(ClientState::kConnected), std::memory_order_relaxed);
}

void Client::OnMedia(uint8_t* d, size_t n, int64_t rx_ns) {
  if (!srtp_ready_) return;
  if (LooksLikeRtcp(d, n)) {
    // The relay's PLI to a publisher, or reports to a viewer: counted; a publisher that answers
    // keyframe requests reads them.
    ClientStats::Bump(stats_->rtcp_in);
    if (p_.publisher && p_.keyframe_on_request) {
      const int len = srtp_in_.UnprotectRtcp(d, n);
      RtcpSummary s;
      if (len > 0 && ParseRtcp(d, static_cast<size_t>(len), &s, [](uint32_t, uint16_t) {}) && s.keyframe_request) keyframe_requested_ = true;
    }
    return;
  }
  if (p_.publisher) return;
  ClientStats::Bump(stats_->rx_packets);
  ClientStats::Bump<uint64_t>(stats_->rx_bytes, n);
  if (stats_->first_media_ns.load(std::memory_order_relaxed) == 0) stats_->first_media_ns.store(rx_ns, std::memory_order_relaxed);
  if (rx_count_++ % kCheckEvery != 0) return;
  // Sampled: authenticate and decrypt, so a relay sending garbage cannot pass, and read the
  // publisher's send time for the latency histogram.
  ClientStats::Bump(stats_->auth_checked);
  const int len = srtp_in_.UnprotectRtp(d, n);
  if (len < 0) {
    ClientStats::Bump(stats_->auth_failed);
    return;
  }
  RtpHeader h;
  if (ParseRtp(d, static_cast<size_t>(len), &h) && h.payload_len >= 1 && (d[h.header_len] & 0x1f) == 24) return;  // parameter sets
  if (!ParseRtp(d, static_cast<size_t>(len), &h) || h.payload_len < kPayloadHeader ||
      Load32(d + h.header_len + 1) != kPayloadMagic) {
    ClientStats::Bump(stats_->bad_payload);
    return;
  }
  const int64_t sent = static_cast<int64_t>(Load64(d + h.header_len + 9));
  if (rx_ns >= sent) loop_->latency().Add(static_cast<uint64_t>(rx_ns - sent));
}

int64_t Client::SendDue(int64_t now_ns) {
  if (!p_.publisher || !srtp_ready_) return 0;
  if (stats_->paused.load(std::memory_order_relaxed)) {
    next_send_ns_ = 0;
    // A paused encoder still sends sender reports (about one a second, as browsers do): the relay
    // takes a publisher silent for ~2 s (no RTP, no RTCP) as gone (publisherMediaTimeoutMs).
    if (now_ns - last_report_ns_ >= 1'000'000'000) SendSenderReport(now_ns);
    return 0;  // the loop's tick checks again
  }
  if (next_send_ns_ == 0 || now_ns - next_send_ns_ > kMaxPacingLagNs) next_send_ns_ = now_ns;
  while (next_send_ns_ <= now_ns) {
    if (p_.burst) {
      for (uint32_t i = 0; i < per_frame_; i++) SendPacket(now_ns);
    } else {
      SendPacket(now_ns);
    }
    next_send_ns_ += interval_ns_;
  }
  return next_send_ns_;
}

void Client::SendParameterSets() {
  uint8_t buf[128 + kSrtpMaxTrailer];
  buf[0] = 0x80;
  buf[1] = static_cast<uint8_t>(p_.payload_type & 0x7f);
  Store16(buf + 2, seq_++);
  Store32(buf + 4, rtp_ts_);
  Store32(buf + 8, p_.ssrc);
  size_t len = 12;
  buf[len++] = 0x78;  // STAP-A, NRI 3
  for (const auto& [nal, n] : {std::pair{kSps, sizeof kSps}, std::pair{kPps, sizeof kPps}}) {
    Store16(buf + len, static_cast<uint16_t>(n));
    std::memcpy(buf + len + 2, nal, n);
    len += 2 + n;
  }
  const int out = srtp_out_.ProtectRtp(buf, len);
  if (out < 0) return;
  loop_->SendFrom(ip_, p_.remote, buf, static_cast<size_t>(out));
  ClientStats::Bump(stats_->tx_packets);
  ClientStats::Bump<uint64_t>(stats_->tx_bytes, static_cast<uint64_t>(out));
}

void Client::SendPacket(int64_t) {
  uint8_t buf[2048];
  const size_t len = p_.packet_size;
  if (len + kSrtpMaxTrailer > sizeof buf || len < 12 + kPayloadHeader) return;
  std::memcpy(buf, packet_.data(), len);
  const bool frame_start = in_frame_ == 0;
  if (frame_start && keyframe_requested_) {
    frame_ = 0;  // a forced IDR restarts the keyframe interval
    keyframe_requested_ = false;
  }
  const bool idr = frame_start && frame_ % kKeyframeEveryFrames == 0;
  if (idr) SendParameterSets();
  const bool marker = ++in_frame_ == per_frame_;
  buf[0] = 0x80;
  buf[1] = static_cast<uint8_t>((marker ? 0x80 : 0) | (p_.payload_type & 0x7f));
  Store16(buf + 2, seq_++);
  Store32(buf + 4, rtp_ts_);
  Store32(buf + 8, p_.ssrc);
  buf[12] = idr ? 0x65 : 0x41;  // IDR or non-IDR slice
  Store32(buf + 13, kPayloadMagic);
  Store32(buf + 17, counter_++);
  if (marker) {
    in_frame_ = 0;
    frame_++;
    rtp_ts_ += 90000 / (p_.fps ? p_.fps : 30);
  }
  Store64(buf + 21, static_cast<uint64_t>(MonotonicNs()));  // as late as possible
  const int out = srtp_out_.ProtectRtp(buf, len);
  if (out < 0) return;
  loop_->SendFrom(ip_, p_.remote, buf, static_cast<size_t>(out));
  ClientStats::Bump(stats_->tx_packets);
  ClientStats::Bump<uint64_t>(stats_->tx_bytes, static_cast<uint64_t>(out));
}

void Client::SendSenderReport(int64_t now_ns) {
  last_report_ns_ = now_ns;
  uint8_t buf[64 + kSrtpMaxTrailer];
  const size_t len = BuildSenderReport(buf, p_.ssrc, NtpNow(), rtp_ts_, static_cast<uint32_t>(stats_->tx_packets.load(std::memory_order_relaxed)), 0);
  const int out = srtp_out_.ProtectRtcp(buf, len);
  if (out > 0) loop_->SendFrom(ip_, p_.remote, buf, static_cast<size_t>(out));
}

void Client::Close() {
  if (dtls_ && dtls_->state() == DtlsState::kConnected) dtls_->Close();
  const int s = stats_->state.load(std::memory_order_relaxed);
  if (s != static_cast<int>(ClientState::kFailed)) stats_->state.store(static_cast<int>(ClientState::kClosed), std::memory_order_relaxed);
}

}  // namespace halfsec::bench
