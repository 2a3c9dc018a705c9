#include "load/bench_raw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "load/bench_client.h"

namespace halfsec::bench {

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

double TvSeconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

// Drains the sink the way a load-generator loop does (recvmmsg with IP_PKTINFO), so that loopback
// delivery costs the sender what it costs the relay.
void Drain(int fd, std::atomic<bool>* stop, std::atomic<uint64_t>* received) {
  constexpr int kBatch = 64;
  std::vector<uint8_t> data(kBatch * 2048);
  std::vector<uint8_t> control(kBatch * 64);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  uint64_t count = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < kBatch; i++) {
      iov[i] = {data.data() + i * 2048, 2048};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = control.data() + i * 64;
      msgs[i].msg_hdr.msg_controllen = 64;
    }
    const int n = recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);  // SO_RCVTIMEO bounds the wait
    if (n > 0) count += static_cast<uint64_t>(n);
  }
  received->store(count);
}

// Runs `round()` once every 1/rounds_per_second for o.seconds on this thread, drops the rounds
// that fall more than 50 ms behind (like a relay whose input queue overflowed), and records the
// thread's CPU time and the elapsed time in `out`.
template <typename Round>
void PacedRounds(const RawOptions& o, RawResult* out, Round round) {
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  const int64_t start = MonotonicNs();
  const int64_t end = start + static_cast<int64_t>(o.seconds * 1e9);
  const double round_ns = 1e9 / o.rounds_per_second;
  const uint64_t max_backlog = static_cast<uint64_t>(o.rounds_per_second * 0.05) + 1;  // 50 ms
  uint64_t done = 0;
  for (;;) {
    const int64_t now = MonotonicNs();
    if (now >= end) break;
    const uint64_t due = static_cast<uint64_t>((now - start) / round_ns) + 1;
    if (due > done + max_backlog) {
      out->skipped_rounds += due - done - max_backlog;
      done = due - max_backlog;
    }
    for (; done < due; done++) round();
    const int64_t next = start + static_cast<int64_t>(done * round_ns);
    timespec ts{static_cast<time_t>(next / 1000000000), static_cast<long>(next % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  getrusage(RUSAGE_THREAD, &after);
  out->elapsed_s = (MonotonicNs() - start) / 1e9;
  out->user_s = TvSeconds(after.ru_utime) - TvSeconds(before.ru_utime);
  out->system_s = TvSeconds(after.ru_stime) - TvSeconds(before.ru_stime);
}

}  // namespace

bool RunRawSend(const RawOptions& o, RawResult* out) {
  if (o.tcp) return RunRawSendTcp(o, out);
  if (o.destinations == 0 || o.destinations > 250u * 256u || o.packet_size < 12 || o.packet_size > 1500 ||
      o.seconds <= 0 || o.seconds > 600 || o.rounds_per_second <= 0) {
    out->error = "raw send: destinations 1..64000, packetSize 12..1500, seconds 0..600, rate > 0";
    return false;
  }
  Fd sink(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  Fd sender(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sink.fd < 0 || sender.fd < 0) return out->error = std::string("socket: ") + strerror(errno), false;
  const int one = 1, big = 32 << 20;
  setsockopt(sink.fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  if (setsockopt(sink.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0) setsockopt(sink.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(sender.fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0) setsockopt(sender.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  timeval tv{0, 100000};
  setsockopt(sink.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(sink.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return out->error = std::string("bind: ") + strerror(errno), false;
  socklen_t alen = sizeof a;
  getsockname(sink.fd, reinterpret_cast<sockaddr*>(&a), &alen);
  const uint16_t port = a.sin_port;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(sender.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return out->error = std::string("bind: ") + strerror(errno), false;

  std::vector<sockaddr_in> dests(o.destinations);
  for (uint32_t i = 0; i < o.destinations; i++) {
    dests[i] = {};
    dests[i].sin_family = AF_INET;
    dests[i].sin_port = port;
    dests[i].sin_addr.s_addr = ClientIp(o.ip_octet, i);
  }
  std::vector<uint8_t> payload(o.packet_size, 0x5a);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  std::thread drain(Drain, sink.fd, &stop, &received);

  constexpr int kBatch = 64;  // the relay's send batch
  mmsghdr msgs[kBatch];
  iovec iov{payload.data(), payload.size()};
  PacedRounds(o, out, [&] {
    for (uint32_t first = 0; first < o.destinations; first += kBatch) {
      const int count = static_cast<int>(std::min<uint32_t>(kBatch, o.destinations - first));
      for (int i = 0; i < count; i++) {
        msgs[i] = {};
        msgs[i].msg_hdr.msg_name = &dests[first + static_cast<uint32_t>(i)];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int sent = 0;
      while (sent < count) {
        const int r = sendmmsg(sender.fd, msgs + sent, static_cast<unsigned>(count - sent), 0);
        if (r <= 0) {
          if (r < 0 && errno == EINTR) continue;
          out->send_errors++;
          sent++;
          continue;
        }
        sent += r;
        out->sent += static_cast<uint64_t>(r);
      }
    }
  });
  usleep(50000);  // let the sink read what is still queued
  stop.store(true);
  drain.join();
  out->received = received.load();
  return true;
}

bool RunRawSendTcp(const RawOptions& o, RawResult* out) {
  if (o.destinations == 0 || o.destinations > 20000 || o.packet_size < 12 || o.packet_size > 1500 || o.seconds <= 0 ||
      o.seconds > 600 || o.rounds_per_second <= 0) {
    out->error = "raw send (tcp): destinations 1..20000, packetSize 12..1500, seconds 0..600, rate > 0";
    return false;
  }
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  if (listener.fd < 0 || ep.fd < 0) return out->error = std::string("socket: ") + strerror(errno), false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener.fd, 4096) != 0) {
    return out->error = std::string("bind/listen: ") + strerror(errno), false;
  }
  socklen_t alen = sizeof a;
  getsockname(listener.fd, reinterpret_cast<sockaddr*>(&a), &alen);
  const int one = 1;
  std::vector<std::unique_ptr<Fd>> clients, accepted;
  for (uint32_t i = 0; i < o.destinations; i++) {
    auto c = std::make_unique<Fd>(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = ClientIp(o.ip_octet, i);
    if (c->fd < 0 || bind(c->fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        connect(c->fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      return out->error = std::string("connect: ") + strerror(errno), false;
    }
    const int s = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0) return out->error = std::string("accept: ") + strerror(errno), false;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the relay's connections
    accepted.push_back(std::make_unique<Fd>(s));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c->fd;
    epoll_ctl(ep.fd, EPOLL_CTL_ADD, c->fd, &ev);
    clients.push_back(std::move(c));
  }
  const size_t frame = o.packet_size + 2;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  std::thread drain([&] {
    std::vector<uint8_t> buf(1 << 16);
    epoll_event evs[64];
    uint64_t bytes = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(ep.fd, evs, 64, 100);
      for (int i = 0; i < n; i++) {
        const ssize_t r = recv(evs[i].data.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (r > 0) bytes += static_cast<uint64_t>(r);
      }
    }
    received.store(bytes / frame);
  });
  std::vector<uint8_t> payload(frame, 0x5a);
  payload[0] = static_cast<uint8_t>(o.packet_size >> 8);
  payload[1] = static_cast<uint8_t>(o.packet_size);
  PacedRounds(o, out, [&] {
    for (auto& s : accepted) {
      const ssize_t r = send(s->fd, payload.data(), frame, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r == static_cast<ssize_t>(frame)) {
        out->sent++;
      } else {
        out->send_errors++;  // full (or a partial write): the relay would drop it too
      }
    }
  });
  usleep(50000);  // let the clients read what is still queued
  stop.store(true);
  drain.join();
  out->received = received.load();
  return true;
}

}  // namespace halfsec::bench
