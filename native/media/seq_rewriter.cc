#include "media/seq_rewriter.h"

#include <algorithm>
#include <cstring>

namespace halfsec {

void SeqRewriter::Start(uint16_t seq, uint16_t first_out_seq, uint8_t layer, uint32_t source) {
  started_ = true;
  seq_delta_ = static_cast<uint16_t>(first_out_seq - seq);
  ts_delta_ = 0;
  last_out_seq_ = static_cast<uint16_t>(seq + seq_delta_ - 1);
  BeginSegment(seq, layer, source);
}

void SeqRewriter::Continue(uint16_t seq, uint32_t ts, uint8_t layer, int64_t now_ms, uint32_t clock_rate, uint32_t source) {
  seq_delta_ = static_cast<uint16_t>(last_out_seq_ + 1 - seq);
  const int64_t elapsed = std::max<int64_t>(1, (now_ms - last_ms_) * clock_rate / 1000);
  ts_delta_ = last_out_ts_ + static_cast<uint32_t>(elapsed) - ts;
  BeginSegment(seq, layer, source);
}

void SeqRewriter::BeginSegment(uint16_t seq, uint8_t layer, uint32_t source) {
  last_in_seq_ = static_cast<uint16_t>(seq - 1);
  if (segment_count_ == kSegments) {
    std::memmove(segments_, segments_ + 1, sizeof(segments_[0]) * (kSegments - 1));
    segment_count_ = kSegments - 1;
  }
  segments_[segment_count_++] = {static_cast<uint16_t>(seq + seq_delta_), layer, seq_delta_, ts_delta_, source};
}

void SeqRewriter::Sent(uint16_t seq, uint16_t out_seq, uint32_t out_ts, int64_t now_ms) {
  if (!IsNew(seq)) return;
  last_in_seq_ = seq;
  last_out_seq_ = out_seq;
  last_out_ts_ = out_ts;
  last_ms_ = now_ms;
}

const SeqRewriter::Segment* SeqRewriter::Lookup(uint16_t out_seq) const {
  for (int i = segment_count_ - 1; i >= 0; i--) {
    if (static_cast<int16_t>(out_seq - segments_[i].out_start) >= 0) return &segments_[i];
  }
  return nullptr;
}

uint32_t SeqRewriter::TsAt(int64_t now_ms, uint32_t clock_rate) const {
  return last_out_ts_ + static_cast<uint32_t>((now_ms - last_ms_) * clock_rate / 1000);
}

}  // namespace halfsec
