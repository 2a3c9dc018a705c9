// A new viewer starts from the latest keyframe at once instead of a round trip to the publisher.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "media/packet.h"

namespace halfsec {

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

}  // namespace halfsec
