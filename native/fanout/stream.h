// A published stream as the data plane sees it, and the reference-counted packets fanned out
// from its publisher's worker to every worker holding viewers of it.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "base/mpsc_queue.h"
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
  bool recovered = false;   // arrived late, after the relay NACKed the publisher for it
  uint32_t epoch = 0;       // the stream's source attachment that produced it
  RtpHeader rtp;            // the publisher's header: sequence and timestamp of its layer
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

// The packets since the latest keyframe of one layer, so that a new viewer starts at once
// instead of waiting a round trip to the publisher. Written by the publisher's worker, read
// when a viewer connects; the mutex is never contended on the media path.
class KeyframeCache {
 public:
  static constexpr size_t kMaxPackets = 2048;
  ~KeyframeCache();
  void Add(MediaPacket* pkt, int64_t now_ms);  // publisher's worker; takes a reference when caching
  // Appends referenced packets (caller releases) of `layer`, oldest first, when its keyframe
  // arrived at most `max_age_ms` ago.
  void Snapshot(int layer, int64_t now_ms, int64_t max_age_ms, std::vector<MediaPacket*>* out);
  void Clear();

 private:
  std::mutex mu_;
  std::vector<MediaPacket*> gop_[kMaxLayers];
  bool overflow_[kMaxLayers] = {};
  int64_t keyframe_ms_[kMaxLayers] = {};
};

struct Stream {
  explicit Stream(uint32_t stream_id) : id(stream_id) {}
  const uint32_t id;
  // Bit i set while worker i holds at least one viewer; read by the publisher's worker.
  std::atomic<uint64_t> worker_mask{0};
  // Where to send keyframe requests; -1 while no publisher is attached.
  std::atomic<int> publisher_worker{-1};
  std::atomic<uint32_t> publisher_peer{0};
  // Bumped each time a publisher (or a pull) attaches: a relayed stream may change its source
  // under viewers that stay, and their sequence/timestamp lines must restart at a keyframe.
  std::atomic<uint32_t> source_epoch{0};
  // Keyframe requests are merged per layer: at most one upstream per interval.
  std::atomic<int64_t> last_keyframe_request_ms[kMaxLayers] = {};
  // When each video layer last carried a packet (publisher's worker writes, viewers read).
  std::atomic<int64_t> layer_seen_ms[kMaxLayers] = {};
  std::atomic<int> layer_count{1};
  KeyframeCache keyframes;

  // The publisher's NTP <-> RTP mapping per kind and layer, from its sender reports, so each
  // viewer's sender reports keep audio and video in sync. Written about once a second.
  struct SenderClock {
    uint64_t ntp = 0;
    uint32_t rtp = 0;
    bool valid = false;
  };
  void SetSenderClock(int kind, int layer, uint64_t ntp, uint32_t rtp) {
    std::lock_guard<std::mutex> lock(clock_mu_);
    clocks_[kind][layer] = {ntp, rtp, true};
  }
  SenderClock GetSenderClock(int kind, int layer) {
    std::lock_guard<std::mutex> lock(clock_mu_);
    return clocks_[kind][layer];
  }

  // True for at most one caller per `interval_ms` and layer.
  bool TakeKeyframeRequestSlot(int layer, int64_t now_ms, int64_t interval_ms);
  // The highest layer that carried video within `stale_ms`, or -1.
  int TopLiveLayer(int64_t now_ms, int64_t stale_ms) const;

 private:
  std::mutex clock_mu_;
  SenderClock clocks_[kMediaKinds][kMaxLayers];
};

}  // namespace halfsec
