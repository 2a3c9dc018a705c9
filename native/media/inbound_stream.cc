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

InboundStream::Verdict InboundStream::Accept(uint32_t ssrc, uint16_t seq, int64_t now_ms, int64_t quiet_ms, bool may_restart,
                                             bool* recovered) {
  *recovered = false;
  if (!started_) {
    ssrc_ = ssrc;
    last_ms_ = now_ms;
    return Track(seq, now_ms, recovered) ? Verdict::kAccept : Verdict::kDrop;
  }
  if (ssrc != ssrc_) {
    // Two live SSRCs never alternate: the newcomer waits until the current one went quiet.
    if (!may_restart || now_ms - last_ms_ < quiet_ms) return Verdict::kDrop;
    Restart(ssrc);
    last_ms_ = now_ms;
    Track(seq, now_ms, recovered);
    return Verdict::kRestart;
  }
  last_ms_ = now_ms;
  const uint16_t udelta = static_cast<uint16_t>(seq - max_seq_);
  if (udelta >= kMaxDropout && udelta <= 65535 - kMaxMisorder) {
    if (!may_restart) return Verdict::kDrop;
    if (!probation_ || seq != bad_seq_) {
      probation_ = true;
      bad_seq_ = static_cast<uint16_t>(seq + 1);
      return Verdict::kProbation;
    }
    Restart(ssrc);
    last_ms_ = now_ms;
    bool held;
    Track(static_cast<uint16_t>(seq - 1), now_ms, &held);
    Track(seq, now_ms, recovered);
    return Verdict::kRestart;
  }
  probation_ = false;
  return Track(seq, now_ms, recovered) ? Verdict::kAccept : Verdict::kDrop;
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
