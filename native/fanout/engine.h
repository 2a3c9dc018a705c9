// The data plane: N workers, the process's DTLS identity, and the event queue toward JS.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dtls/dtls.h"
#include "fanout/peer.h"
#include "fanout/stream.h"
#include "fanout/worker.h"

namespace halfsec {

struct EngineEvent {
  EngineEvent(std::string t, uint32_t id, std::string d = "") : type(std::move(t)), peer_id(id), detail(std::move(d)) {}
  std::string type;  // "connected", "closed", "feedback", "layers", "first-media"
  uint32_t peer_id = 0;
  std::string detail;
  bool has_feedback = false;
  ViewerFeedback feedback;
  // "layers": a publisher's ingress video bit rate per simulcast layer over a sliding window
  // (media/bitrate_window.h), each layer's SSRC, and its audio bit rate.
  int layer_count = 0;
  double layer_bps[kMaxLayers] = {};
  uint32_t layer_ssrc[kMaxLayers] = {};  // 0 until the layer has sent
  double audio_bps = 0;
  // "first-media": when the viewer's first media packet went into the send batch (MonotonicMsPrecise).
  double at_ms = 0;
};

struct EngineOptions {
  int workers = 0;  // 0: one per core
  std::string bind_ip = "0.0.0.0";
  uint16_t port_base = 40000;
  uint16_t port_count = 100;  // workers take the first free ports in [base, base+count)
  int keyframe_cache_max_age_ms = 1000;
  int connect_timeout_ms = 10000;   // ICE + DTLS must finish within this
  int consent_timeout_ms = 30000;   // RFC 7675: silence after which a peer is gone
  // A publisher that was sending and then sends no RTP or RTCP this long is gone (0: only consent
  // decides). Never below twice the longest gap the publisher's own stream has shown (DTX).
  int media_timeout_ms = 2000;
  // ICE-TCP (RFC 6544): the listening port; -1: the first port of [port_base, port_base+count)
  // free for TCP (worker 0's UDP port number when it is), 0: off.
  int tcp_port = -1;
  int tcp_max_per_address = 16;    // live connections from one IP
  int tcp_max_per_worker = 2000;   // live connections on one worker
  int tcp_send_queue_bytes = 256 * 1024;  // per connection; beyond it packets are dropped
  bool udp_gso = true;  // a viewer's run of equal-size datagrams as one UDP_SEGMENT message
  // Fan-out coalescing window, µs (0: off): a worker holds a stream's packets up to this long
  // after the first one's arrival (or until a video packet with the marker bit, a frame's last),
  // so that a paced publisher's packets reach each viewer as runs (UDP GSO). Costs latency.
  int fanout_coalesce_us = 0;
  // Each worker thread on its own CPU (the i-th of the CPUs the process may use, round robin),
  // so a worker woken by another's packet is never placed on the waker's CPU to wait for it.
  bool pin_workers = false;
  // SCHED_FIFO priority of the worker threads (1-99; 0: the default time-sharing policy), so
  // another process on the same cores cannot preempt a fan-out half way (sched(7)). Needs
  // CAP_SYS_NICE (or RLIMIT_RTPRIO); without it the workers keep the default policy and
  // Engine::scheduling_warning() says why. The kernel's RT throttling still bounds them.
  int worker_realtime_priority = 0;
};

class Engine {
 public:
  // `notify` runs on a worker thread when the event queue goes from empty to non-empty.
  explicit Engine(std::function<void()> notify);
  ~Engine();

  bool Start(const EngineOptions& opts, std::string* error);
  void Stop();

  const DtlsIdentity& identity() const { return *identity_; }
  int keyframe_cache_max_age_ms() const { return keyframe_max_age_ms_; }
  int connect_timeout_ms() const { return connect_timeout_ms_; }
  int consent_timeout_ms() const { return consent_timeout_ms_; }
  int media_timeout_ms() const { return media_timeout_ms_; }
  size_t worker_count() const { return workers_.size(); }
  // ICE-TCP: the listening port (0: off) and limits.
  uint16_t tcp_port() const { return tcp_port_; }
  // Why worker_realtime_priority could not be applied (empty: applied, or not asked for).
  const std::string& scheduling_warning() const { return scheduling_warning_; }
  size_t tcp_max_per_worker() const { return tcp_max_per_worker_; }
  size_t tcp_send_queue_bytes() const { return tcp_send_queue_bytes_; }
  uint64_t NextTcpId() { return next_tcp_id_.fetch_add(1, std::memory_order_relaxed); }
  // Any worker, once per connection: the per-address limit (an empty key is never counted).
  // Counts a new connection from `ip_key` against rtcTcpMaxPerAddress and the engine's
  // descriptor budget; false (not counted) when either is full.
  bool AdmitTcp(const std::string& ip_key);
  size_t tcp_max_total() const { return tcp_max_total_; }
  void ReleaseTcp(const std::string& ip_key);
  // The worker of the live peer whose local ICE ufrag this is, or -1.
  int WorkerOfUfrag(const std::string& ufrag);
  Worker& worker(size_t i) { return *workers_[i]; }

  // JS-thread control calls.
  uint32_t CreateStream();
  bool CloseStream(uint32_t stream_id);
  std::shared_ptr<Stream> FindStream(uint32_t stream_id);
  // Returns the worker index the peer went to, or -1 (with `*error` set when given). An ingest
  // peer's socket is bound here, on the calling thread, so it exists once this returns.
  int AddPeer(PeerConfig cfg, int worker_hint, std::string* error = nullptr);
  // Ingest: the pid of the child whose datagrams the peer takes; false for an unknown peer.
  bool SetIngestSource(uint32_t peer_id, int pid);
  bool RemovePeer(uint32_t peer_id);
  bool RequestKeyframe(uint32_t stream_id);
  bool SetViewerLayer(uint32_t peer_id, int layer);
  // The highest VP8/VP9 spatial and temporal layer (0..7 each, 7: all) a viewer gets, and the
  // rate of the next step up (kbit/s, 0: none), which its probes aim at.
  bool SetViewerSvc(uint32_t peer_id, int spatial, int temporal, uint32_t next_kbps);
  uint32_t NextPeerId() { return next_peer_id_++; }

  // Any thread.
  void PushEvent(EngineEvent ev);
  std::vector<EngineEvent> TakeEvents();
  // Worker threads: a peer left its worker on its own (failure, timeout).
  void Forget(uint32_t peer_id);

 private:
  void ForgetUfragLocked(uint32_t peer_id);  // peers_mu_ held

  std::function<void()> notify_;
  std::unique_ptr<DtlsIdentity> identity_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;
  int keyframe_max_age_ms_ = 1000;
  int connect_timeout_ms_ = 10000;
  int consent_timeout_ms_ = 30000;
  int media_timeout_ms_ = 2000;
  uint16_t tcp_port_ = 0;
  std::string scheduling_warning_;
  size_t tcp_max_per_worker_ = 2000, tcp_send_queue_bytes_ = 256 * 1024;
  int tcp_max_per_address_ = 16;
  std::atomic<uint64_t> next_tcp_id_{1};
  std::mutex tcp_mu_;
  std::unordered_map<std::string, int> tcp_per_ip_;
  size_t tcp_total_ = 0;                    // admitted connections, every worker
  size_t tcp_max_total_ = SIZE_MAX;         // below the open-file limit (Start)

  std::mutex peers_mu_;
  std::unordered_map<uint32_t, int> peer_worker_;
  std::unordered_map<uint32_t, std::string> peer_ufrag_;
  std::unordered_map<std::string, int> ufrag_worker_;
  std::unordered_map<uint32_t, std::shared_ptr<Stream>> streams_;
  uint32_t next_stream_id_ = 1;
  uint32_t next_peer_id_ = 1;

  std::mutex events_mu_;
  std::vector<EngineEvent> events_;
};

}  // namespace halfsec
