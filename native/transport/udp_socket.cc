#include "transport/udp_socket.h"

#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace halfsec {

std::string AddrKey(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&a);
    std::string k(6, '\0');
    std::memcpy(k.data(), &s->sin_addr, 4);
    std::memcpy(k.data() + 4, &s->sin_port, 2);
    return k;
  }
  const auto* s = reinterpret_cast<const sockaddr_in6*>(&a);
  std::string k(18, '\0');
  std::memcpy(k.data(), &s->sin6_addr, 16);
  std::memcpy(k.data() + 16, &s->sin6_port, 2);
  return k;
}

sockaddr_storage UnmapV4(const sockaddr_storage& a) {
  if (a.ss_family != AF_INET6) return a;
  const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a);
  if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) return a;
  sockaddr_storage out{};
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out);
  s4->sin_family = AF_INET;
  s4->sin_port = s6->sin6_port;
  std::memcpy(&s4->sin_addr, reinterpret_cast<const uint8_t*>(&s6->sin6_addr) + 12, 4);
  return out;
}

bool ParseBindAddress(const std::string& ip, uint16_t port, sockaddr_storage* out, std::string* error) {
  *out = sockaddr_storage{};
  if (ip.find(':') != std::string::npos) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) return true;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(out);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) return true;
  }
  *error = "bad bind address " + ip;
  return false;
}

void AllowV4Mapped(int fd, const sockaddr_storage& bound) {
  if (bound.ss_family != AF_INET6) return;
  const int off = 0;  // "::" serves IPv4 peers too (as ::ffff:a.b.c.d), whatever net.ipv6.bindv6only says
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
}

void EnableRxTimestamps(int fd) {
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
}

int64_t RxTimestampNs(const msghdr& m) {
  if (m.msg_controllen == 0) return 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&m)); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }
  }
  return 0;
}

socklen_t AddrLen(const sockaddr_storage& a) {
  return a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

int OpenUdpSocket(const std::string& ip, uint16_t port, int buffer_bytes, sockaddr_storage* bound, std::string* error) {
  sockaddr_storage ss{};
  if (!ParseBindAddress(ip, port, &ss, error)) return -1;
  const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return *error = std::string("socket: ") + strerror(errno), -1;
  AllowV4Mapped(fd, ss);
  // Kernel receive times (SCM_TIMESTAMPNS) for transport-cc feedback: when the datagram arrived,
  // not when a busy worker got to it. Best effort: without them the worker's clock is used.
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), AddrLen(ss)) != 0) {
    *error = "bind " + ip + ":" + std::to_string(port) + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  *bound = ss;
  return fd;
}

int OpenEphemeralUdpSocket(const sockaddr_storage& addr, int rcvbuf_bytes) {
  sockaddr_storage ss = addr;
  if (ss.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = 0;
  } else {
    reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = 0;
  }
  const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
  EnableRxTimestamps(fd);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), AddrLen(ss)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace halfsec
