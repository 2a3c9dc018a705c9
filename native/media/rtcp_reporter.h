// The figures in the RTCP the relay writes on its own account: receiver reports and REMB toward
// a publisher, sender reports toward a viewer, and the round trip read back from a viewer's
// receiver report.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "media/inbound_stream.h"

namespace halfsec {

// One compound packet (RFC 3550 §6.1): a receiver report with a block for each started line in
// `lines[0..count)`, SDES with `cname`, then a REMB for all of them when `remb_bps` > 0. Zero
// when no line has started. `out` needs 8 + 28 * count + 268 + 20 bytes.
size_t BuildUpstreamFeedback(uint8_t* out, uint32_t sender_ssrc, std::string_view cname, InboundStream* lines, int count,
                             uint64_t remb_bps);

// What must precede feedback (NACK, PLI) the relay sends on its own: RFC 3550 §6.1 and RFC 8834
// §4.6 want every RTCP datagram compound, led by an SR or RR and carrying SDES CNAME, unless
// reduced-size RTCP (RFC 5506) was negotiated with that peer (`rsize`: nothing precedes).
// Writes an RR without report blocks and SDES CNAME; returns their length (<= 276 bytes).
size_t BuildFeedbackHead(uint8_t* out, uint32_t sender_ssrc, std::string_view cname, bool rsize);

// The RTP timestamp a viewer's sender report pairs with `ntp_now`. With the publisher's own
// NTP <-> RTP mapping (`has_clock`) shifted into the viewer's line by `ts_delta`, audio and
// video stay in sync; without one, `fallback` (the line extrapolated) is the best guess.
uint32_t SenderReportRtpTime(bool has_clock, uint64_t clock_ntp, uint32_t clock_rtp, uint64_t ntp_now,
                             uint32_t clock_rate, uint32_t ts_delta, uint32_t fallback);

// RFC 3550 6.4.1: arrival - LSR - DLSR, in ms; -1 when the report carries no usable LSR.
double RoundTripMs(uint32_t last_sr, uint32_t delay_since_sr, uint64_t ntp_now);

}  // namespace halfsec
