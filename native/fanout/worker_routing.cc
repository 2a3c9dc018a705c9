// Inbound routing on a worker: which peer a datagram belongs to. STUN binding requests find it
// by ICE username and bind or move the sender's address to it by the rules of
// ice/address_binding.h; everything else finds it by address, or by the pull peer's own socket.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "fanout/worker.h"
#include "ice/address_binding.h"
#include "ice/stun.h"
#include "transport/udp_socket.h"
#include "transport/unix_dgram.h"

namespace halfsec {

void Worker::ReceiveBatch() {
  mmsghdr msgs[kRecvBatch];
  iovec iov[kRecvBatch];
  sockaddr_storage from[kRecvBatch];
  for (int round = 0; round < 8; round++) {
    int slots = 0;
    while (slots < kRecvBatch) {
      if (!rx_pkts_[slots] && !(rx_pkts_[slots] = pool_.Get())) break;  // out of memory: fewer this round
      slots++;
    }
    if (slots == 0) return;
    for (int i = 0; i < slots; i++) {
      iov[i] = {rx_pkts_[i]->data, kMaxPacket};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_control = in_control_[i].data();
      msgs[i].msg_hdr.msg_controllen = kRecvControl;
    }
    const int n = recvmmsg(fd_, msgs, static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    // The kernel stamps with the wall clock; arrival times are kept on the monotonic one.
    const int64_t mono_us = MonotonicUs();
    const int64_t mono_minus_real = mono_us - RealtimeUs();
    for (int i = 0; i < n; i++) {
      // One kernel stamp (wall clock) serves both: residence time (rx_ns_, wall clock) and
      // transport-cc arrival times (rx_arrival_us_, on the monotonic clock).
      rx_ns_ = RxTimestampNs(msgs[i].msg_hdr);
      rx_arrival_us_ = rx_ns_ == 0 ? 0 : std::clamp<int64_t>(rx_ns_ / 1000 + mono_minus_real, mono_us - 1000000, mono_us);  // a wall-clock step
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        stats_.dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      stats_.rx_packets.fetch_add(1, std::memory_order_relaxed);
      stats_.rx_bytes.fetch_add(msgs[i].msg_len, std::memory_order_relaxed);
      rx_index_ = i;
      HandleDatagram(rx_pkts_[i]->data, msgs[i].msg_len, from[i]);
    }
    rx_index_ = -1;
    rx_ns_ = 0;
    rx_arrival_us_ = 0;
    if (n < slots) return;
  }
}

void Worker::HandleDatagram(uint8_t* d, size_t n, const sockaddr_storage& from) {
  if (n == 0) return;
  if (LooksLikeStun(d, n)) {
    HandleStun(d, n, from);
    return;
  }
  auto it = by_addr_.find(AddrKey(from));
  if (it == by_addr_.end()) {
    if (!AdoptBySrtp(d, n, from)) stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Not heard() here: anyone can send from a forged source; only what authenticates (SRTP,
  // SRTCP, a valid check) says the path is alive (Peer::OnSrtp/OnSrtcp, BindAddress).
  DeliverToPeer(*it->second, d, n);
}

// RFC 8445 moves a peer on its checks only, and a publisher's agent may not check its new path
// for seconds after its NAT rebinds (libjuice ~5 s, Chromium 2.5 s) while its media keeps coming,
// past the publisher media timeout. An RTP packet from an address no peer owns that authenticates
// under a publisher's SRTP key and passes its replay window came from that publisher (an
// off-path spoofer cannot make one; a replay fails the window): it is delivered, and the
// publisher moves there once its current path has carried nothing authenticated for
// kSrtpRebindQuietMs, so late packets from the old path do not pull it back.
bool Worker::AdoptBySrtp(uint8_t* d, size_t n, const sockaddr_storage& from) {
  if (n < 12 || !LooksLikeRtp(d, n) || LooksLikeRtcp(d, n)) return false;
  auto [first, last] = by_ssrc_.equal_range(Load32(d + 8));
  int tries = 0;
  for (auto it = first; it != last && tries < 4; ++it, ++tries) {
    Peer& peer = *it->second;
    if (!peer.has_address()) continue;
    // Unprotecting works in place: a failed try must leave the datagram intact for the next.
    uint8_t copy[kMaxPacket];
    std::memcpy(copy, d, n);
    const int64_t quiet_ms = now_ms_ - peer.heard_ms();
    if (!peer.OnSrtp(copy, n, now_ms_, /*current_path=*/false)) continue;
    if (quiet_ms >= kSrtpRebindQuietMs) {
      const std::string current = peer.path_key();
      auto mine = by_addr_.find(current);
      if (mine != by_addr_.end() && mine->second == &peer) by_addr_.erase(mine);
      by_addr_[AddrKey(from)] = &peer;
      peer.MoveTo(from, 0, current, now_ms_);
      WorkerStats::Bump(stats_.ice_rebinds);
    }
    return true;
  }
  return false;
}

void Worker::DeliverToPeer(Peer& peer, uint8_t* d, size_t n) {
  // RFC 7983 demultiplexing of everything but STUN, which the caller has handled.
  if (LooksLikeDtls(d, n)) {
    peer.OnDtls(d, n, now_ms_);
  } else if (LooksLikeRtcp(d, n)) {
    peer.OnSrtcp(d, n, now_ms_);
  } else if (LooksLikeRtp(d, n)) {
    peer.OnSrtp(d, n, now_ms_);
  } else {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

Peer* Worker::HandleStun(uint8_t* d, size_t n, const sockaddr_storage& from, TcpLink* link) {
  StunMessage m;
  if (!ParseStun(d, n, &m) || m.type != kStunBindingRequest) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  // USERNAME is "<our ufrag>:<their ufrag>" (RFC 8445 7.2.2).
  const size_t colon = m.username.find(':');
  if (colon == std::string_view::npos) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto it = by_ufrag_.find(std::string(m.username.substr(0, colon)));
  if (it == by_ufrag_.end()) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  Peer* peer = it->second;
  const PeerConfig& cfg = peer->config();
  if (!m.has_integrity || !VerifyStunIntegrity(d, n, m, cfg.local_pwd) ||
      (m.has_fingerprint && !VerifyStunFingerprint(d, n, m)) ||
      (!cfg.remote_ufrag.empty() && m.username.substr(colon + 1) != cfg.remote_ufrag)) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (link && link->owner != 0 && link->owner != peer->id()) {
    // An ICE-TCP connection belongs to the peer of its first valid check: no answer, no path.
    WorkerStats::Bump(stats_.ice_address_conflicts);
    return nullptr;
  }
  uint8_t out[256];
  size_t len;
  if (m.has_ice_controlled) {
    // We are ICE-lite and so always controlled; a peer claiming the same role must switch.
    len = BuildStunBindingError(out, sizeof(out), m.transaction_id, 487, "Role Conflict", cfg.local_pwd);
  } else {
    // A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d; the peer knows itself as a.b.c.d.
    const sockaddr_storage mapped = UnmapV4(from);
    len = BuildStunBindingSuccess(out, sizeof(out), m.transaction_id, reinterpret_cast<const sockaddr*>(&mapped),
                                  cfg.local_pwd);
  }
  if (len > 0) {
    if (link) {
      SendTcp(link->id, out, len);
    } else {
      SendNow(out, len, from);
    }
  }
  if (m.has_ice_controlled) return peer;
  peer->touch(now_ms_);
  BindAddress(*peer, from, link, m.use_candidate, peer->CheckSeenBefore(m.transaction_id));
  return peer;
}

void Worker::BindAddress(Peer& peer, const sockaddr_storage& from, TcpLink* link, bool nominates, bool repeated) {
  // A path is a UDP address or an ICE-TCP connection; both live in one table under distinct
  // keys, so one rule decides for both, and a connection also keeps the peer it first checked for.
  const std::string key = link ? TcpPathKey(link->id) : AddrKey(from);
  const uint64_t tcp_id = link ? link->id : 0;
  const auto owner = by_addr_.find(key);
  const std::string current = peer.has_address() ? peer.path_key() : std::string();
  const auto mine = peer.has_address() ? by_addr_.find(current) : by_addr_.end();
  BindingFacts f;
  f.peer_has_address = peer.has_address();
  f.same_address = peer.has_address() && current == key;
  f.table_has_entry = mine != by_addr_.end() && mine->second == &peer;
  f.owned_by_other = (owner != by_addr_.end() && owner->second != &peer) || (link && link->owner != 0 && link->owner != peer.id());
  f.nominates = nominates;
  f.repeated = repeated;
  f.from_previous = key == peer.previous_address_key();
  f.quiet_ms = now_ms_ - peer.heard_ms();
  f.since_move_ms = now_ms_ - peer.moved_ms();
  if (f.same_address) peer.heard(now_ms_);
  switch (DecideAddressBinding(f)) {
    case AddressBinding::kKeep:
      if (link) link->owner = peer.id();
      return;
    case AddressBinding::kRefuse:
      WorkerStats::Bump(stats_.ice_address_conflicts);
      return;
    case AddressBinding::kBind:
      if (link) link->owner = peer.id();
      by_addr_[key] = &peer;
      peer.set_address(from, tcp_id);
      peer.heard(now_ms_);
      peer.OnAddressBound();
      return;
    case AddressBinding::kRestore:
      if (link) link->owner = peer.id();
      by_addr_[key] = &peer;
      return;
    case AddressBinding::kMove:
      if (f.table_has_entry) by_addr_.erase(mine);
      if (link) link->owner = peer.id();
      by_addr_[key] = &peer;
      peer.MoveTo(from, tcp_id, current, now_ms_);
      WorkerStats::Bump(stats_.ice_rebinds);
      return;
  }
}

bool Worker::OpenPullSocket(Peer* peer) {
  const int fd = OpenEphemeralUdpSocket(bind_addr_, 1 << 20);
  if (fd < 0) return false;
  if (!WatchReadable(fd)) {
    close(fd);
    return false;
  }
  peer->set_socket(fd);  // the peer owns it from here on
  by_fd_[fd] = peer;
  return true;
}

void Worker::ReceivePull(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  Peer* peer = it->second;
  if (peer->is_ingest()) {
    ReceiveIngest(*peer);
    return;
  }
  const std::string expect = AddrKey(peer->address());
  for (int i = 0; i < kRecvBatch; i++) {
    sockaddr_storage from{};
    uint8_t* d = in_slots_[0].data;
    iovec iov{d, kMaxPacket};
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof(from);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = in_control_[0].data();
    m.msg_controllen = kRecvControl;
    const ssize_t r = recvmsg(fd, &m, MSG_DONTWAIT);
    if (r <= 0) return;
    if ((m.msg_flags & MSG_TRUNC) || static_cast<size_t>(r) > kMaxPacket || AddrKey(from) != expect) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const size_t n = static_cast<size_t>(r);
    stats_.rx_packets.fetch_add(1, std::memory_order_relaxed);
    stats_.rx_bytes.fetch_add(n, std::memory_order_relaxed);
    if (LooksLikeStun(d, n)) {
      StunMessage sm;
      if (ParseStun(d, n, &sm) && (sm.type == kStunBindingSuccess || sm.type == kStunBindingError)) {
        peer->OnStunResponse(d, n, sm, now_ms_);
      } else {
        stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      rx_ns_ = RxTimestampNs(m);
      DeliverToPeer(*peer, d, n);
      rx_ns_ = 0;
    }
  }
}

bool Worker::WatchIngest(Peer* peer) {
  const int fd = peer->socket_fd();
  if (fd < 0 || !WatchReadable(fd)) return false;
  by_fd_[fd] = peer;
  return true;
}

// Only the child the relay started counts: the kernel stamps each datagram with its sender's pid
// (SCM_CREDENTIALS), which no other unprivileged process can forge, and the socket's directory
// is the relay's own (mode 0700). Anything else, or anything before the pid is known, is dropped.
void Worker::ReceiveIngest(Peer& peer) {
  for (int i = 0; i < kRecvBatch; i++) {
    uint8_t* d = in_slots_[0].data;
    pid_t pid = 0;
    const ssize_t r = ReceiveWithSender(peer.socket_fd(), d, kMaxPacket, &pid);
    if (r < 0) return;
    if (r == 0 || peer.ingest_pid() == 0 || pid != peer.ingest_pid()) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    stats_.rx_packets.fetch_add(1, std::memory_order_relaxed);
    stats_.rx_bytes.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
    // No kernel stamp on an AF_UNIX socket: residence counts from the read, as on ICE-TCP.
    rx_ns_ = RealtimeNs();
    if (!peer.OnIngest(d, static_cast<size_t>(r), now_ms_)) stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    rx_ns_ = 0;
  }
}

}  // namespace halfsec
