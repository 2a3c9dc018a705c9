// A published stream as the data plane sees it, and the reference-counted packets fanned out
// from its publisher's worker to every worker holding viewers of it.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "mpsc_queue.h"
#include "rtp.h"

namespace halfsec {

enum MediaKind : uint8_t { kAudio = 0, kVideo = 1, kMediaKinds = 2 };

constexpr size_t kMaxPacket = 1500;

class PacketPool;

// Decrypted once by the publisher's worker, then shared read-only by every worker that has
// viewers of the stream. The last worker to release it hands it back to its pool.
struct MediaPacket {
  std::atomic<uint32_t> refs{1};
  PacketPool* pool = nullptr;
  MediaKind kind = kVideo;
  RtpHeader rtp;
  // Stream-level sequence number and timestamp: continuous across the publisher's layer
  // switches; each viewer adds its own offset.
  uint16_t seq = 0;
  uint32_t ts = 0;
  uint16_t len = 0;
  uint8_t data[kMaxPacket];

  void AddRef(uint32_t n) { refs.fetch_add(n, std::memory_order_relaxed); }
  void Release();
};

// Per-worker packet pool: the owning worker takes packets without a lock or malloc once warm;
// any worker may give one back through a lock-free queue.
class PacketPool {
 public:
  explicit PacketPool(size_t max_cached);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  MediaPacket* Get();               // owner thread
  void Return(MediaPacket* pkt);    // any thread
  size_t allocated() const { return allocated_.load(std::memory_order_relaxed); }

 private:
  std::vector<MediaPacket*> free_;
  MpscQueue<MediaPacket*> returned_;
  size_t max_cached_;
  std::atomic<size_t> allocated_{0};
};

struct Stream {
  explicit Stream(uint32_t stream_id) : id(stream_id) {}
  const uint32_t id;
  // Bit i set while worker i holds at least one viewer; read by the publisher's worker.
  std::atomic<uint64_t> worker_mask{0};
  // Where to send keyframe requests; -1 while no publisher is attached.
  std::atomic<int> publisher_worker{-1};
  std::atomic<uint32_t> publisher_peer{0};
  std::atomic<int64_t> last_keyframe_request_ms{-1000000};

  // Merges keyframe requests: true for at most one caller per `interval_ms`.
  bool TakeKeyframeRequestSlot(int64_t now_ms, int64_t interval_ms);
};

}  // namespace halfsec
