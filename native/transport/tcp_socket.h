// ICE-TCP transport (RFC 6544, passive side): a non-blocking listening socket and one accepted
// connection with RFC 4571 framing and a bounded send queue. Nothing here knows about peers:
// the worker decides which peer a connection belongs to (fanout/worker_tcp.cc).
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "transport/rfc4571.h"

namespace halfsec {

// Binds a listening TCP socket to `ip`:`port` (IPv4 or IPv6 literal; "::" takes IPv4 too).
// Returns the descriptor, or -1 with `*error` set.
int OpenTcpListener(const std::string& ip, uint16_t port, std::string* error);
// The address-table key of an ICE-TCP path: never equal to a UDP AddrKey (6 or 18 bytes).
std::string TcpPathKey(uint64_t connection_id);
// The remote IP alone (IPv4-mapped IPv6 as IPv4): the key for per-address connection limits.
std::string IpKey(const sockaddr_storage& a);
// Accepts one pending connection (non-blocking, TCP_NODELAY); -1 when none is waiting or on an
// error (errno kept: EMFILE/ENFILE when out of descriptors).
int AcceptTcp(int listen_fd, sockaddr_storage* remote);
// Raises this process's open-file soft limit (RLIMIT_NOFILE) to its hard limit, as servers
// holding one descriptor per connection do; returns the soft limit now in force (0: unknown).
size_t RaiseFdLimit();

class TcpConnection {
 public:
  enum class ReadStatus : uint8_t { kOpen, kClosed, kOversize, kStopped };
  struct FlushResult {
    uint64_t bytes = 0;
    bool error = false;
  };

  TcpConnection(int fd, const sockaddr_storage& remote, size_t max_frame, size_t send_cap)
      : fd_(fd), remote_(remote), framer_(max_frame), out_(send_cap) {}
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  int fd() const { return fd_; }
  const sockaddr_storage& remote() const { return remote_; }

  // Reads what the socket holds (up to `budget` bytes this call) and hands each whole frame to
  // `on_frame(const uint8_t*, size_t) -> bool` (false: stop, keep the rest for Resume).
  template <class F>
  ReadStatus Read(uint8_t* scratch, size_t cap, size_t budget, F&& on_frame);
  // Parses frames already buffered (after a stop, or on the worker a connection moved to).
  template <class F>
  ReadStatus Resume(F&& on_frame) {
    return Map(framer_.Feed(nullptr, 0, on_frame));
  }
  // Queues one framed packet; false (dropped) when the bounded queue has no room for it.
  bool Queue(const uint8_t* d, size_t n) { return out_.Push(d, n); }
  // Writes as much of the queue as the kernel takes now; never blocks.
  FlushResult Flush();
  bool pending() const { return !out_.empty(); }

 private:
  static ReadStatus Map(Rfc4571Framer::Status s) {
    return s == Rfc4571Framer::Status::kOk ? ReadStatus::kOpen
           : s == Rfc4571Framer::Status::kStopped ? ReadStatus::kStopped
                                                   : ReadStatus::kOversize;
  }
  ssize_t RecvSome(uint8_t* d, size_t n);

  int fd_;
  sockaddr_storage remote_;
  Rfc4571Framer framer_;
  FramedSendQueue out_;
};

template <class F>
TcpConnection::ReadStatus TcpConnection::Read(uint8_t* scratch, size_t cap, size_t budget, F&& on_frame) {
  size_t got = 0;
  while (got < budget) {
    const ssize_t r = RecvSome(scratch, cap);
    if (r == 0) return ReadStatus::kClosed;
    if (r < 0) return r == -2 ? ReadStatus::kClosed : ReadStatus::kOpen;  // -1: nothing more now
    got += static_cast<size_t>(r);
    const ReadStatus st = Map(framer_.Feed(scratch, static_cast<size_t>(r), on_frame));
    if (st != ReadStatus::kOpen) return st;
  }
  return ReadStatus::kOpen;
}

}  // namespace halfsec
