#include "fanout/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "fanout/engine.h"
#include "ice/stun.h"

namespace halfsec {

namespace {
constexpr int kRecvBatch = 32;
constexpr int64_t kTickMs = 20;
constexpr int64_t kKeyframeRequestIntervalMs = 300;
}  // namespace

int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

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

static socklen_t AddrLen(const sockaddr_storage& a) {
  return a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

Worker::Worker(Engine* engine, int index)
    : engine_(engine), index_(index), out_slots_(kBatch), out_addrs_(kBatch), out_lens_(kBatch), in_slots_(kRecvBatch) {}

void Worker::Teardown() {
  by_fd_.clear();
  for (auto& [id, peer] : peers_) delete peer;
  peers_.clear();
  by_ufrag_.clear();
  by_addr_.clear();
  streams_.clear();
  ReleaseQueued();
}

Worker::~Worker() {
  StopAndJoin();
  Teardown();
  for (auto& c : commands_) {
    if (c.type == Command::kAdd) delete c.peer;
  }
  if (fd_ >= 0) close(fd_);
  if (epfd_ >= 0) close(epfd_);
  if (wakefd_ >= 0) close(wakefd_);
}

bool Worker::Open(const std::string& ip, uint16_t port, std::string* error) {
  sockaddr_storage ss{};
  socklen_t len;
  if (ip.find(':') != std::string::npos) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) != 1) return *error = "bad bind address " + ip, false;
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) != 1) return *error = "bad bind address " + ip, false;
    len = sizeof(sockaddr_in);
  }
  const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return *error = std::string("socket: ") + strerror(errno), false;
  const int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    *error = "bind " + ip + ":" + std::to_string(port) + ": " + strerror(errno);
    close(fd);
    return false;
  }
  fd_ = fd;
  port_ = port;
  bind_addr_ = ss;
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || wakefd_ < 0) return *error = std::string("epoll/eventfd: ") + strerror(errno), false;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd_, &ev);
  ev.data.fd = wakefd_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
  return true;
}

int Worker::connect_timeout_ms() const { return engine_->connect_timeout_ms(); }
int Worker::consent_timeout_ms() const { return engine_->consent_timeout_ms(); }

void Worker::Start() {
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Worker::StopAndJoin() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back({Command::kStop, nullptr, 0});
  }
  Wake();
  thread_.join();
}

void Worker::Wake() {
  const uint64_t one = 1;
  ssize_t r = write(wakefd_, &one, sizeof(one));
  (void)r;
}

void Worker::AddPeer(Peer* peer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back({Command::kAdd, peer, peer->id()});
  }
  Wake();
}

void Worker::RemovePeer(uint32_t peer_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back({Command::kRemove, nullptr, peer_id});
  }
  Wake();
}

void Worker::RequestKeyframe(uint32_t publisher_peer_id, int layer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back({Command::kPli, nullptr, publisher_peer_id, layer});
  }
  Wake();
}

void Worker::SetViewerLayer(uint32_t peer_id, int layer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back({Command::kSetLayer, nullptr, peer_id, layer});
  }
  Wake();
}

void Worker::PostMedia(uint32_t stream_id, MediaPacket* pkt) {
  if (!media_.Push({stream_id, pkt})) {
    stats_.queue_full.fetch_add(1, std::memory_order_relaxed);
    pkt->Release();
    return;
  }
  // One eventfd write per burst: the consumer clears the flag before it drains, so a push
  // that sees the flag set is guaranteed to be drained by that pass.
  if (!wake_pending_.exchange(true, std::memory_order_seq_cst)) Wake();
}

void Worker::ReleaseQueued() {
  QueuedPacket q;
  while (media_.Pop(&q)) q.pkt->Release();
}

void Worker::Run() {
  epoll_event evs[16];
  now_ms_ = MonotonicMs();
  last_tick_ms_ = now_ms_;
  while (running_) {
    const int n = epoll_wait(epfd_, evs, 16, static_cast<int>(kTickMs));
    now_ms_ = MonotonicMs();
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == fd_) {
        ReceiveBatch();
      } else if (evs[i].data.fd == wakefd_) {
        uint64_t v;
        ssize_t r = read(wakefd_, &v, sizeof(v));
        (void)r;
      } else {
        ReceivePull(evs[i].data.fd);
      }
    }
    DrainCommands();
    DrainMedia();
    Flush();
    if (now_ms_ - last_tick_ms_ >= kTickMs) {
      last_tick_ms_ = now_ms_;
      Tick();
      Flush();
    }
  }
  Flush();
}

void Worker::DrainCommands() {
  std::vector<Command> cmds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (commands_.empty()) return;
    cmds.swap(commands_);
  }
  for (auto& c : cmds) {
    switch (c.type) {
      case Command::kAdd: {
        Peer* p = c.peer;
        if (p->is_pull() && !OpenPullSocket(p)) p->Fail();
        p->Attach(this);
        peers_[p->id()] = p;
        by_ufrag_[p->config().local_ufrag] = p;
        stats_.peers.fetch_add(1, std::memory_order_relaxed);
        Stream* s = p->stream();
        if (p->role() == PeerRole::kViewer) {
          LocalStream& ls = streams_[s->id];
          ls.stream = s;
          auto& list = ls.viewers;
          list.push_back(p);
          stats_.viewers.fetch_add(1, std::memory_order_relaxed);
          if (list.size() == 1) s->worker_mask.fetch_or(uint64_t{1} << index_, std::memory_order_release);
        } else {
          p->set_epoch(s->source_epoch.fetch_add(1) + 1);
          s->layer_count.store(static_cast<int>(std::clamp<size_t>(p->config().rids.size(), 1, kMaxLayers)));
          s->publisher_peer.store(p->id());
          s->publisher_worker.store(index_);
        }
        break;
      }
      case Command::kRemove: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) {
          it->second->Close();
          DestroyPeer(it->second, "removed");
        }
        break;
      }
      case Command::kPli: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) it->second->SendKeyframeRequest(c.value);
        break;
      }
      case Command::kSetLayer: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) it->second->SetLayer(c.value);
        break;
      }
      case Command::kStop:
        running_ = false;
        break;
    }
  }
}

void Worker::DrainMedia() {
  wake_pending_.store(false, std::memory_order_seq_cst);
  QueuedPacket q;
  while (media_.Pop(&q)) {
    DeliverLocal(q.stream_id, *q.pkt);
    q.pkt->Release();
  }
}

void Worker::ReceiveBatch() {
  mmsghdr msgs[kRecvBatch];
  iovec iov[kRecvBatch];
  sockaddr_storage from[kRecvBatch];
  for (int round = 0; round < 8; round++) {
    for (int i = 0; i < kRecvBatch; i++) {
      iov[i] = {in_slots_[i].data, kMaxPacket};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = recvmmsg(fd_, msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        stats_.dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      stats_.rx_packets.fetch_add(1, std::memory_order_relaxed);
      stats_.rx_bytes.fetch_add(msgs[i].msg_len, std::memory_order_relaxed);
      HandleDatagram(in_slots_[i].data, msgs[i].msg_len, from[i]);
    }
    if (n < kRecvBatch) return;
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
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  DeliverToPeer(*it->second, d, n);
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

void Worker::HandleStun(uint8_t* d, size_t n, const sockaddr_storage& from) {
  StunMessage m;
  if (!ParseStun(d, n, &m) || m.type != kStunBindingRequest) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // USERNAME is "<our ufrag>:<their ufrag>" (RFC 8445 7.2.2).
  const size_t colon = m.username.find(':');
  if (colon == std::string_view::npos) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto it = by_ufrag_.find(std::string(m.username.substr(0, colon)));
  if (it == by_ufrag_.end()) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Peer* peer = it->second;
  const PeerConfig& cfg = peer->config();
  if (!m.has_integrity || !VerifyStunIntegrity(d, n, m, cfg.local_pwd) ||
      (m.has_fingerprint && !VerifyStunFingerprint(d, n, m)) ||
      (!cfg.remote_ufrag.empty() && m.username.substr(colon + 1) != cfg.remote_ufrag)) {
    stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint8_t out[256];
  size_t len;
  if (m.has_ice_controlled) {
    // We are ICE-lite and so always controlled; a peer claiming the same role must switch.
    len = BuildStunBindingError(out, sizeof(out), m.transaction_id, 487, "Role Conflict", cfg.local_pwd);
  } else {
    len = BuildStunBindingSuccess(out, sizeof(out), m.transaction_id, reinterpret_cast<const sockaddr*>(&from),
                                  cfg.local_pwd);
  }
  if (len > 0) SendNow(out, len, from);
  if (m.has_ice_controlled) return;
  peer->touch(now_ms_);
  if (!peer->has_address() || m.use_candidate) {
    const std::string key = AddrKey(from);
    if (peer->has_address()) {
      const std::string old = AddrKey(peer->address());
      if (old == key) return;
      by_addr_.erase(old);
    }
    by_addr_[key] = peer;
    peer->set_address(from);
  }
}

bool Worker::OpenPullSocket(Peer* peer) {
  sockaddr_storage ss = bind_addr_;
  if (ss.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = 0;
  } else {
    reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = 0;
  }
  const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int buf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), AddrLen(ss)) != 0) {
    close(fd);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
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
  const std::string expect = AddrKey(peer->address());
  for (int i = 0; i < kRecvBatch; i++) {
    sockaddr_storage from{};
    socklen_t flen = sizeof(from);
    uint8_t* d = in_slots_[0].data;
    const ssize_t r = recvfrom(fd, d, kMaxPacket, MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &flen);
    if (r <= 0) return;
    if (static_cast<size_t>(r) > kMaxPacket || AddrKey(from) != expect) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const size_t n = static_cast<size_t>(r);
    stats_.rx_packets.fetch_add(1, std::memory_order_relaxed);
    stats_.rx_bytes.fetch_add(n, std::memory_order_relaxed);
    if (LooksLikeStun(d, n)) {
      StunMessage m;
      if (ParseStun(d, n, &m) && (m.type == kStunBindingSuccess || m.type == kStunBindingError)) {
        peer->OnStunResponse(d, n, m, now_ms_);
      } else {
        stats_.stun_rejected.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      DeliverToPeer(*peer, d, n);
    }
  }
}

void Worker::DeliverLocal(uint32_t stream_id, const MediaPacket& pkt) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  LocalStream& ls = it->second;
  ls.sent.Store(const_cast<MediaPacket*>(&pkt));
  const int top = ls.stream->TopLiveLayer(now_ms_, 1000);
  for (Peer* v : ls.viewers) v->Forward(pkt, top);
}

const MediaPacket* Worker::CachedPacket(uint32_t stream_id, int kind, int layer, uint16_t seq) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.sent.Find(kind, layer, seq);
}

bool Worker::ReplayKeyframe(Peer& viewer) {
  Stream* s = viewer.stream();
  const int top = s->TopLiveLayer(now_ms_, 1000);
  std::vector<MediaPacket*> gop;
  s->keyframes.Snapshot(std::max(0, top), now_ms_, engine_->keyframe_cache_max_age_ms(), &gop);
  if (gop.empty()) return false;
  for (MediaPacket* p : gop) {
    viewer.Forward(*p, top);
    p->Release();
  }
  Flush();
  return true;
}

void Worker::Publish(Peer& publisher, MediaPacket* pkt) {
  Stream* s = publisher.stream();
  const uint64_t mask = s->worker_mask.load(std::memory_order_acquire);
  const uint64_t self = uint64_t{1} << index_;
  for (size_t i = 0; i < engine_->worker_count(); i++) {
    const uint64_t bit = uint64_t{1} << i;
    if (!(mask & bit) || bit == self) continue;
    pkt->AddRef(1);
    engine_->worker(i).PostMedia(s->id, pkt);
  }
  if (mask & self) DeliverLocal(s->id, *pkt);
  pkt->Release();
}

void Worker::KeyframeWanted(Stream& stream, int layer) {
  if (!stream.TakeKeyframeRequestSlot(layer, now_ms_, kKeyframeRequestIntervalMs)) return;
  const int w = stream.publisher_worker.load();
  if (w < 0) return;
  const uint32_t pub = stream.publisher_peer.load();
  if (w == index_) {
    auto it = peers_.find(pub);
    if (it != peers_.end()) it->second->SendKeyframeRequest(layer);
  } else {
    engine_->worker(static_cast<size_t>(w)).RequestKeyframe(pub, layer);
  }
}

void Worker::EmitLayers(uint32_t peer_id, const double* bps, int count) {
  EngineEvent ev{"layers", peer_id, ""};
  ev.layer_count = count;
  for (int i = 0; i < count && i < kMaxLayers; i++) ev.layer_bps[i] = bps[i];
  engine_->PushEvent(std::move(ev));
}

void Worker::EmitFeedback(uint32_t peer_id, const ViewerFeedback& fb) {
  EngineEvent ev{"feedback", peer_id, ""};
  ev.has_feedback = true;
  ev.feedback = fb;
  engine_->PushEvent(std::move(ev));
}

void Worker::Emit(const char* type, uint32_t peer_id, const char* detail) {
  engine_->PushEvent(EngineEvent(type, peer_id, detail ? detail : ""));
}

void Worker::Tick() {
  std::vector<std::pair<Peer*, const char*>> dead;
  for (auto& [id, peer] : peers_) {
    const char* reason = nullptr;
    if (!peer->OnTick(now_ms_, &reason)) dead.emplace_back(peer, reason);
  }
  for (auto& [peer, reason] : dead) {
    engine_->Forget(peer->id());
    DestroyPeer(peer, reason);
  }
}

void Worker::DestroyPeer(Peer* peer, const char* reason) {
  const uint32_t id = peer->id();
  peers_.erase(id);
  auto u = by_ufrag_.find(peer->config().local_ufrag);
  if (u != by_ufrag_.end() && u->second == peer) by_ufrag_.erase(u);
  if (peer->has_address()) {
    auto a = by_addr_.find(AddrKey(peer->address()));
    if (a != by_addr_.end() && a->second == peer) by_addr_.erase(a);
  }
  if (peer->socket_fd() >= 0) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, peer->socket_fd(), nullptr);
    by_fd_.erase(peer->socket_fd());
  }
  Stream* s = peer->stream();
  if (peer->role() == PeerRole::kViewer) {
    auto it = streams_.find(s->id);
    if (it != streams_.end()) {
      auto& list = it->second.viewers;
      for (size_t i = 0; i < list.size(); i++) {
        if (list[i] == peer) {
          list[i] = list.back();
          list.pop_back();
          break;
        }
      }
      if (list.empty()) {
        streams_.erase(it);
        s->worker_mask.fetch_and(~(uint64_t{1} << index_), std::memory_order_release);
      }
    }
    stats_.viewers.fetch_sub(1, std::memory_order_relaxed);
  } else {
    uint32_t expected = id;
    if (s->publisher_peer.compare_exchange_strong(expected, 0)) {
      s->publisher_worker.store(-1);
      s->keyframes.Clear();  // a returning publisher starts a new picture sequence
    }
  }
  stats_.peers.fetch_sub(1, std::memory_order_relaxed);
  Emit("closed", id, reason);
  delete peer;
}

uint8_t* Worker::BatchSlot() {
  if (out_count_ == kBatch) Flush();
  return out_slots_[out_count_].data;
}

void Worker::BatchCommit(size_t len, const sockaddr_storage& to) {
  out_lens_[out_count_] = len;
  out_addrs_[out_count_] = to;
  out_count_++;
  if (out_count_ == kBatch) Flush();
}

void Worker::Flush() {
  if (out_count_ == 0) return;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  for (int i = 0; i < out_count_; i++) {
    iov[i] = {out_slots_[i].data, out_lens_[i]};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &out_addrs_[i];
    msgs[i].msg_hdr.msg_namelen = AddrLen(out_addrs_[i]);
  }
  int sent = 0;
  while (sent < out_count_) {
    const int r = sendmmsg(fd_, msgs + sent, out_count_ - sent, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      // Socket buffer full or an error for one destination: skip that datagram, keep the rest.
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      sent++;
      continue;
    }
    for (int i = sent; i < sent + r; i++) stats_.tx_bytes.fetch_add(out_lens_[i], std::memory_order_relaxed);
    stats_.tx_packets.fetch_add(r, std::memory_order_relaxed);
    sent += r;
  }
  out_count_ = 0;
}

void Worker::SendNow(const uint8_t* d, size_t n, const sockaddr_storage& to, int fd) {
  if (sendto(fd >= 0 ? fd : fd_, d, n, 0, reinterpret_cast<const sockaddr*>(&to), AddrLen(to)) > 0) {
    stats_.tx_packets.fetch_add(1, std::memory_order_relaxed);
    stats_.tx_bytes.fetch_add(n, std::memory_order_relaxed);
  }
}

}  // namespace halfsec
