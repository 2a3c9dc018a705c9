#include "transport/send_batch.h"

#include <netinet/udp.h>

#include <cerrno>
#include <cstring>

#include "transport/udp_socket.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace halfsec {

namespace {
bool SameAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  return a.ss_family == b.ss_family && std::memcmp(&a, &b, AddrLen(a)) == 0;
}
}  // namespace

SendBatch::SendBatch() : slots_(kSize), addrs_(kSize), lens_(kSize), rx_ns_(kSize) {}

void SendBatch::Commit(size_t len, const sockaddr_storage& to, int64_t rx_ns) {
  lens_[count_] = len;
  addrs_[count_] = to;
  rx_ns_[count_] = rx_ns;
  count_++;
}

int SendBatch::RunLength(int first) const {
  if (!gso_) return 1;
  const size_t seg = lens_[first];
  const int cap = static_cast<int>(std::min<size_t>(kMaxSegments, kMaxGsoBytes / seg));
  int n = 1;
  while (first + n < count_ && n < cap && SameAddress(addrs_[first + n], addrs_[first])) {
    const size_t len = lens_[first + n];
    if (len > seg) break;
    n++;
    if (len < seg) break;  // a shorter datagram can only end a run
  }
  return n;
}

SendBatch::Result SendBatch::Flush(int fd, ResidenceHistogram* residence) {
  Result res;
  if (count_ == 0) return res;
  mmsghdr msgs[kMessages];
  iovec iov[kSize];
  int first_of[kMessages + 1];  // slot index each message starts at; one past the last
  alignas(cmsghdr) uint8_t control[kMessages][CMSG_SPACE(sizeof(uint16_t))];
  int next = 0;  // first slot not yet sent
  while (next < count_) {
    // Lay out up to kMessages messages from `next`.
    int m = 0, slot = next;
    while (m < kMessages && slot < count_) {
      const int run = RunLength(slot);
      for (int k = 0; k < run; k++) iov[slot + k] = {slots_[slot + k].data, lens_[slot + k]};
      msgs[m] = {};
      msgs[m].msg_hdr.msg_iov = &iov[slot];
      msgs[m].msg_hdr.msg_iovlen = static_cast<size_t>(run);
      msgs[m].msg_hdr.msg_name = &addrs_[slot];
      msgs[m].msg_hdr.msg_namelen = AddrLen(addrs_[slot]);
      if (run > 1) {
        msgs[m].msg_hdr.msg_control = control[m];
        msgs[m].msg_hdr.msg_controllen = sizeof(control[m]);
        cmsghdr* c = CMSG_FIRSTHDR(&msgs[m].msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t seg = static_cast<uint16_t>(lens_[slot]);
        std::memcpy(CMSG_DATA(c), &seg, sizeof(seg));
      }
      first_of[m++] = slot;
      slot += run;
    }
    first_of[m] = slot;
    int sent = 0;
    while (sent < m) {
      const int r = sendmmsg(fd, msgs + sent, static_cast<unsigned>(m - sent), 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        const int count = first_of[sent + 1] - first_of[sent];
        if (r < 0 && count > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
          // No GSO on this path (an old kernel, a device without it): off for good, and this
          // message's datagrams go again one by one with the next layout.
          gso_ = false;
          break;
        }
        // Socket buffer full or an error for one destination: skip that message, keep the rest.
        res.dropped += static_cast<uint64_t>(count);
        sent++;
        continue;
      }
      const int64_t now = residence ? RealtimeNs() : 0;
      for (int i = sent; i < sent + r; i++) {
        const int a = first_of[i], b = first_of[i + 1];
        if (b - a > 1) res.gso_messages++;
        for (int k = a; k < b; k++) {
          res.bytes += lens_[k];
          if (residence && rx_ns_[k] != 0) residence->Record(now - rx_ns_[k]);
        }
        res.packets += static_cast<uint64_t>(b - a);
      }
      sent += r;
    }
    next = first_of[sent];
  }
  count_ = 0;
  return res;
}

}  // namespace halfsec
