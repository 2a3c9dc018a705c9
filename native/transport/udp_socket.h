// Non-blocking UDP sockets and the address helpers every socket user needs.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace halfsec {

// Binds a socket to `ip`:`port` (IPv4 or IPv6 literal) with `buffer_bytes` of send and receive
// buffer. Returns the descriptor, or -1 with `*error` set.
int OpenUdpSocket(const std::string& ip, uint16_t port, int buffer_bytes, sockaddr_storage* bound, std::string* error);
// A socket on `addr`'s address and an ephemeral port, `rcvbuf_bytes` of receive buffer; -1 on failure.
int OpenEphemeralUdpSocket(const sockaddr_storage& addr, int rcvbuf_bytes);

// An IPv4-mapped IPv6 address (a dual-stack socket bound to "::") as the plain IPv4 address it
// is, e.g. for the XOR-MAPPED-ADDRESS a browser compares with its own candidates; others as is.
sockaddr_storage UnmapV4(const sockaddr_storage& a);

// `ip` (an IPv4 or IPv6 literal) and `port` as a socket address; false with `*error` set.
bool ParseBindAddress(const std::string& ip, uint16_t port, sockaddr_storage* out, std::string* error);
// A socket bound to an IPv6 address also takes IPv4 peers (as ::ffff:a.b.c.d).
void AllowV4Mapped(int fd, const sockaddr_storage& bound);

socklen_t AddrLen(const sockaddr_storage& a);

// Asks the kernel to stamp each received datagram with its arrival time (SO_TIMESTAMPNS,
// CLOCK_REALTIME); best effort.
void EnableRxTimestamps(int fd);
// The SCM_TIMESTAMPNS arrival time in a received message's control data, in ns; 0 when absent.
int64_t RxTimestampNs(const msghdr& m);
// The raw address and port bytes: a cheap map key for a 5-tuple's remote end.
std::string AddrKey(const sockaddr_storage& a);

}  // namespace halfsec
