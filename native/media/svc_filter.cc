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
  Verdict out;
  const VpxLayers v = ParseVpxDescriptor(codec, payload, len);
  if (!v.parsed || !v.has_tid) return out;
  seen_any_ = true;
  seen_tid_ = std::max<int>(seen_tid_, v.tid);
  seen_sid_ = std::max<int>(seen_sid_, v.sid);
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
      } else if (target_tid_ > tid_ && v.switch_up && v.tid > tid_ && v.tid <= target_tid_) {
        tid_ = v.tid;
      }
      if (target_sid_ < sid_) sid_ = target_sid_;
    }
  }
  out.forward = v.tid <= tid_ && v.sid <= sid_;
  out.want_keyframe = target_sid_ > sid_ && v.sid > sid_;
  out.set_marker = out.forward && codec == Codec::kVp9 && v.ends && v.sid == sid_;
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
