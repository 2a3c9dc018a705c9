// A published stream as the data plane sees it: who publishes it, which workers hold its
// viewers, its live layers and keyframe cache, and the publisher's sender clocks.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>

#include "media/keyframe_cache.h"
#include "media/packet.h"

namespace halfsec {

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
  // Each video layer's measured bit rate (kbit/s, about once a second, publisher's worker
  // writes): what a viewer's probe toward the next layer aims at.
  std::atomic<uint32_t> layer_kbps[kMaxLayers] = {};
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
  void ClearSenderClock(int kind, int layer) {
    std::lock_guard<std::mutex> lock(clock_mu_);
    clocks_[kind][layer] = {};
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
