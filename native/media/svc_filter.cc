#include "media/svc_filter.h"

#include <algorithm>

#include "rtp/vpx_descriptor.h"

namespace halfsec {

void SvcFilter::SetTarget(int spatial, int temporal) {
  target_sid_ = std::clamp(spatial, 0, kAll);
  target_tid_ = std::clamp(temporal, 0, kAll);
}

SvcFilter::Verdict SvcFilter::Decide(Codec codec, const uint8_t* payload, size_t len, uint32_t timestamp,
                                     bool keyframe) {
  const VpxLayers v = ParseVpxDescriptor(codec, payload, len);
  if (!v.parsed || !v.has_tid) return Verdict{};
  FrameLayers f;
  f.known = true;
  f.spatial = v.sid;
  f.temporal = v.tid;
  f.switch_up = v.switch_up ? static_cast<uint8_t>(1u << v.tid) : 0;
  f.ends = codec == Codec::kVp9 && v.ends;
  return Decide(f, timestamp, keyframe);
}

SvcFilter::Verdict SvcFilter::Decide(const FrameLayers& f, uint32_t timestamp, bool keyframe) {
  Verdict out;
  if (!f.known) return out;
  seen_any_ = true;
  seen_tid_ = std::max<int>(seen_tid_, f.temporal);
  seen_sid_ = std::max<int>(seen_sid_, f.spatial);
  const bool new_picture = !have_ts_ || static_cast<int32_t>(timestamp - last_ts_) > 0;
  if (new_picture) {
    have_ts_ = true;
    last_ts_ = timestamp;
    if (keyframe) {
      // Everything after a keyframe references it or later pictures: any layer may start here.
      sid_ = target_sid_;
      tid_ = target_tid_;
    } else {
      if (target_tid_ < tid_) {
        tid_ = target_tid_;
      } else {
        // The highest layer above the current one, up to the target, that may start here.
        for (int t = std::min(target_tid_, 7); t > tid_; t--) {
          if (f.switch_up & (1u << t)) {
            tid_ = t;
            break;
          }
        }
      }
      if (target_sid_ < sid_) sid_ = target_sid_;
    }
  }
  out.forward = f.temporal <= tid_ && f.spatial <= sid_;
  out.want_keyframe = target_sid_ > sid_ && f.spatial > sid_;
  out.set_marker = out.forward && f.ends && f.spatial == sid_;
  return out;
}

void OutSeqMap::Sent(uint16_t out_seq, uint16_t seq, bool marker) {
  out_[out_seq & (kSize - 1)] = {out_seq, seq, true, marker};
}

bool OutSeqMap::SourceOf(uint16_t out_seq, uint16_t* seq, bool* marker) const {
  const Entry& e = out_[out_seq & (kSize - 1)];
  if (!e.used || e.key != out_seq) return false;
  *seq = e.value;
  *marker = e.marker;
  return true;
}

void OutSeqMap::Gap(uint16_t first, uint16_t count, uint16_t delta) {
  count = std::min<uint16_t>(count, 64);
  for (uint16_t i = 0; i < count; i++) {
    const uint16_t s = static_cast<uint16_t>(first + i);
    late_[s & (kSize - 1)] = {s, static_cast<uint16_t>(s + delta), true, false};
  }
}

bool OutSeqMap::OutOfLate(uint16_t seq, uint16_t* out_seq) const {
  const Entry& e = late_[seq & (kSize - 1)];
  if (!e.used || e.key != seq) return false;
  *out_seq = e.value;
  return true;
}

}  // namespace halfsec
