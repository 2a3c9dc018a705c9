// A data-plane worker: one thread, one UDP socket, one epoll loop, and every peer assigned to it.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fanout/peer.h"
#include "fanout/stream.h"
#include "media/retransmission_buffer.h"
#include "transport/send_batch.h"

namespace halfsec {

class Engine;

struct WorkerStats {
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0};
  std::atomic<uint64_t> dropped{0}, srtp_errors{0}, stun_rejected{0}, queue_full{0};
  // Quality: NACKed sequence numbers from viewers, packets resent to them, keyframe requests
  // and NACKed sequence numbers sent to publishers.
  std::atomic<uint64_t> nacks_received{0}, retransmits{0}, keyframe_requests{0}, nacks_sent{0};
  // ICE: valid checks refused because their source address belongs to another live peer, and
  // peers moved to a new address (NAT rebinding).
  std::atomic<uint64_t> ice_address_conflicts{0}, ice_rebinds{0};
  // Worker-thread writers only: a plain load+store is enough and avoids a locked instruction.
  static void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::atomic<uint32_t> peers{0}, viewers{0};
};

class Worker {
 public:
  Worker(Engine* engine, int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool Open(const std::string& ip, uint16_t port, std::string* error);
  void Start();
  void StopAndJoin();

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
  // After every worker has stopped: destroys peers and drops every cached packet.
  void Teardown();
  void PostMedia(uint32_t stream_id, MediaPacket* pkt);  // takes one reference
  // After every worker has stopped: releases queued packets (they may belong to other pools).
  void ReleaseQueued();

  // Worker-thread only: used by peers.
  MediaPacket* NewPacket() { return pool_.Get(); }
  uint8_t* BatchSlot();  // room for kMaxPacket + kSrtpMaxTrailer bytes
  void BatchCommit(size_t len, const sockaddr_storage& to);
  // `fd` -1: the worker's shared socket; otherwise a pull peer's own socket.
  void SendNow(const uint8_t* d, size_t n, const sockaddr_storage& to, int fd = -1);
  void Publish(Peer& publisher, MediaPacket* pkt);  // fan out; takes one reference
  void KeyframeWanted(Stream& stream, int layer);
  // Sends the stream's cached keyframe (and what followed it) to a viewer that just connected.
  bool ReplayKeyframe(Peer& viewer);
  // A packet this worker forwarded recently, for retransmission; null when gone.
  const MediaPacket* CachedPacket(uint32_t stream_id, int kind, int layer, uint16_t seq, uint32_t epoch) const;
  void Emit(const char* type, uint32_t peer_id, const char* detail = nullptr);
  void EmitFeedback(uint32_t peer_id, const ViewerFeedback& fb);
  void EmitLayers(uint32_t peer_id, const double* bps, int count);
  int64_t now_ms() const { return now_ms_; }
  int connect_timeout_ms() const;
  int consent_timeout_ms() const;
  int media_timeout_ms() const;

 private:
  struct Command {
    enum Type : uint8_t { kAdd, kRemove, kPli, kSetLayer, kStop } type;
    Peer* peer;
    uint32_t peer_id;
    int value = 0;
  };
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
  void HandleStun(uint8_t* d, size_t n, const sockaddr_storage& from);
  void BindAddress(Peer& peer, const sockaddr_storage& from, bool nominates);
  void DeliverToPeer(Peer& peer, uint8_t* d, size_t n);
  // Pull peers: a socket per peer, bound to the worker's address on an ephemeral port.
  bool OpenPullSocket(Peer* peer);
  void ReceivePull(int fd);
  void DeliverLocal(uint32_t stream_id, const MediaPacket& pkt);
  void Tick();
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
  WorkerStats stats_;

  std::mutex mu_;  // guards commands_: control calls are rare, media never takes this lock
  std::vector<Command> commands_;
  MpscQueue<QueuedPacket> media_{8192};
  std::atomic<bool> wake_pending_{false};
  PacketPool pool_{4096};

  // Worker-thread state.
  std::unordered_map<uint32_t, Peer*> peers_;
  std::unordered_map<std::string, Peer*> by_ufrag_;
  std::unordered_map<std::string, Peer*> by_addr_;  // key: raw sockaddr bytes
  std::unordered_map<uint32_t, LocalStream> streams_;
  std::unordered_map<int, Peer*> by_fd_;  // pull peers by their own socket

  static constexpr int kRecvBatch = 32;
  SendBatch out_;
  struct alignas(64) Slot {
    uint8_t data[kMaxPacket + 64];
  };
  std::vector<Slot> in_slots_;
};

}  // namespace halfsec
