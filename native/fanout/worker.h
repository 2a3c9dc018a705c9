// A data-plane worker: one thread, one UDP socket, one epoll loop, and every peer assigned to it.
#pragma once
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <memory>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/residence_histogram.h"
#include "fanout/peer.h"
#include "fanout/stream.h"
#include "media/probe_controller.h"
#include "media/retransmission_buffer.h"
#include "transport/send_batch.h"
#include "transport/tcp_socket.h"
#include "transport/udp_socket.h"

namespace halfsec {

class Engine;

// The CPU for worker `worker_index` when workers are pinned: the index-th (round robin) of the
// CPUs this process may run on (its affinity mask: a container's cpuset), or -1.
int PinnedCpu(int worker_index);

struct WorkerStats {
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0};
  // dropped: datagrams received and thrown away (truncated, from no peer's path, not a known
  // protocol, refused ingest); send_dropped: datagrams the kernel would not send (a full socket
  // send buffer, or an error for one destination).
  std::atomic<uint64_t> dropped{0}, send_dropped{0}, srtp_errors{0}, stun_rejected{0}, queue_full{0};
  // Quality: NACKed sequence numbers from viewers, packets resent to them, keyframe requests
  // and NACKed sequence numbers sent to publishers.
  std::atomic<uint64_t> nacks_received{0}, retransmits{0}, keyframe_requests{0}, nacks_sent{0};
  // Transport-cc feedback packets sent to publishers.
  std::atomic<uint64_t> transport_cc_sent{0};
  // ICE: valid checks refused because their source address belongs to another live peer, and
  // peers moved to a new address (NAT rebinding).
  std::atomic<uint64_t> ice_address_conflicts{0}, ice_rebinds{0};
  // ICE-TCP: connections accepted (on this worker's listener), packets dropped because a
  // connection's send queue was full, and connections closed for hostile or useless input: no
  // valid STUN within the connect timeout, a frame over the largest datagram, a username of no
  // known peer, a connection limit (per address or per worker), anything else (no STUN first,
  // a failed check).
  std::atomic<uint64_t> tcp_accepted{0}, tcp_dropped{0};
  std::atomic<uint64_t> tcp_rejected_timeout{0}, tcp_rejected_oversize{0}, tcp_rejected_username{0},
      tcp_rejected_limit{0}, tcp_rejected_invalid{0};
  // Sessions ended because their ICE-TCP connection closed and no other path was checked in time.
  std::atomic<uint64_t> tcp_path_closed{0};
  // Worker-thread writers only: a plain load+store is enough and avoids a locked instruction.
  static void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::atomic<uint32_t> peers{0}, viewers{0}, tcp_connections{0};
  // Forwarded packets' time in the relay: kernel receive time to the return of their sendmmsg.
  ResidenceHistogram residence;
  // sendmmsg messages that carried several datagrams to one viewer (UDP GSO).
  std::atomic<uint64_t> gso_messages{0};
};

// One ICE-TCP connection on a worker (fanout/worker_tcp.cc). It belongs to the peer whose valid
// binding request came first on it (`owner`), and to no other peer after that.
struct TcpLink {
  uint64_t id = 0;
  std::unique_ptr<TcpConnection> conn;
  uint32_t owner = 0;       // peer id; 0: no valid check yet
  int64_t opened_ms = 0;
  std::string ip_key;       // the engine's per-address count
  bool want_out = false;    // EPOLLOUT registered
  bool dirty = false;       // queued since the last flush
  bool dropped = false;     // dropped packets since the queue last drained
  std::vector<uint8_t> replay;  // the frame that found the owning worker, handed over with it
  // While its frames are being parsed, a close or a hand-over waits until parsing returns.
  bool reading = false, close_after_read = false;
  int handoff_to = -1;
};

class Worker {
 public:
  Worker(Engine* engine, int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool Open(const std::string& ip, uint16_t port, std::string* error);
  // The engine's ICE-TCP listener lives on one worker, which hands each connection to the worker
  // of the peer its first binding request names.
  bool OpenTcp(const std::string& ip, uint16_t port, std::string* error);
  void Start();
  void StopAndJoin();
  void set_udp_gso(bool on) { out_.set_gso(on); }  // before Start
  // Before Start: see EngineOptions::fanout_coalesce_us.
  void set_fanout_coalesce_us(int us) { coalesce_ns_ = int64_t{us} * 1000; }
  void set_cpu(int cpu) { cpu_ = cpu; }  // before Start; -1: wherever the scheduler puts it
  // Before Start: see EngineOptions::worker_realtime_priority (0: default policy).
  void set_realtime_priority(int priority) { rt_priority_ = priority; }
  // After Start: why the realtime priority was refused (empty: applied or not asked for).
  const std::string& scheduling_error() const { return scheduling_error_; }

  int index() const { return index_; }
  uint16_t port() const { return port_; }
  const WorkerStats& stats() const { return stats_; }
  WorkerStats& counters() { return stats_; }  // worker thread
  size_t pooled_packets() const { return pool_.allocated(); }

  // Thread-safe entry points.
  void AddPeer(Peer* peer);
  void RemovePeer(uint32_t peer_id);
  void RequestKeyframe(uint32_t publisher_peer_id, int layer);
  void SetViewerLayer(uint32_t peer_id, int layer);
  // The highest VP8/VP9 spatial and temporal layer a viewer gets (media/svc_filter.h).
  void SetViewerSvc(uint32_t peer_id, int spatial, int temporal, uint32_t next_kbps);
  // Ingest: the child process whose datagrams the peer takes (see PeerConfig::ingest).
  void SetIngestSource(uint32_t peer_id, int pid);
  // Takes over an ICE-TCP connection from the listening worker (ownership passes).
  void AdoptTcp(TcpLink* link);
  // After every worker has stopped: destroys peers and drops every cached packet.
  void Teardown();
  void PostMedia(uint32_t stream_id, MediaPacket* pkt);  // takes one reference
  // After every worker has stopped: releases queued packets (they may belong to other pools).
  void ReleaseQueued();

  // Worker-thread only: used by peers.
  MediaPacket* NewPacket() { return pool_.Get(); }
  // The pooled packet the datagram at `d` was received into, handed over (the caller owns the
  // reference; the worker receives into a fresh one next), or null when `d` is not one.
  MediaPacket* TakeReceived(const uint8_t* d);
  // The kernel receive time (CLOCK_REALTIME ns) of the datagram being handled, 0 when unknown.
  int64_t rx_ns() const { return rx_ns_; }
  uint8_t* BatchSlot();  // room for kMaxPacket + kSrtpMaxTrailer bytes
  // `tcp_id` nonzero: the packet goes on that ICE-TCP connection instead (copied, framed).
  void BatchCommit(size_t len, const sockaddr_storage& to, uint64_t tcp_id = 0);
  // Queues one packet on an ICE-TCP connection; false (dropped, counted) when it has no room.
  bool SendTcp(uint64_t tcp_id, const uint8_t* d, size_t n);
  // `fd` -1: the worker's shared socket; otherwise a pull peer's own socket.
  void SendNow(const uint8_t* d, size_t n, const sockaddr_storage& to, int fd = -1);
  void Publish(Peer& publisher, MediaPacket* pkt);  // fan out; takes one reference
  void KnowSsrc(uint32_t ssrc, Peer* publisher) { by_ssrc_.emplace(ssrc, publisher); }
  void KeyframeWanted(Stream& stream, int layer);
  // Sends the stream's cached keyframe (and what followed it) to a viewer that just connected.
  bool ReplayKeyframe(Peer& viewer);
  // A packet this worker forwarded recently, for retransmission; null when gone.
  const MediaPacket* CachedPacket(uint32_t stream_id, int kind, int layer, uint16_t seq, uint32_t epoch) const;
  void Emit(const char* type, uint32_t peer_id, const char* detail = nullptr);
  void EmitFeedback(uint32_t peer_id, const ViewerFeedback& fb);
  void EmitLayers(uint32_t peer_id, const double* bps, const uint32_t* ssrcs, int count, double audio_bps);
  // A viewer's first media packet is in the send batch (join time, halfsec_join_seconds).
  void EmitFirstMedia(uint32_t peer_id);
  int64_t now_ms() const { return now_ms_; }
  // Probe padding to any of this worker's viewers: false when the worker's budget is spent.
  bool TakePadding(size_t bytes) { return padding_budget_.Take(now_ms_, bytes); }
  // The kernel's receive time of the datagram being handled, on MonotonicUs()'s clock; 0 when
  // unknown (ICE-TCP, pull sockets, no timestamp).
  int64_t rx_arrival_us() const { return rx_arrival_us_; }
  int connect_timeout_ms() const;
  int consent_timeout_ms() const;
  // A sleeping peer has work again (media, RTCP, a failure): back into the tick list at once.
  void WakePeer(Peer* peer);
  int media_timeout_ms() const;

 private:
  PaddingBudget padding_budget_;
  struct Command {
    enum Type : uint8_t { kAdd, kRemove, kPli, kSetLayer, kStop, kAdoptTcp, kSetSource, kSetSvc } type;
    Peer* peer;
    uint32_t peer_id;
    int value = 0;
    TcpLink* link = nullptr;
  };
  // Queues a command for this worker's thread (under mu_) and wakes it.
  void Post(const Command& command);
  // This worker's share of a stream: its viewers and the packets it forwarded lately, which
  // back retransmissions (references to the shared buffers, not copies).
  struct LocalStream {
    Stream* stream = nullptr;
    std::vector<Peer*> viewers;
    RetransmissionBuffer sent;
  };
  struct QueuedPacket {
    uint32_t stream_id;
    MediaPacket* pkt;
  };

  void Run();
  void Wake();
  void DrainCommands();
  void DrainMedia();
  void ReceiveBatch();
  void HandleDatagram(uint8_t* d, size_t n, const sockaddr_storage& from);
  // A valid binding request's peer (answered and bound by the rules of ice/address_binding.h),
  // else null. `link`: it came on that ICE-TCP connection.
  Peer* HandleStun(uint8_t* d, size_t n, const sockaddr_storage& from, TcpLink* link = nullptr);
  void BindAddress(Peer& peer, const sockaddr_storage& from, TcpLink* link, bool nominates, bool repeated);
  // A publisher's SRTP from an address no peer owns: delivered if it authenticates, and the
  // publisher moves there once its current path went quiet (NAT rebinding without a check).
  bool AdoptBySrtp(uint8_t* d, size_t n, const sockaddr_storage& from);
  // Adds `fd` to the loop for reading; false when epoll refuses it.
  bool WatchReadable(int fd);
  // ICE-TCP (worker_tcp.cc).
  void AcceptTcp();
  void OnTcpEvent(uint64_t id, uint32_t events);
  void ReadTcp(TcpLink& link);
  bool HandleTcpFrame(TcpLink& link, uint8_t* d, size_t n);  // false: stop reading this link
  void CloseTcp(uint64_t id);
  void RejectTcp(uint64_t id, std::atomic<uint64_t>& counter, const char* reason);
  void FlushTcp(TcpLink& link);
  void TickTcp();
  void ClosePeerTcp(uint32_t peer_id);
  void InstallTcp(TcpLink* link);
  void PauseTcpListener();
  // After parsing: carries out a close or hand-over decided meanwhile; false when the link is gone.
  bool SettleTcp(uint64_t id);
  void DeliverToPeer(Peer& peer, uint8_t* d, size_t n);
  // Pull peers: a socket per peer, bound to the worker's address on an ephemeral port.
  bool OpenPullSocket(Peer* peer);
  void ReceivePull(int fd);
  // Ingest peers: their AF_UNIX socket (opened by Engine::AddPeer), read with the sender's pid.
  bool WatchIngest(Peer* peer);
  void ReceiveIngest(Peer& peer);
  // Fans out what Publish and DrainMedia gathered: per stream, each viewer gets the whole run
  // of packets in a row, so its datagrams sit together in the send batch (one GSO message).
  void FanOut();
  // With a coalescing window: true while the gathered packets may still wait for more (the
  // window from the first one's arrival is open and no frame's last packet is among them).
  bool Coalescing() const;
  // epoll_wait bounded by the next tick, and by the coalescing window's end while packets wait.
  int WaitEvents(epoll_event* evs, int max);
  void Defer(uint32_t stream_id, MediaPacket* pkt);  // takes the reference
  // Sends the batch (no fan-out): used when the batch fills up mid fan-out.
  void SendBatchNow();
  void Tick();
  // The tick list: peers ticked every kTickMs; the others sleep in sleepers_ (see Peer::IdleUntil).
  void AddTicked(Peer* peer);
  void RemoveTicked(Peer* peer);
  void DestroyPeer(Peer* peer, const char* reason);
  void Flush();

  Engine* engine_;
  const int index_;
  int fd_ = -1, epfd_ = -1, wakefd_ = -1;
  uint16_t port_ = 0;
  sockaddr_storage bind_addr_{};
  std::thread thread_;
  bool running_ = false;
  int64_t now_ms_ = 0;
  int64_t last_tick_ms_ = 0;
  int64_t rx_ns_ = 0;          // see rx_ns()
  int64_t forward_rx_ns_ = 0;  // while a live packet is forwarded: its receive time, for the batch
  WorkerStats stats_;

  std::mutex mu_;  // guards commands_: control calls are rare, media never takes this lock
  std::vector<Command> commands_;
  MpscQueue<QueuedPacket> media_{8192};
  std::atomic<bool> wake_pending_{false};
  PacketPool pool_{4096};

  // Worker-thread state.
  std::unordered_map<uint32_t, Peer*> peers_;
  std::vector<Peer*> ticked_;
  // Sleeping peers' wake-up times (min-heap); an entry whose peer woke early or went away is
  // stale (its seq no longer matches) and is dropped when it comes up.
  struct Sleeper {
    int64_t due_ms;
    uint32_t peer_id;
    uint32_t seq;
    bool operator>(const Sleeper& o) const { return due_ms > o.due_ms; }
  };
  std::vector<Sleeper> sleepers_;
  std::unordered_map<std::string, Peer*> by_ufrag_;
  std::unordered_map<std::string, Peer*> by_addr_;  // key: raw sockaddr bytes
  std::unordered_multimap<uint32_t, Peer*> by_ssrc_;  // publishers by the SSRCs they send on
  std::unordered_map<uint32_t, LocalStream> streams_;
  std::unordered_map<int, Peer*> by_fd_;  // pull peers by their own socket
  int tcp_fd_ = -1;                        // the ICE-TCP listener (one worker only)
  std::unordered_map<uint64_t, std::unique_ptr<TcpLink>> tcp_;
  std::unordered_map<int, uint64_t> tcp_by_fd_;
  std::vector<uint64_t> tcp_dirty_;
  int64_t tcp_logged_ms_ = -1'000'000;
  int64_t tcp_listen_paused_until_ms_ = 0;  // 0: the listener is watched
  // Peers whose current path was an ICE-TCP connection that closed: (peer id, connection id,
  // deadline). Unless the peer has moved to another path by the deadline, its session ends.
  struct OrphanedPath {
    uint32_t peer_id;
    uint64_t tcp_id;
    int64_t deadline_ms;
  };
  std::vector<OrphanedPath> tcp_orphans_;

  static constexpr int kRecvBatch = 32;
  // Room for one SCM_TIMESTAMPNS control message per received datagram.
  static constexpr size_t kRecvControl = 64;
  SendBatch out_;
  struct alignas(64) Slot {
    uint8_t data[kMaxPacket + 64];
  };
  std::vector<Slot> in_slots_;  // scratch for pull sockets and ICE-TCP reads
  // The shared socket receives straight into pooled packets: a publisher's RTP becomes its
  // MediaPacket without a copy (TakeReceived).
  MediaPacket* rx_pkts_[kRecvBatch] = {};
  int rx_index_ = -1;  // the slot of the datagram being handled
  std::vector<std::array<uint8_t, kRecvControl>> in_control_;
  // Packets waiting for FanOut (references held), in arrival order; bounded by kMaxDeferred.
  static constexpr size_t kMaxDeferred = 64;
  std::vector<QueuedPacket> deferred_;
  bool fanning_out_ = false;
  int cpu_ = -1;                      // the CPU this worker's thread is pinned to, or -1
  int rt_priority_ = 0;               // SCHED_FIFO priority, 0: the default policy
  std::string scheduling_error_;
  int64_t coalesce_ns_ = 0;           // fan-out coalescing window (0: off)
  int64_t coalesce_until_us_ = 0;     // end of the open window, MonotonicUs()
  bool coalesce_frame_end_ = false;   // a video packet with the marker bit is waiting
  int64_t rx_arrival_us_ = 0;
};

}  // namespace halfsec
