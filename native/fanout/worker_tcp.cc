// ICE-TCP on a worker (RFC 6544 passive candidates, RFC 4571 framing). One worker holds the
// engine's listener: it accepts, enforces the per-address and per-worker limits, reads the first
// binding request and hands the connection to the worker of the peer its USERNAME names (the
// only cross-thread step, once per connection). That worker checks it like a UDP check
// (worker_routing.cc HandleStun): a connection belongs to the peer of its first valid check and
// is a path that peer's media can take, by the same rules as a UDP address. Sends are queued per
// connection (bounded) and written at the end of each loop pass, never blocking the loop.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "fanout/engine.h"
#include "fanout/worker.h"
#include "ice/stun.h"

namespace halfsec {

namespace {
constexpr size_t kReadBudget = 64 * 1024;  // per readiness event: one connection cannot hog the loop
constexpr int64_t kLogBurstMs = 5000;      // rejections are logged once per burst
// A peer whose only path was an ICE-TCP connection that closed (FIN, RST, a write error, a
// rejected frame) has this long to check in over another path before its session ends, instead
// of waiting out the consent timeout (30 s by default). The client learns of the close within a
// round trip; an agent whose selected pair is lost pings its other pairs at short intervals
// (libwebrtc: 48-480 ms while weak) and a nominating check moves the peer at once
// (address_binding.h); a new TCP connection with the same username is taken like any other. 3 s
// covers several such rounds on a loaded client and is far below any consent timeout in use.
// (Chromium here did not reopen a reset ICE-TCP connection within 6 s: with TCP its only path,
// the grace just bounds how long a dead viewer holds its resources.)
constexpr int64_t kTcpPathGraceMs = 3000;
constexpr int64_t kListenPauseMs = 100;  // the listener's rest after running out of descriptors
}  // namespace

bool Worker::OpenTcp(const std::string& ip, uint16_t port, std::string* error) {
  const int fd = OpenTcpListener(ip, port, error);
  if (fd < 0) return false;
  if (!WatchReadable(fd)) {
    close(fd);
    return *error = "epoll tcp listener", false;
  }
  tcp_fd_ = fd;
  return true;
}

void Worker::AcceptTcp() {
  for (int i = 0; i < 64; i++) {
    sockaddr_storage remote{};
    const int fd = halfsec::AcceptTcp(tcp_fd_, &remote);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) PauseTcpListener();
      return;
    }
    WorkerStats::Bump(stats_.tcp_accepted);
    auto* link = new TcpLink;
    link->id = engine_->NextTcpId();
    link->conn = std::make_unique<TcpConnection>(fd, remote, kMaxPacket, engine_->tcp_send_queue_bytes());
    link->opened_ms = now_ms_;
    link->ip_key = IpKey(remote);
    if (!engine_->AdmitTcp(link->ip_key)) {
      link->ip_key.clear();  // not counted
      InstallTcp(link);
      RejectTcp(link->id, stats_.tcp_rejected_limit, "too many ICE-TCP connections from one address");
      continue;
    }
    InstallTcp(link);
  }
}

// Out of descriptors: the pending connection stays in the backlog and the level-triggered
// listener would wake the loop at once, forever. Stop watching it for a while instead.
void Worker::PauseTcpListener() {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, tcp_fd_, nullptr);
  tcp_listen_paused_until_ms_ = now_ms_ + kListenPauseMs;
  WorkerStats::Bump(stats_.tcp_rejected_limit);
  if (now_ms_ - tcp_logged_ms_ >= kLogBurstMs) {
    tcp_logged_ms_ = now_ms_;
    Emit("tcp-rejected", 0, "ICE-TCP accept failed: the process is out of file descriptors");
  }
}

void Worker::InstallTcp(TcpLink* link) {
  std::unique_ptr<TcpLink> owned(link);
  const uint64_t id = link->id;
  if (!WatchReadable(link->conn->fd())) {
    engine_->ReleaseTcp(link->ip_key);
    return;
  }
  link->want_out = false;
  tcp_by_fd_[link->conn->fd()] = id;
  tcp_.emplace(id, std::move(owned));
  stats_.tcp_connections.fetch_add(1, std::memory_order_relaxed);
  if (tcp_.size() > engine_->tcp_max_per_worker()) {
    RejectTcp(id, stats_.tcp_rejected_limit, "ICE-TCP connection limit of a worker reached");
    return;
  }
  // A connection handed over: its first frame, then whatever else it had already sent.
  if (!link->replay.empty()) {
    std::vector<uint8_t> first;
    first.swap(link->replay);
    link->reading = true;
    bool more = HandleTcpFrame(*link, first.data(), first.size());
    auto st = TcpConnection::ReadStatus::kOpen;
    if (more) {
      st = link->conn->Resume([&](const uint8_t* d, size_t n) { return HandleTcpFrame(*link, const_cast<uint8_t*>(d), n); });
    }
    link->reading = false;
    if (!SettleTcp(id)) return;
    if (st == TcpConnection::ReadStatus::kOversize) RejectTcp(id, stats_.tcp_rejected_oversize, "ICE-TCP frame longer than the largest datagram");
  }
}

bool Worker::SettleTcp(uint64_t id) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return false;
  TcpLink& link = *it->second;
  if (link.close_after_read) {
    CloseTcp(id);
    return false;
  }
  if (link.handoff_to >= 0) {
    const int w = link.handoff_to;
    link.handoff_to = -1;
    TcpLink* moving = it->second.release();
    epoll_ctl(epfd_, EPOLL_CTL_DEL, moving->conn->fd(), nullptr);
    tcp_by_fd_.erase(moving->conn->fd());
    tcp_.erase(it);
    stats_.tcp_connections.fetch_sub(1, std::memory_order_relaxed);
    engine_->worker(static_cast<size_t>(w)).AdoptTcp(moving);
    return false;
  }
  return true;
}

void Worker::OnTcpEvent(uint64_t id, uint32_t events) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  TcpLink& link = *it->second;
  if (events & EPOLLOUT) {
    FlushTcp(link);
    if (!tcp_.count(id)) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ReadTcp(link);
}

void Worker::ReadTcp(TcpLink& link) {
  const uint64_t id = link.id;
  uint8_t* scratch = in_slots_[0].data;
  link.reading = true;
  // No per-segment kernel stamp on a stream socket: the read's own time stands for arrival.
  rx_ns_ = RealtimeNs();
  const auto st = link.conn->Read(scratch, kMaxPacket, kReadBudget, [&](const uint8_t* d, size_t n) {
    stats_.rx_packets.fetch_add(1, std::memory_order_relaxed);
    stats_.rx_bytes.fetch_add(n, std::memory_order_relaxed);
    return HandleTcpFrame(link, const_cast<uint8_t*>(d), n);
  });
  link.reading = false;
  rx_ns_ = 0;
  if (!SettleTcp(id)) return;  // closed or handed over while reading
  switch (st) {
    case TcpConnection::ReadStatus::kClosed:
      CloseTcp(id);
      return;
    case TcpConnection::ReadStatus::kOversize:
      RejectTcp(id, stats_.tcp_rejected_oversize, "ICE-TCP frame longer than the largest datagram");
      return;
    default:
      return;
  }
}

bool Worker::HandleTcpFrame(TcpLink& link, uint8_t* d, size_t n) {
  const uint64_t id = link.id;
  if (link.owner == 0) {
    // Nothing but a binding request may come first, and it decides where the connection goes.
    StunMessage m;
    if (!LooksLikeStun(d, n) || !ParseStun(d, n, &m) || m.type != kStunBindingRequest) {
      RejectTcp(id, stats_.tcp_rejected_invalid, "ICE-TCP connection did not start with a binding request");
      return false;
    }
    const size_t colon = m.username.find(':');
    const std::string ufrag(m.username.substr(0, colon == std::string_view::npos ? m.username.size() : colon));
    if (by_ufrag_.find(ufrag) == by_ufrag_.end()) {
      const int w = engine_->WorkerOfUfrag(ufrag);
      if (w < 0) {
        RejectTcp(id, stats_.tcp_rejected_username, "ICE-TCP binding request for no known peer");
        return false;
      }
      if (w == index_) return true;  // the peer is still on its way here: the client will retry
      // Hand the connection over with this frame (once parsing stops); the rest stays in its framer.
      link.replay.assign(d, d + n);
      link.handoff_to = w;
      return false;
    }
    Peer* peer = HandleStun(d, n, link.conn->remote(), &link);
    if (!peer || link.owner == 0) {
      RejectTcp(id, stats_.tcp_rejected_invalid, "ICE-TCP binding request failed its check");
      return false;
    }
    return true;
  }
  if (LooksLikeStun(d, n)) {
    HandleStun(d, n, link.conn->remote(), &link);
    return !link.close_after_read;
  }
  auto it = by_addr_.find(TcpPathKey(id));
  if (it == by_addr_.end()) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);  // not (or no longer) its peer's path
    return true;
  }
  it->second->heard(now_ms_);
  DeliverToPeer(*it->second, d, n);
  return !link.close_after_read;
}

bool Worker::SendTcp(uint64_t tcp_id, const uint8_t* d, size_t n) {
  auto it = tcp_.find(tcp_id);
  if (it == tcp_.end()) {
    WorkerStats::Bump(stats_.tcp_dropped);
    return false;
  }
  TcpLink& link = *it->second;
  if (!link.conn->Queue(d, n)) {
    // Backpressure: the viewer's connection cannot take more; it recovers with a keyframe once
    // its queue has drained (FlushTcp). UDP viewers of this worker never wait for it.
    WorkerStats::Bump(stats_.tcp_dropped);
    link.dropped = true;
    return false;
  }
  stats_.tx_packets.fetch_add(1, std::memory_order_relaxed);
  stats_.tx_bytes.fetch_add(n, std::memory_order_relaxed);
  if (!link.dirty) {
    link.dirty = true;
    tcp_dirty_.push_back(tcp_id);
  }
  return true;
}

void Worker::FlushTcp(TcpLink& link) {
  link.dirty = false;
  if (link.close_after_read) return;
  const TcpConnection::FlushResult r = link.conn->Flush();
  if (r.error) {
    CloseTcp(link.id);
    return;
  }
  const bool pending = link.conn->pending();
  if (pending != link.want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (pending ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.fd = link.conn->fd();
    epoll_ctl(epfd_, EPOLL_CTL_MOD, link.conn->fd(), &ev);
    link.want_out = pending;
  }
  if (!pending && link.dropped) {
    link.dropped = false;
    auto it = by_addr_.find(TcpPathKey(link.id));
    if (it != by_addr_.end()) it->second->OnPathDrained();
  }
}

void Worker::CloseTcp(uint64_t id) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  TcpLink& link = *it->second;
  if (link.reading) {
    link.close_after_read = true;
    return;
  }
  link.conn->Flush();  // best effort: a DTLS close_notify queued just before
  epoll_ctl(epfd_, EPOLL_CTL_DEL, link.conn->fd(), nullptr);
  tcp_by_fd_.erase(link.conn->fd());
  auto a = by_addr_.find(TcpPathKey(id));
  if (a != by_addr_.end()) by_addr_.erase(a);
  if (link.owner != 0) {
    // Was it its peer's current path? Then the peer has no path left: a short grace, not consent.
    auto p = peers_.find(link.owner);
    if (p != peers_.end() && p->second->has_address() && p->second->tcp_id() == id) {
      tcp_orphans_.push_back({link.owner, id, now_ms_ + std::min<int64_t>(kTcpPathGraceMs, consent_timeout_ms())});
    }
  }
  engine_->ReleaseTcp(link.ip_key);
  tcp_.erase(it);
  stats_.tcp_connections.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::RejectTcp(uint64_t id, std::atomic<uint64_t>& counter, const char* reason) {
  WorkerStats::Bump(counter);
  if (now_ms_ - tcp_logged_ms_ >= kLogBurstMs) {
    tcp_logged_ms_ = now_ms_;
    Emit("tcp-rejected", 0, reason);
  }
  CloseTcp(id);
}

void Worker::TickTcp() {
  if (tcp_listen_paused_until_ms_ != 0 && now_ms_ >= tcp_listen_paused_until_ms_) {
    tcp_listen_paused_until_ms_ = 0;
    if (!WatchReadable(tcp_fd_)) tcp_listen_paused_until_ms_ = now_ms_ + kListenPauseMs;
  }
  if (!tcp_orphans_.empty()) {
    std::vector<OrphanedPath> due;
    std::erase_if(tcp_orphans_, [&](const OrphanedPath& o) {
      if (o.deadline_ms > now_ms_) return false;
      due.push_back(o);
      return true;
    });
    for (const OrphanedPath& o : due) {
      auto p = peers_.find(o.peer_id);
      if (p == peers_.end() || p->second->tcp_id() != o.tcp_id) continue;  // gone, or moved on
      WorkerStats::Bump(stats_.tcp_path_closed);
      Peer* peer = p->second;
      engine_->Forget(peer->id());
      DestroyPeer(peer, "ice-tcp-closed");
    }
  }
  if (tcp_.empty()) return;
  const int64_t limit = connect_timeout_ms();
  std::vector<uint64_t> expired;
  for (auto& [id, link] : tcp_) {
    if (link->owner == 0 && now_ms_ - link->opened_ms > limit) expired.push_back(id);
  }
  for (uint64_t id : expired) RejectTcp(id, stats_.tcp_rejected_timeout, "ICE-TCP connection sent no valid binding request in time");
}

void Worker::ClosePeerTcp(uint32_t peer_id) {
  if (tcp_.empty()) return;
  std::vector<uint64_t> owned;
  for (auto& [id, link] : tcp_) {
    if (link->owner == peer_id) owned.push_back(id);
  }
  for (uint64_t id : owned) CloseTcp(id);
}

}  // namespace halfsec
