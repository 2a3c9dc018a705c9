#include "fanout/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <functional>

#include "base/clock.h"
#include "fanout/engine.h"
#include "ice/stun.h"
#include "transport/udp_socket.h"

namespace halfsec {

namespace {
constexpr int64_t kTickMs = 20;
constexpr int64_t kKeyframeRequestIntervalMs = 300;
static_assert(SendBatch::kSlotBytes >= kMaxPacket + kSrtpMaxTrailer, "a batch slot holds a protected packet");
}  // namespace

Worker::Worker(Engine* engine, int index)
    : engine_(engine), index_(index), in_slots_(1), in_control_(kRecvBatch) {}

MediaPacket* Worker::TakeReceived(const uint8_t* d) {
  if (rx_index_ < 0 || rx_pkts_[rx_index_] == nullptr || d != rx_pkts_[rx_index_]->data) return nullptr;
  MediaPacket* p = rx_pkts_[rx_index_];
  rx_pkts_[rx_index_] = nullptr;  // ReceiveBatch takes a fresh one before its next receive
  return p;
}

void Worker::Teardown() {
  for (MediaPacket*& p : rx_pkts_) {
    if (p) p->Release();
    p = nullptr;
  }
  by_fd_.clear();
  tcp_by_fd_.clear();
  tcp_dirty_.clear();
  tcp_.clear();  // closes the connections
  for (auto& [id, peer] : peers_) delete peer;
  peers_.clear();
  ticked_.clear();
  sleepers_.clear();
  by_ufrag_.clear();
  by_addr_.clear();
  by_ssrc_.clear();
  streams_.clear();
  ReleaseQueued();
}

Worker::~Worker() {
  StopAndJoin();
  Teardown();
  for (auto& c : commands_) {
    if (c.type == Command::kAdd) delete c.peer;
    if (c.type == Command::kAdoptTcp) delete c.link;
  }
  if (fd_ >= 0) close(fd_);
  if (tcp_fd_ >= 0) close(tcp_fd_);
  if (epfd_ >= 0) close(epfd_);
  if (wakefd_ >= 0) close(wakefd_);
}

bool Worker::Open(const std::string& ip, uint16_t port, std::string* error) {
  fd_ = OpenUdpSocket(ip, port, 4 << 20, &bind_addr_, error);
  if (fd_ < 0) return false;
  EnableRxTimestamps(fd_);
  port_ = port;
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || wakefd_ < 0) return *error = std::string("epoll/eventfd: ") + strerror(errno), false;
  if (!WatchReadable(fd_) || !WatchReadable(wakefd_)) return *error = std::string("epoll_ctl: ") + strerror(errno), false;
  return true;
}

bool Worker::WatchReadable(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

int Worker::connect_timeout_ms() const { return engine_->connect_timeout_ms(); }
int Worker::consent_timeout_ms() const { return engine_->consent_timeout_ms(); }
int Worker::media_timeout_ms() const { return engine_->media_timeout_ms(); }

void Worker::Start() {
  running_ = true;
  thread_ = std::thread([this] { Run(); });
  if (cpu_ >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_, &set);
    pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set);  // best effort
  }
  if (rt_priority_ > 0) {
    sched_param param{};
    param.sched_priority = rt_priority_;
    const int rc = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &param);
    if (rc != 0) {
      scheduling_error_ = "worker realtime priority " + std::to_string(rt_priority_) + " refused (" + std::strerror(rc) +
                          "): needs CAP_SYS_NICE (or RLIMIT_RTPRIO) and, inside a CPU cgroup, a realtime budget "
                          "(cpu.rt_runtime_us); workers keep the default policy";
    }
  }
}

int PinnedCpu(int worker_index) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return -1;
  const int n = CPU_COUNT(&allowed);
  if (n <= 0) return -1;
  int want = worker_index % n;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &allowed) && want-- == 0) return cpu;
  }
  return -1;
}

void Worker::StopAndJoin() {
  if (!thread_.joinable()) return;
  Post({Command::kStop, nullptr, 0});
  thread_.join();
}

void Worker::Wake() {
  const uint64_t one = 1;
  ssize_t r = write(wakefd_, &one, sizeof(one));
  (void)r;
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
  for (QueuedPacket& d : deferred_) d.pkt->Release();
  deferred_.clear();
  QueuedPacket q;
  while (media_.Pop(&q)) q.pkt->Release();
}

int Worker::WaitEvents(epoll_event* evs, int max) {
  if (!Coalescing()) return epoll_wait(epfd_, evs, max, static_cast<int>(kTickMs));
  const int64_t left = std::clamp<int64_t>((coalesce_until_us_ - MonotonicUs()) * 1000, 0, kTickMs * 1'000'000);
  const timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
  const int n = epoll_pwait2(epfd_, evs, max, &ts, nullptr);
  if (n < 0 && errno == ENOSYS) return epoll_wait(epfd_, evs, max, static_cast<int>((left + 999'999) / 1'000'000));
  return n;
}

void Worker::Run() {
  epoll_event evs[16];
  now_ms_ = MonotonicMs();
  last_tick_ms_ = now_ms_;
  while (running_) {
    const int n = WaitEvents(evs, 16);
    now_ms_ = MonotonicMs();
    for (int i = 0; i < n; i++) {
      const int fd = evs[i].data.fd;
      if (fd == fd_) {
        ReceiveBatch();
      } else if (fd == wakefd_) {
        uint64_t v;
        ssize_t r = read(wakefd_, &v, sizeof(v));
        (void)r;
      } else if (fd == tcp_fd_) {
        AcceptTcp();
      } else if (auto t = tcp_by_fd_.find(fd); t != tcp_by_fd_.end()) {
        OnTcpEvent(t->second, evs[i].events);
      } else {
        ReceivePull(fd);
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

void Worker::DrainMedia() {
  wake_pending_.store(false, std::memory_order_seq_cst);
  QueuedPacket q;
  while (media_.Pop(&q)) Defer(q.stream_id, q.pkt);
}

const MediaPacket* Worker::CachedPacket(uint32_t stream_id, int kind, int layer, uint16_t seq, uint32_t epoch) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.sent.Find(kind, layer, seq, epoch);
}

bool Worker::ReplayKeyframe(Peer& viewer) {
  Stream* s = viewer.stream();
  const int top = s->TopLiveLayer(now_ms_, 1000);
  std::vector<MediaPacket*> gop;
  if (viewer.is_layered()) {
    // A pull gets every layer: each one's cached run, so each of its lines starts at once.
    for (int l = 0; l < s->layer_count.load(std::memory_order_relaxed); l++) {
      s->keyframes.Snapshot(l, now_ms_, engine_->keyframe_cache_max_age_ms(), &gop);
    }
  } else {
    s->keyframes.Snapshot(std::max(0, top), now_ms_, engine_->keyframe_cache_max_age_ms(), &gop);
  }
  if (gop.empty()) return false;
  for (MediaPacket* p : gop) {
    viewer.Forward(*p, top);
    p->Release();
  }
  Flush();
  return true;
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

void Worker::EmitLayers(uint32_t peer_id, const double* bps, const uint32_t* ssrcs, int count, double audio_bps) {
  EngineEvent ev{"layers", peer_id, ""};
  ev.layer_count = count;
  ev.audio_bps = audio_bps;
  for (int i = 0; i < count && i < kMaxLayers; i++) {
    ev.layer_bps[i] = bps[i];
    ev.layer_ssrc[i] = ssrcs[i];
  }
  engine_->PushEvent(std::move(ev));
}

void Worker::EmitFirstMedia(uint32_t peer_id) {
  EngineEvent ev{"first-media", peer_id, ""};
  ev.at_ms = MonotonicMsPrecise();
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

void Worker::DestroyPeer(Peer* peer, const char* reason) {
  const uint32_t id = peer->id();
  peers_.erase(id);
  RemoveTicked(peer);  // a sleeper's heap entry goes stale with the id
  auto u = by_ufrag_.find(peer->config().local_ufrag);
  if (u != by_ufrag_.end() && u->second == peer) by_ufrag_.erase(u);
  if (peer->has_address()) {
    auto a = by_addr_.find(peer->path_key());
    if (a != by_addr_.end() && a->second == peer) by_addr_.erase(a);
  }
  for (uint32_t ssrc : peer->known_ssrcs()) {
    auto [first, last] = by_ssrc_.equal_range(ssrc);
    for (auto it = first; it != last; ++it) {
      if (it->second == peer) {
        by_ssrc_.erase(it);
        break;
      }
    }
  }
  ClosePeerTcp(id);  // the session ended: its ICE-TCP connections close with it
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

}  // namespace halfsec
