// The figures in the RTCP the relay writes on its own account: receiver reports and REMB toward
// a publisher, sender reports toward a viewer, and the round trip read back from a viewer's
// receiver report.
#pragma once
#include <cstddef>
#include <cstdint>

#include "media/inbound_stream.h"

namespace halfsec {

// One compound packet: a receiver report for each started line in `lines[0..count)`, then a
// REMB for all of them when `remb_bps` > 0. Zero when no line has started. `out` needs
// 32 * count + 20 + 4 * count bytes.
size_t BuildUpstreamFeedback(uint8_t* out, uint32_t sender_ssrc, InboundStream* lines, int count, uint64_t remb_bps);

// The RTP timestamp a viewer's sender report pairs with `ntp_now`. With the publisher's own
// NTP <-> RTP mapping (`has_clock`) shifted into the viewer's line by `ts_delta`, audio and
// video stay in sync; without one, `fallback` (the line extrapolated) is the best guess.
uint32_t SenderReportRtpTime(bool has_clock, uint64_t clock_ntp, uint32_t clock_rtp, uint64_t ntp_now,
                             uint32_t clock_rate, uint32_t ts_delta, uint32_t fallback);

// RFC 3550 6.4.1: arrival - LSR - DLSR, in ms; -1 when the report carries no usable LSR.
double RoundTripMs(uint32_t last_sr, uint32_t delay_since_sr, uint64_t ntp_now);

}  // namespace halfsec
