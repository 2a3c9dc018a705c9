#include "media/inbound_stream.h"

namespace halfsec {

void InboundStream::Restart(uint32_t ssrc) {
  *this = InboundStream();
  ssrc_ = ssrc;
}

bool InboundStream::Track(uint16_t seq, int64_t now_ms, bool* recovered) {
  *recovered = false;
  if (!started_) {
    started_ = true;
    max_seq_ = seq;
    base_seq_ = seq;
    received_ = 1;
    return true;
  }
  const int16_t diff = static_cast<int16_t>(seq - max_seq_);
  if (diff > 0) {
    if (seq < max_seq_) cycles_ += 65536;
    if (diff > 1 && diff < kMaxGap) nacks_.OnGap(static_cast<uint16_t>(max_seq_ + 1), seq, now_ms);
    max_seq_ = seq;
    received_++;
    return true;
  }
  if (!nacks_.OnArrived(seq)) return false;
  received_++;
  *recovered = true;
  return true;
}

InboundStream::Report InboundStream::TakeReport() {
  const uint32_t extended = cycles_ + max_seq_;
  const uint32_t expected = extended - base_seq_ + 1;
  const uint32_t exp_int = expected - expected_prior_, rec_int = received_ - received_prior_;
  expected_prior_ = expected;
  received_prior_ = received_;
  const uint8_t fraction = exp_int == 0 || rec_int >= exp_int ? 0 : static_cast<uint8_t>(((exp_int - rec_int) << 8) / exp_int);
  const uint32_t lost = expected > received_ ? expected - received_ : 0;
  return {fraction, lost, extended};
}

}  // namespace halfsec
