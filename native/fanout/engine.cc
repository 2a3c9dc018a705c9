#include "fanout/engine.h"

#include "transport/unix_dgram.h"

#include <algorithm>
#include <thread>

#include "base/clock.h"

namespace halfsec {

Engine::Engine(std::function<void()> notify) : notify_(std::move(notify)) {}

Engine::~Engine() { Stop(); }

bool Engine::Start(const EngineOptions& opts, std::string* error) {
  if (started_) return true;
  keyframe_max_age_ms_ = opts.keyframe_cache_max_age_ms;
  connect_timeout_ms_ = opts.connect_timeout_ms;
  consent_timeout_ms_ = opts.consent_timeout_ms;
  media_timeout_ms_ = opts.media_timeout_ms;
  identity_ = DtlsIdentity::Create(error);
  if (!identity_) return false;
  int n = opts.workers > 0 ? opts.workers : static_cast<int>(std::thread::hardware_concurrency());
  n = std::clamp(n, 1, 64);  // the stream's worker mask is 64 bits
  uint32_t port = opts.port_base;
  const uint32_t port_end = static_cast<uint32_t>(opts.port_base) + opts.port_count;
  for (int i = 0; i < n; i++) {
    auto w = std::make_unique<Worker>(this, i);
    w->set_udp_gso(opts.udp_gso);
    w->set_fanout_coalesce_us(opts.fanout_coalesce_us);
    if (opts.pin_workers) w->set_cpu(PinnedCpu(i));
    w->set_realtime_priority(opts.worker_realtime_priority);
    std::string last;
    bool ok = false;
    while (port < port_end && port <= 65535) {
      if (w->Open(opts.bind_ip, static_cast<uint16_t>(port++), &last)) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      *error = "no free UDP port for worker " + std::to_string(i) + " in " + std::to_string(opts.port_base) +
               "-" + std::to_string(port_end - 1) + (last.empty() ? "" : ": " + last);
      workers_.clear();
      return false;
    }
    workers_.push_back(std::move(w));
  }
  tcp_max_per_worker_ = static_cast<size_t>(std::max(1, opts.tcp_max_per_worker));
  tcp_max_per_address_ = std::max(1, opts.tcp_max_per_address);
  tcp_send_queue_bytes_ = static_cast<size_t>(std::max(16 * 1024, opts.tcp_send_queue_bytes));
  tcp_port_ = 0;
  if (opts.tcp_port != 0) {
    // One descriptor per ICE-TCP connection: at the process's open-file limit, accept() fails and
    // so does everything else that opens a file or socket (HTTP, signaling, Redis). Connections
    // stop a quarter (at least 256 descriptors) short of the limit, raised to the hard one first.
    const size_t limit = RaiseFdLimit();
    const size_t reserve = std::max<size_t>(256, limit / 4);
    tcp_max_total_ = limit == 0 ? SIZE_MAX : limit > reserve ? limit - reserve : limit / 2;
  }
  if (opts.tcp_port > 0) {
    std::string err;
    if (!workers_[0]->OpenTcp(opts.bind_ip, static_cast<uint16_t>(opts.tcp_port), &err)) {
      *error = "ICE-TCP listener: " + err;
      workers_.clear();
      return false;
    }
    tcp_port_ = static_cast<uint16_t>(opts.tcp_port);
  } else if (opts.tcp_port < 0) {
    // The same number as worker 0's UDP port when free for TCP, else the next of the range.
    std::string err;
    for (uint32_t p = workers_[0]->port(); p < port_end && p <= 65535; p++) {
      if (workers_[0]->OpenTcp(opts.bind_ip, static_cast<uint16_t>(p), &err)) {
        tcp_port_ = static_cast<uint16_t>(p);
        break;
      }
    }
    if (tcp_port_ == 0) {
      *error = "no free TCP port for ICE-TCP in " + std::to_string(opts.port_base) + "-" + std::to_string(port_end - 1) +
               (err.empty() ? "" : ": " + err);
      workers_.clear();
      return false;
    }
  }
  for (auto& w : workers_) {
    w->Start();
    if (scheduling_warning_.empty() && !w->scheduling_error().empty()) scheduling_warning_ = w->scheduling_error();
  }
  started_ = true;
  return true;
}

void Engine::Stop() {
  if (!started_) return;
  for (auto& w : workers_) w->StopAndJoin();
  // Peers, caches and queues hold packets from any worker's pool: release them all while every
  // pool still exists.
  for (auto& w : workers_) w->Teardown();
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    for (auto& [id, s] : streams_) s->keyframes.Clear();
  }
  workers_.clear();
  started_ = false;
}

uint32_t Engine::CreateStream() {
  std::lock_guard<std::mutex> lock(peers_mu_);
  const uint32_t id = next_stream_id_++;
  streams_[id] = std::make_shared<Stream>(id);
  return id;
}

bool Engine::CloseStream(uint32_t stream_id) {
  std::lock_guard<std::mutex> lock(peers_mu_);
  return streams_.erase(stream_id) > 0;
}

std::shared_ptr<Stream> Engine::FindStream(uint32_t stream_id) {
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second;
}

int Engine::AddPeer(PeerConfig cfg, int worker_hint, std::string* error) {
  if (!started_) return -1;
  int ingest_fd = -1;
  if (cfg.ingest) {
    std::string err;
    ingest_fd = OpenUnixDgramSocket(cfg.ingest_path, 1 << 20, &err);
    if (ingest_fd < 0) {
      if (error) *error = err;
      return -1;
    }
  }
  int target = worker_hint;
  if (target < 0 || target >= static_cast<int>(workers_.size())) {
    // Least loaded by peer count.
    target = 0;
    for (size_t i = 1; i < workers_.size(); i++) {
      if (workers_[i]->stats().peers.load() < workers_[target]->stats().peers.load()) target = static_cast<int>(i);
    }
  }
  const uint32_t id = cfg.id;
  auto* peer = new Peer(std::move(cfg), *identity_);
  if (ingest_fd >= 0) peer->set_socket(ingest_fd);  // the peer owns it (and unlinks its path)
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    peer_worker_[id] = target;
    if (!peer->is_ingest()) {
      peer_ufrag_[id] = peer->config().local_ufrag;
      ufrag_worker_[peer->config().local_ufrag] = target;
    }
  }
  workers_[target]->AddPeer(peer);
  return target;
}

bool Engine::RemovePeer(uint32_t peer_id) {
  int w;
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    auto it = peer_worker_.find(peer_id);
    if (it == peer_worker_.end()) return false;
    w = it->second;
    peer_worker_.erase(it);
    ForgetUfragLocked(peer_id);
  }
  workers_[w]->RemovePeer(peer_id);
  return true;
}

bool Engine::RequestKeyframe(uint32_t stream_id) {
  auto s = FindStream(stream_id);
  if (!s) return false;
  const int w = s->publisher_worker.load();
  if (w < 0 || w >= static_cast<int>(workers_.size())) return false;
  workers_[w]->RequestKeyframe(s->publisher_peer.load(), std::max(0, s->TopLiveLayer(MonotonicMs(), 1000)));
  return true;
}

bool Engine::SetIngestSource(uint32_t peer_id, int pid) {
  int w;
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    auto it = peer_worker_.find(peer_id);
    if (it == peer_worker_.end()) return false;
    w = it->second;
  }
  workers_[w]->SetIngestSource(peer_id, pid);
  return true;
}

bool Engine::SetViewerLayer(uint32_t peer_id, int layer) {
  int w;
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    auto it = peer_worker_.find(peer_id);
    if (it == peer_worker_.end()) return false;
    w = it->second;
  }
  workers_[w]->SetViewerLayer(peer_id, layer);
  return true;
}

bool Engine::SetViewerSvc(uint32_t peer_id, int spatial, int temporal, uint32_t next_kbps) {
  int w;
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    auto it = peer_worker_.find(peer_id);
    if (it == peer_worker_.end()) return false;
    w = it->second;
  }
  workers_[w]->SetViewerSvc(peer_id, spatial, temporal, next_kbps);
  return true;
}

void Engine::Forget(uint32_t peer_id) {
  std::lock_guard<std::mutex> lock(peers_mu_);
  peer_worker_.erase(peer_id);
  ForgetUfragLocked(peer_id);
}

void Engine::ForgetUfragLocked(uint32_t peer_id) {
  auto u = peer_ufrag_.find(peer_id);
  if (u == peer_ufrag_.end()) return;
  auto w = ufrag_worker_.find(u->second);
  if (w != ufrag_worker_.end()) ufrag_worker_.erase(w);
  peer_ufrag_.erase(u);
}

int Engine::WorkerOfUfrag(const std::string& ufrag) {
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = ufrag_worker_.find(ufrag);
  return it == ufrag_worker_.end() ? -1 : it->second;
}

bool Engine::AdmitTcp(const std::string& ip_key) {
  std::lock_guard<std::mutex> lock(tcp_mu_);
  if (tcp_total_ >= tcp_max_total_) return false;
  int& n = tcp_per_ip_[ip_key];
  if (n >= tcp_max_per_address_) {
    if (n == 0) tcp_per_ip_.erase(ip_key);
    return false;
  }
  n++;
  tcp_total_++;
  return true;
}

void Engine::ReleaseTcp(const std::string& ip_key) {
  if (ip_key.empty()) return;
  std::lock_guard<std::mutex> lock(tcp_mu_);
  auto it = tcp_per_ip_.find(ip_key);
  if (it == tcp_per_ip_.end()) return;
  tcp_total_--;
  if (--it->second <= 0) tcp_per_ip_.erase(it);
}

void Engine::PushEvent(EngineEvent ev) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(events_mu_);
    was_empty = events_.empty();
    events_.push_back(std::move(ev));
  }
  if (was_empty && notify_) notify_();
}

std::vector<EngineEvent> Engine::TakeEvents() {
  std::lock_guard<std::mutex> lock(events_mu_);
  std::vector<EngineEvent> out;
  out.swap(events_);
  return out;
}

}  // namespace halfsec
