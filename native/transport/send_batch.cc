#include "transport/send_batch.h"

#include <cerrno>

#include "transport/udp_socket.h"

namespace halfsec {

SendBatch::SendBatch() : slots_(kSize), addrs_(kSize), lens_(kSize), rx_ns_(kSize) {}

void SendBatch::Commit(size_t len, const sockaddr_storage& to, int64_t rx_ns) {
  lens_[count_] = len;
  rx_ns_[count_] = rx_ns;
  addrs_[count_] = to;
  count_++;
}

SendBatch::Result SendBatch::Flush(int fd, ResidenceHistogram* residence) {
  Result res;
  if (count_ == 0) return res;
  mmsghdr msgs[kSize];
  iovec iov[kSize];
  for (int i = 0; i < count_; i++) {
    iov[i] = {slots_[i].data, lens_[i]};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &addrs_[i];
    msgs[i].msg_hdr.msg_namelen = AddrLen(addrs_[i]);
  }
  int sent = 0;
  while (sent < count_) {
    const int r = sendmmsg(fd, msgs + sent, count_ - sent, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      // Socket buffer full or an error for one destination: skip that datagram, keep the rest.
      res.dropped++;
      sent++;
      continue;
    }
    for (int i = sent; i < sent + r; i++) res.bytes += lens_[i];
    if (residence) {
      const int64_t now = RealtimeNs();
      for (int i = sent; i < sent + r; i++) {
        if (rx_ns_[i] != 0) residence->Record(now - rx_ns_[i]);
      }
    }
    res.packets += static_cast<uint64_t>(r);
    sent += r;
  }
  count_ = 0;
  return res;
}

}  // namespace halfsec
