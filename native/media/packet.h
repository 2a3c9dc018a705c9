// The reference-counted media packet fanned out from a publisher's worker to every worker
// holding viewers of its stream, and the per-worker pool it comes from.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "base/mpsc_queue.h"
#include "media/frame_layers.h"
#include "rtp/keyframe.h"
#include "rtp/rtp.h"

namespace halfsec {

enum MediaKind : uint8_t { kAudio = 0, kVideo = 1, kMediaKinds = 2 };

constexpr size_t kMaxPacket = 1500;
constexpr int kMaxLayers = 4;

class PacketPool;

// Decrypted once by the publisher's worker, then shared read-only by every worker that has
// viewers of the stream. The last holder hands it back to its pool.
struct MediaPacket {
  std::atomic<uint32_t> refs{1};
  PacketPool* pool = nullptr;
  MediaKind kind = kVideo;
  uint8_t layer = 0;        // simulcast layer (0 without simulcast)
  bool keyframe = false;    // first packet of a keyframe
  Codec codec = Codec::kUnknown;  // the payload format (video layer filtering reads VP8/VP9)
  bool recovered = false;   // arrived late, after the relay NACKed the publisher for it
  uint32_t epoch = 0;       // the stream's source attachment that produced it
  int64_t rx_ns = 0;        // kernel receive time of the datagram it came in (CLOCK_REALTIME ns), 0: unknown
  RtpHeader rtp;            // the publisher's header: sequence and timestamp of its layer
  // AV1 with the dependency descriptor negotiated (fanout/peer_svc.cc): the packet's layers, read
  // once by the publisher's worker, and where the descriptor's bytes are in `data` (len 0: none).
  FrameLayers layers;
  uint16_t dd_offset = 0;
  uint8_t dd_len = 0;
  uint16_t len = 0;
  uint8_t data[kMaxPacket];

  void AddRef(uint32_t n) { refs.fetch_add(n, std::memory_order_relaxed); }
  void Release();
};

// Per-worker packet pool: the owning worker takes packets without a lock or malloc once warm;
// any thread may give one back through a lock-free queue.
class PacketPool {
 public:
  explicit PacketPool(size_t max_cached);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  MediaPacket* Get();             // owner thread
  void Return(MediaPacket* pkt);  // any thread
  size_t allocated() const { return allocated_.load(std::memory_order_relaxed); }

 private:
  std::vector<MediaPacket*> free_;
  MpscQueue<MediaPacket*> returned_;
  size_t max_cached_;
  std::atomic<size_t> allocated_{0};
};

}  // namespace halfsec
