#include "transport/tcp_socket.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/udp_socket.h"

namespace halfsec {

int OpenTcpListener(const std::string& ip, uint16_t port, std::string* error) {
  sockaddr_storage ss{};
  if (!ParseBindAddress(ip, port, &ss, error)) return -1;
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return *error = std::string("socket: ") + strerror(errno), -1;
  // SO_REUSEADDR only lets a restarted relay bind while old connections sit in TIME_WAIT; no
  // SO_REUSEPORT: another process must not be able to share (and steal from) this port.
  AllowV4Mapped(fd, ss);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), AddrLen(ss)) != 0 || listen(fd, 1024) != 0) {
    *error = "bind tcp " + ip + ":" + std::to_string(port) + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

std::string TcpPathKey(uint64_t connection_id) {
  std::string k(9, 't');
  std::memcpy(k.data() + 1, &connection_id, 8);
  return k;
}

std::string IpKey(const sockaddr_storage& a) {
  const sockaddr_storage u = UnmapV4(a);
  if (u.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&u);
    return std::string(reinterpret_cast<const char*>(&s->sin_addr), 4);
  }
  const auto* s = reinterpret_cast<const sockaddr_in6*>(&u);
  return std::string(reinterpret_cast<const char*>(&s->sin6_addr), 16);
}

int AcceptTcp(int listen_fd, sockaddr_storage* remote) {
  for (;;) {
    socklen_t len = sizeof(*remote);
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(remote), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    return -1;
  }
}

size_t RaiseFdLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit up = r;
    up.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) r = up;
  }
  return r.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(r.rlim_cur);
}

TcpConnection::~TcpConnection() {
  if (fd_ >= 0) close(fd_);
}

ssize_t TcpConnection::RecvSome(uint8_t* d, size_t n) {
  for (;;) {
    const ssize_t r = recv(fd_, d, n, MSG_DONTWAIT);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
  }
}

TcpConnection::FlushResult TcpConnection::Flush() {
  FlushResult r;
  while (!out_.empty()) {
    const ssize_t n = send(fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      out_.Consume(static_cast<size_t>(n));
      r.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    r.error = true;
    break;
  }
  return r;
}

}  // namespace halfsec
