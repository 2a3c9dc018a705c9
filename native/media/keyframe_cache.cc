#include "media/keyframe_cache.h"

namespace halfsec {

KeyframeCache::~KeyframeCache() { Clear(); }

void KeyframeCache::Add(MediaPacket* pkt, int64_t now_ms) {
  if (pkt->kind != kVideo || pkt->layer >= kMaxLayers || pkt->recovered) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto& gop = gop_[pkt->layer];
  // A restarted source line (new SSRC or sequence) does not continue the cached picture group.
  if (!gop.empty() && gop.front()->epoch != pkt->epoch) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
  }
  // Several packets may start one keyframe picture (H.264 SPS then the IDR slices, each slice
  // of a multi-slice IDR): the group starts at the picture's first, not its last.
  const bool same_picture = !gop.empty() && gop.front()->rtp.timestamp == pkt->rtp.timestamp;
  if (pkt->keyframe && !same_picture) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
    overflow_[pkt->layer] = false;
    keyframe_ms_[pkt->layer] = now_ms;
  } else if (gop.empty() || overflow_[pkt->layer]) {
    return;  // no keyframe yet, or this group of pictures outgrew the cache
  }
  if (gop.size() >= kMaxPackets) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
    overflow_[pkt->layer] = true;
    return;
  }
  pkt->AddRef(1);
  gop.push_back(pkt);
}

void KeyframeCache::Snapshot(int layer, int64_t now_ms, int64_t max_age_ms, std::vector<MediaPacket*>* out) {
  if (layer < 0 || layer >= kMaxLayers) return;
  std::lock_guard<std::mutex> lock(mu_);
  // Replaying a long group of pictures would start the viewer seconds behind live.
  if (now_ms - keyframe_ms_[layer] > max_age_ms) return;
  for (MediaPacket* p : gop_[layer]) {
    p->AddRef(1);
    out->push_back(p);
  }
}

void KeyframeCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& gop : gop_) {
    for (MediaPacket* p : gop) p->Release();
    gop.clear();
  }
}

}  // namespace halfsec
