// The load generator's loop: one thread, one UDP socket and epoll set hosting many clients;
// receive routing by destination IP, ticks, publisher pacing, commands. See bench_client.h.
#include "load/bench_client.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
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
constexpr int64_t kTickNs = 10 * kMs;
// A connected client is looked at every kSweepTicks ticks (250 ms): its consent checks are 4-6 s
// apart. Ticking 10,000 connected viewers every 10 ms took most of the loop's thread in a
// flash crowd, and the socket's receive queue overflowed.
constexpr size_t kSweepTicks = 25;

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void SetBuffer(int fd, int force_opt, int opt, int bytes) {
  // FORCE ignores net.core.[rw]mem_max (root only); fall back to the capped option.
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}
}  // namespace

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
  if (!tcp_by_ip_.empty()) {
    auto t = tcp_by_ip_.find(src_ip);
    if (t != tcp_by_ip_.end()) {
      if (n > 0xffff) return;
      TcpConn& c = t->second;
      if (c.out.size() > 256 * 1024) return;  // never unbounded: a check or RTCP lost, retried
      const uint8_t h[2] = {static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
      c.out.insert(c.out.end(), h, h + 2);
      c.out.insert(c.out.end(), d, d + n);
      FlushTcp(c);
      return;
    }
  }
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
      } else if (auto t = tcp_ip_by_fd_.find(fd); t != tcp_ip_by_fd_.end()) {
        auto c = tcp_by_ip_.find(t->second);
        if (c == tcp_by_ip_.end()) continue;
        if (evs[i].events & EPOLLOUT) FlushTcp(c->second);
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ReadTcp(c->second);
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
  while (!tcp_by_ip_.empty()) CloseTcp(tcp_by_ip_.begin()->first);
}

void Loop::OpenTcp(uint32_t ip, const sockaddr_in& remote) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = ip;  // the client's own loopback address: the relay tells peers apart by it
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      (connect(fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0 && errno != EINPROGRESS)) {
    close(fd);
    return;  // the client's checks go nowhere; it fails on its ICE timeout
  }
  TcpConn& c = tcp_by_ip_[ip];
  c.fd = fd;
  c.ip = ip;
  c.remote = remote;
  tcp_ip_by_fd_[fd] = ip;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
  ev.data.fd = fd;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

void Loop::CloseTcp(uint32_t ip) {
  auto it = tcp_by_ip_.find(ip);
  if (it == tcp_by_ip_.end()) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  tcp_ip_by_fd_.erase(it->second.fd);
  close(it->second.fd);
  tcp_by_ip_.erase(it);
}

void Loop::FlushTcp(TcpConn& c) {
  size_t done = 0;
  while (done < c.out.size()) {
    const ssize_t r = send(c.fd, c.out.data() + done, c.out.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r <= 0) break;  // EAGAIN / not connected yet: EPOLLOUT (edge-triggered) calls again
    done += static_cast<size_t>(r);
  }
  c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(done));
}

void Loop::ReadTcp(TcpConn& c) {
  uint8_t buf[65536];
  for (;;) {
    const ssize_t r = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      CloseTcp(c.ip);  // the relay closed it: the client fails on consent
      return;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    c.in.insert(c.in.end(), buf, buf + r);
    const int64_t rx_ns = MonotonicNs();
    size_t at = 0;
    auto client = by_ip_.find(c.ip);
    while (c.in.size() - at >= 2) {
      const size_t len = (static_cast<size_t>(c.in[at]) << 8) | c.in[at + 1];
      if (c.in.size() - at - 2 < len) break;
      if (client != by_ip_.end() && len > 0) client->second->OnDatagram(c.in.data() + at + 2, len, c.remote, rx_ns);
      at += 2 + len;
    }
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(at));
    if (static_cast<size_t>(r) < sizeof buf) break;
  }
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
    if (raw->tcp()) OpenTcp(raw->ip(), raw->remote());
    raw->Attach(this, *identity_, now);
    fast_.push_back(raw);
    all_.push_back(raw);
  }
  for (uint32_t id : removes) {
    auto it = ip_of_id_.find(id);
    if (it == ip_of_id_.end()) continue;
    auto c = by_ip_.find(it->second);
    if (c != by_ip_.end()) {
      c->second->Close();
      CloseTcp(it->second);
      by_ip_.erase(c);
    }
    ip_of_id_.erase(it);
  }
  if (!removes.empty()) RebuildTickLists();
}

void Loop::RebuildTickLists() {
  fast_.clear();
  all_.clear();
  for (auto& [ip, c] : by_ip_) {
    all_.push_back(c.get());
    if (c->NeedsFastTick()) fast_.push_back(c.get());
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
  for (size_t i = 0; i < fast_.size();) {
    fast_[i]->OnTick(now);
    if (fast_[i]->NeedsFastTick()) {
      i++;
    } else {
      fast_[i] = fast_.back();
      fast_.pop_back();
    }
  }
  if (!all_.empty()) {
    for (size_t n = all_.size() / kSweepTicks + 1; n > 0; n--) {
      if (sweep_ >= all_.size()) sweep_ = 0;
      Client* c = all_[sweep_++];
      if (!c->NeedsFastTick()) c->OnTick(now);
    }
  }
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

}  // namespace halfsec::bench
