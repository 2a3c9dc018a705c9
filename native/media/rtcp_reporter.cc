#include "media/rtcp_reporter.h"

#include "rtp/rtcp.h"

namespace halfsec {

size_t BuildUpstreamFeedback(uint8_t* out, uint32_t sender_ssrc, std::string_view cname, InboundStream* lines, int count,
                             uint64_t remb_bps) {
  ReportBlock blocks[31];
  uint32_t ssrcs[31];
  int n = 0;
  for (int i = 0; i < count && n < 31; i++) {
    InboundStream& in = lines[i];
    if (!in.started()) continue;
    const InboundStream::Report r = in.TakeReport();
    blocks[n] = {in.ssrc(), r.fraction_lost, r.cumulative_lost, r.extended_max, 0, 0, 0};
    ssrcs[n++] = in.ssrc();
  }
  if (n == 0) return 0;
  size_t off = BuildReceiverReport(out, sender_ssrc, blocks, n);
  off += BuildSdesCname(out + off, &sender_ssrc, 1, cname);
  if (remb_bps > 0) off += BuildRemb(out + off, sender_ssrc, remb_bps, ssrcs, n);
  return off;
}

size_t BuildFeedbackHead(uint8_t* out, uint32_t sender_ssrc, std::string_view cname, bool rsize) {
  if (rsize) return 0;
  const size_t off = BuildReceiverReport(out, sender_ssrc, nullptr, 0);
  return off + BuildSdesCname(out + off, &sender_ssrc, 1, cname);
}

uint32_t SenderReportRtpTime(bool has_clock, uint64_t clock_ntp, uint32_t clock_rtp, uint64_t ntp_now,
                             uint32_t clock_rate, uint32_t ts_delta, uint32_t fallback) {
  if (!has_clock) return fallback;
  const int64_t since = static_cast<int64_t>(ntp_now - clock_ntp);  // NTP units: 1/2^32 s
  return clock_rtp + static_cast<uint32_t>((since * static_cast<int64_t>(clock_rate)) >> 32) + ts_delta;
}

double RoundTripMs(uint32_t last_sr, uint32_t delay_since_sr, uint64_t ntp_now) {
  if (last_sr == 0) return -1;
  const uint32_t mid = static_cast<uint32_t>(ntp_now >> 16);  // 1/65536 s
  const uint32_t rtt = mid - last_sr - delay_since_sr;
  // Beyond 10 s it is a wrapped or bogus report, not a round trip.
  return rtt < 65536u * 10 ? rtt * 1000.0 / 65536.0 : -1;
}

}  // namespace halfsec
