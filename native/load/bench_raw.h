// The kernel's own cost of the fan-out load: plain sendmmsg of same-size datagrams (no SRTP, no
// relay logic) to N loopback destinations at the relay's packet rate, drained by a sink socket.
// The CPU time of the sending thread per packet is the physical limit the relay is compared to.
#pragma once
#include <cstdint>
#include <string>

namespace halfsec::bench {

struct RawOptions {
  uint32_t destinations = 100;
  double rounds_per_second = 260;  // each round: one datagram to every destination
  uint32_t packet_size = 1220;
  double seconds = 5;
  uint8_t ip_octet = 200;  // destinations are 127.<ip_octet>.x.y
  // TCP: one accepted connection per destination (as the relay's ICE-TCP viewers), each packet
  // one RFC 4571 frame written with send(); the destinations' sockets are drained with epoll.
  bool tcp = false;
};

struct RawResult {
  uint64_t sent = 0, received = 0, skipped_rounds = 0, send_errors = 0;
  double user_s = 0, system_s = 0, elapsed_s = 0;
  std::string error;
};

// Blocks the calling thread for `seconds`; that thread is the sender whose CPU time is measured.
bool RunRawSend(const RawOptions& opts, RawResult* out);
bool RunRawSendTcp(const RawOptions& opts, RawResult* out);

}  // namespace halfsec::bench
