// Reading transport-wide congestion control feedback (RTPFB, FMT=15) from a receiver,
// draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1. Bounded: every read is checked
// against the RTCP packet's own length, a status count far beyond what the packet can describe
// is refused, and the output never exceeds the caller's array.
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

// One packet the feedback reports as received: its transport-wide sequence number and its
// arrival time in µs on the receiver's clock, as reference_ticks * 64 ms + the deltas up to it.
struct TransportCcArrival {
  uint16_t seq = 0;
  int64_t arrival_us = 0;
};

struct TransportCcFeedback {
  uint32_t sender_ssrc = 0, media_ssrc = 0;
  uint16_t base_seq = 0;
  uint16_t status_count = 0;      // packets the feedback describes, base_seq onwards
  int32_t reference_ticks = 0;    // 24-bit signed reference time, units of 64 ms
  uint8_t feedback_count = 0;     // the receiver's feedback packet counter (wraps at 256)
  uint32_t received = 0, lost = 0;  // status symbols: with an arrival time, and "not received"
};

// Arrival records one feedback packet can hold: every received packet costs at least one byte
// of delta in an RTCP packet that fits one datagram.
constexpr size_t kMaxTransportCcArrivals = 1536;

// Parses one RTCP packet `p` of `n` bytes (its header's length; n >= 4) if it is an RTPFB
// FMT=15 transport-cc feedback. Writes up to `max` arrivals to `out` (in packet order; a
// reordered arrival may be earlier than the one before it) and their number to `*count`.
// False when it is not transport-cc feedback, is malformed (a chunk or delta past the end, a
// reserved status symbol), or reports more arrivals than `max`.
bool ParseTransportCc(const uint8_t* p, size_t n, TransportCcFeedback* fb, TransportCcArrival* out, size_t max,
                      size_t* count);

// The 24-bit reference times of successive feedback packets, unwrapped into one µs timeline
// (the field wraps every ~12 days; a receiver may start it anywhere).
class TransportCcClock {
 public:
  // µs offset to add to the arrivals of a feedback with `reference_ticks`.
  int64_t Unwrap(int32_t reference_ticks) {
    if (!started_) {
      started_ = true;
      last_ = reference_ticks;
      base_ = 0;
    }
    int32_t diff = (reference_ticks - last_) & 0xffffff;
    if (diff >= 0x800000) diff -= 0x1000000;
    base_ += static_cast<int64_t>(diff) * 64000;
    last_ = reference_ticks;
    // A receiver's clock moves with time, but forged feedback may jump ~6 days either way with
    // every packet: without a bound, ~10^7 such packets overflow the timeline (and every arrival
    // time on it). Far beyond any real session, start over at this reference time (a jump the
    // estimator's inter-arrival filter takes as a pause).
    if (base_ > kMaxUs || base_ < -kMaxUs) base_ = static_cast<int64_t>(reference_ticks) * 64000;
    return base_ - static_cast<int64_t>(reference_ticks) * 64000;
  }

 private:
  static constexpr int64_t kMaxUs = int64_t{1} << 50;  // ~35 years
  bool started_ = false;
  int32_t last_ = 0;
  int64_t base_ = 0;
};

}  // namespace halfsec
