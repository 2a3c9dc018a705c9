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

#include <cerrno>
#include <cstring>

#include "rtp/rtp.h"
#include "ice/stun.h"

namespace halfsec::bench {

namespace {
constexpr int64_t kMs = 1000000;
// Connectivity checks until the first success, then consent (RFC 7675: every 4-6 s).
constexpr int64_t kCheckIntervalNs = 50 * kMs;
constexpr int64_t kConsentMinNs = 4000 * kMs;
constexpr int64_t kConnectTimeoutNs = 15000 * kMs;
constexpr int64_t kTickNs = 10 * kMs;
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

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t RandomRange(int64_t lo, int64_t hi) {
  uint32_t r = 0;
  RAND_bytes(reinterpret_cast<uint8_t*>(&r), sizeof r);
  return lo + static_cast<int64_t>(r % static_cast<uint32_t>(hi - lo));
}

void SetBuffer(int fd, int force_opt, int opt, int bytes) {
  // FORCE ignores net.core.[rw]mem_max (root only); fall back to the capped option.
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
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

size_t Histogram::BucketOf(uint64_t v) {
  if (v < 64) return static_cast<size_t>(v);
  const int msb = 63 - __builtin_clzll(v);
  const size_t b = 64 + static_cast<size_t>(msb - 6) * 32 + ((v >> (msb - 5)) & 31);
  return b < kBuckets ? b : kBuckets - 1;
}

uint64_t Histogram::LowerBound(size_t bucket) {
  if (bucket < 64) return bucket;
  const size_t e = (bucket - 64) / 32 + 6, m = (bucket - 64) % 32;
  return (uint64_t{32} + m) << (e - 5);
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
  next_check_ns_ = now_ns + (ice_ok_ ? RandomRange(kConsentMinNs, kConsentMinNs + 2000 * kMs) : kCheckIntervalNs);
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
    // The relay's PLI to a publisher, or reports to a viewer: counted, otherwise ignored.
    ClientStats::Bump(stats_->rtcp_in);
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
    return 0;  // the loop's tick checks again
  }
  if (next_send_ns_ == 0 || now_ns - next_send_ns_ > kMaxPacingLagNs) next_send_ns_ = now_ns;
  while (next_send_ns_ <= now_ns) {
    SendPacket(now_ns);
    next_send_ns_ += interval_ns_;
  }
  return next_send_ns_;
}

void Client::SendPacket(int64_t) {
  uint8_t buf[2048];
  const size_t len = p_.packet_size;
  if (len + kSrtpMaxTrailer > sizeof buf || len < 12 + kPayloadHeader) return;
  std::memcpy(buf, packet_.data(), len);
  const bool frame_start = in_frame_ == 0;
  const bool marker = ++in_frame_ == per_frame_;
  buf[0] = 0x80;
  buf[1] = static_cast<uint8_t>((marker ? 0x80 : 0) | (p_.payload_type & 0x7f));
  Store16(buf + 2, seq_++);
  Store32(buf + 4, rtp_ts_);
  Store32(buf + 8, p_.ssrc);
  buf[12] = frame_start && frame_ % kKeyframeEveryFrames == 0 ? 0x65 : 0x41;  // IDR or non-IDR slice
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

void Client::Close() {
  if (dtls_ && dtls_->state() == DtlsState::kConnected) dtls_->Close();
  const int s = stats_->state.load(std::memory_order_relaxed);
  if (s != static_cast<int>(ClientState::kFailed)) stats_->state.store(static_cast<int>(ClientState::kClosed), std::memory_order_relaxed);
}

// ---- Loop ----

Loop::Loop(Histogram* latency, const DtlsIdentity* identity, bool pacing)
    : latency_(latency), identity_(identity), rx_(kRxBatch), pacing_(pacing) {}

Loop::~Loop() {
  StopAndJoin();
  for (int fd : {fd_, epfd_, wakefd_, tickfd_, pacefd_}) {
    if (fd >= 0) close(fd);
  }
}

bool Loop::Open(std::string* error) {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return *error = std::string("socket: ") + strerror(errno), false;
  const int one = 1;
  setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  SetBuffer(fd_, SO_RCVBUFFORCE, SO_RCVBUF, 32 << 20);
  SetBuffer(fd_, SO_SNDBUFFORCE, SO_SNDBUF, 8 << 20);
  // Any address, so that every 127.x.y.z client address reaches this one socket; the loop
  // drops datagrams from outside 127.0.0.0/8 and sends only inside it.
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return *error = std::string("bind: ") + strerror(errno), false;
  socklen_t alen = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &alen);
  port_ = ntohs(a.sin_port);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  tickfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (pacing_) pacefd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epfd_ < 0 || wakefd_ < 0 || tickfd_ < 0 || (pacing_ && pacefd_ < 0)) return *error = std::string("epoll/eventfd/timerfd: ") + strerror(errno), false;
  itimerspec its{};
  its.it_interval.tv_nsec = kTickNs;
  its.it_value.tv_nsec = kTickNs;
  timerfd_settime(tickfd_, 0, &its, nullptr);
  for (int fd : {fd_, wakefd_, tickfd_, pacefd_}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return true;
}

void Loop::Start() {
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Loop::StopAndJoin() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  Wake();
  thread_.join();
}

void Loop::Wake() {
  const uint64_t one = 1;
  ssize_t r = write(wakefd_, &one, sizeof one);
  (void)r;
}

void Loop::Add(std::unique_ptr<Client> c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    adds_.push_back(std::move(c));
  }
  Wake();
}

void Loop::Remove(uint32_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    removes_.push_back(id);
  }
  Wake();
}

void Loop::SendFrom(uint32_t src_ip, const sockaddr_in& to, const uint8_t* d, size_t n) {
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  iovec iov{const_cast<uint8_t*>(d), n};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_in*>(&to);
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo pi{};
  pi.ipi_spec_dst.s_addr = src_ip;  // the client's own loopback address
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  ssize_t r = sendmsg(fd_, &msg, 0);
  (void)r;
}

void Loop::Run() {
  if (pacing_) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  epoll_event evs[8];
  while (running_) {
    const int n = epoll_wait(epfd_, evs, 8, 100);
    for (int i = 0; i < n; i++) {
      const int fd = evs[i].data.fd;
      if (fd == fd_) {
        Receive();
      } else {
        uint64_t v;
        ssize_t r = read(fd, &v, sizeof v);
        (void)r;
        if (fd == tickfd_) Tick(MonotonicNs());
        if (fd == pacefd_) Pace(MonotonicNs());
      }
    }
    DrainCommands();
  }
  for (auto& [ip, c] : by_ip_) c->Close();
}

void Loop::DrainCommands() {
  std::vector<std::unique_ptr<Client>> adds;
  std::vector<uint32_t> removes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) running_ = false;
    adds.swap(adds_);
    removes.swap(removes_);
  }
  const int64_t now = MonotonicNs();
  for (auto& c : adds) {
    Client* raw = c.get();
    ip_of_id_[raw->id()] = raw->ip();
    by_ip_[raw->ip()] = std::move(c);
    raw->Attach(this, *identity_, now);
  }
  for (uint32_t id : removes) {
    auto it = ip_of_id_.find(id);
    if (it == ip_of_id_.end()) continue;
    auto c = by_ip_.find(it->second);
    if (c != by_ip_.end()) {
      c->second->Close();
      by_ip_.erase(c);
    }
    ip_of_id_.erase(it);
  }
}

void Loop::Receive() {
  mmsghdr msgs[kRxBatch];
  iovec iov[kRxBatch];
  for (int round = 0; round < 16; round++) {
    for (int i = 0; i < kRxBatch; i++) {
      iov[i] = {rx_[i].data, sizeof rx_[i].data};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &rx_[i].from;
      msgs[i].msg_hdr.msg_namelen = sizeof rx_[i].from;
      msgs[i].msg_hdr.msg_control = rx_[i].control;
      msgs[i].msg_hdr.msg_controllen = sizeof rx_[i].control;
    }
    const int n = recvmmsg(fd_, msgs, kRxBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    // Kernel receive stamps are CLOCK_REALTIME; the publisher writes CLOCK_MONOTONIC.
    const int64_t mono = MonotonicNs();
    const int64_t mono_minus_real = mono - RealtimeNs();
    for (int i = 0; i < n; i++) {
      msghdr& h = msgs[i].msg_hdr;
      if (h.msg_flags & MSG_TRUNC) continue;
      if ((ntohl(rx_[i].from.sin_addr.s_addr) >> 24) != 127) continue;
      uint32_t dst = 0;
      int64_t rx_ns = mono;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo pi;
          std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
          dst = pi.ipi_addr.s_addr;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          rx_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec + mono_minus_real;
        }
      }
      auto it = by_ip_.find(dst);
      if (it == by_ip_.end()) continue;
      it->second->OnDatagram(rx_[i].data, msgs[i].msg_len, rx_[i].from, rx_ns);
    }
    if (n < kRxBatch) return;
  }
}

void Loop::Tick(int64_t now) {
  for (auto& [ip, c] : by_ip_) c->OnTick(now);
  if (pacing_) Pace(now);
}

void Loop::Pace(int64_t now) {
  int64_t next = 0;
  for (auto& [ip, c] : by_ip_) {
    if (!c->publisher()) continue;
    const int64_t t = c->SendDue(now);
    if (t > 0 && (next == 0 || t < next)) next = t;
  }
  itimerspec its{};
  if (next > 0) {
    its.it_value.tv_sec = next / 1000000000;
    its.it_value.tv_nsec = next % 1000000000;
  }
  timerfd_settime(pacefd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

// ---- LoadEngine ----

LoadEngine::~LoadEngine() { Stop(); }

bool LoadEngine::Start(const LoadOptions& opts, std::string* error) {
  opts_ = opts;
  identity_ = DtlsIdentity::Create(error);
  if (!identity_) return false;
  const int threads = opts.threads < 1 ? 1 : opts.threads;
  for (int i = 0; i <= threads; i++) {
    histograms_.push_back(std::make_unique<Histogram>());
    loops_.push_back(std::make_unique<Loop>(histograms_.back().get(), identity_.get(), i == threads));
    if (!loops_.back()->Open(error)) {
      Stop();
      return false;
    }
  }
  for (auto& l : loops_) l->Start();
  return true;
}

void LoadEngine::Stop() {
  for (auto& l : loops_) l->StopAndJoin();
  loops_.clear();
}

bool LoadEngine::Allocate(bool publisher, Slot* out, std::string* error) {
  if (loops_.empty()) return *error = "load engine is closed", false;
  if (next_index_ >= 250u * 256u) return *error = "out of client addresses", false;
  const int viewer_loops = static_cast<int>(loops_.size()) - 1;
  const int loop = publisher ? viewer_loops : next_loop_++ % viewer_loops;
  *out = {next_id_++, ClientIp(opts_.ip_octet, next_index_++), loops_[static_cast<size_t>(loop)]->port(), loop};
  pending_[out->id] = *out;
  return true;
}

bool LoadEngine::Connect(uint32_t id, ClientParams params, std::string* error) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return *error = "unknown or already connected client id", false;
  const Slot slot = it->second;
  pending_.erase(it);
  params.publisher = slot.loop == static_cast<int>(loops_.size()) - 1;
  auto stats = std::make_shared<ClientStats>();
  stats_[id] = stats;
  loop_of_[id] = slot.loop;
  loops_[static_cast<size_t>(slot.loop)]->Add(std::make_unique<Client>(id, slot.ip, std::move(params), stats));
  return true;
}

bool LoadEngine::SetPaused(uint32_t id, bool paused) {
  auto it = stats_.find(id);
  if (it == stats_.end()) return false;
  it->second->paused.store(paused, std::memory_order_relaxed);
  return true;
}

bool LoadEngine::Remove(uint32_t id) {
  pending_.erase(id);
  auto it = loop_of_.find(id);
  if (it == loop_of_.end() || loops_.empty()) return false;
  loops_[static_cast<size_t>(it->second)]->Remove(id);
  loop_of_.erase(it);
  return true;
}

}  // namespace halfsec::bench
