// Outgoing datagrams gathered while a worker handles a burst, then sent with as few sendmmsg
// calls as the kernel allows: per-packet syscalls are the fan-out's largest fixed cost. A run of
// consecutive datagrams to one destination, all of one size but the last (which may be
// shorter), goes as one UDP GSO message (UDP_SEGMENT): the kernel splits it into those same
// datagrams, each still its own SRTP packet, for one traversal of the socket layer.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/residence_histogram.h"

namespace halfsec {

class SendBatch {
 public:
  static constexpr int kSize = 256;       // datagrams gathered before a flush
  static constexpr int kMessages = 64;    // messages per sendmmsg call
  static constexpr int kMaxSegments = 64; // UDP_MAX_SEGMENTS
  static constexpr size_t kMaxGsoBytes = 65000;  // under the 64 KiB IP datagram limit
  static constexpr size_t kSlotBytes = 1500 + 64;  // a full packet plus the SRTP trailer

  struct Result {
    uint64_t packets = 0, bytes = 0, dropped = 0;
    uint64_t gso_messages = 0;  // messages that carried more than one datagram
  };

  SendBatch();
  bool full() const { return count_ == kSize; }
  // Room for kSlotBytes; the caller flushes first when full().
  uint8_t* Slot() { return slots_[count_].data; }
  // `rx_ns`: the kernel receive time (CLOCK_REALTIME ns) of the packet this one forwards, or 0.
  void Commit(size_t len, const sockaddr_storage& to, int64_t rx_ns = 0);
  // Sends everything on `fd`; a datagram the kernel refuses is dropped, the rest still go.
  // Stamped datagrams that went out are recorded in `residence` (when given) at the return of
  // the sendmmsg call that carried them.
  Result Flush(int fd, ResidenceHistogram* residence = nullptr);
  // UDP GSO on (default) or off; it also turns itself off for good when the kernel refuses it.
  void set_gso(bool on) { gso_ = on; }
  bool gso() const { return gso_; }

 private:
  struct alignas(64) Buffer {
    uint8_t data[kSlotBytes];
  };
  // How many datagrams from `first` one message can carry.
  int RunLength(int first) const;
  std::vector<Buffer> slots_;
  std::vector<sockaddr_storage> addrs_;
  std::vector<size_t> lens_;
  std::vector<int64_t> rx_ns_;
  int count_ = 0;
  bool gso_ = true;
};

}  // namespace halfsec
