#include <cstring>
#include <string>

#include "media/inbound_stream.h"
#include "media/rtcp_reporter.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "rtp/rtx.h"
#include "tests/check.h"

namespace halfsec {

TEST(UpstreamFeedbackReportsStartedLinesAndRemb) {
  InboundStream lines[3];
  uint8_t out[256];
  CHECK_EQ(BuildUpstreamFeedback(out, 1, "c", lines, 3, 500000), 0u);
  bool recovered;
  lines[1].set_ssrc(0xabc);
  lines[1].Track(10, 0, &recovered);
  lines[1].Track(14, 0, &recovered);  // 3 lost of 5
  const size_t len = BuildUpstreamFeedback(out, 1, "c", lines, 3, 500000);
  RtcpSummary r;
  CHECK(ParseRtcp(out, len, &r, [](uint32_t, uint16_t) {}));
  CHECK(r.has_report);
  CHECK_EQ(r.report_ssrc, 0xabcu);
  CHECK_EQ(r.fraction_lost, (3 << 8) / 5);
  CHECK(r.has_remb);
  CHECK_EQ(r.first_pt, 201);  // compound: the RR first, then SDES CNAME (RFC 3550 §6.1)
  CHECK(r.has_cname);
  CHECK_EQ(BuildUpstreamFeedback(out, 1, "c", lines, 3, 0), 32u + 12u);  // no REMB asked for
}

TEST(FeedbackIsCompoundUnlessReducedSize) {
  uint8_t out[512];
  size_t off = BuildFeedbackHead(out, 0x1234, "halfsec-0123456789abcdef", false);
  CHECK_EQ(off % 4, 0u);
  CHECK_EQ(out[1], 201);           // an RR leads
  CHECK_EQ(out[0] & 0x1f, 0);      // with no report blocks
  CHECK_EQ(out[9], 202);           // then SDES
  CHECK_EQ(out[8] & 0x1f, 1);      // one chunk
  CHECK_EQ(Load32(out + 12), 0x1234u);
  CHECK_EQ(out[16], 1);            // CNAME item
  CHECK_EQ(out[17], 24);
  CHECK(std::memcmp(out + 18, "halfsec-0123456789abcdef", 24) == 0);
  off += BuildPli(out + off, 0x1234, 0x99);
  RtcpSummary r;
  CHECK(ParseRtcp(out, off, &r, [](uint32_t, uint16_t) {}));
  CHECK_EQ(r.first_pt, 201);
  CHECK(r.has_cname);
  CHECK(r.keyframe_request);
  CHECK_EQ(r.keyframe_ssrc, 0x99u);
  // Reduced-size RTCP negotiated: the PLI goes alone.
  CHECK_EQ(BuildFeedbackHead(out, 0x1234, "x", true), 0u);
  // Every CNAME length pads to a word with at least one null octet.
  for (size_t n = 1; n < 12; n++) {
    const uint32_t ssrcs[2] = {1, 2};
    const size_t len = BuildSdesCname(out, ssrcs, 2, std::string(n, 'a'));
    CHECK_EQ(len % 4, 0u);
    RtcpSummary s;
    CHECK(ParseRtcp(out, len, &s, [](uint32_t, uint16_t) {}));
    CHECK(s.has_cname);
  }
}

TEST(SenderReportTimeShiftsThePublisherClock) {
  const uint64_t one_second = uint64_t{1} << 32;
  // One second after the publisher's report at 90 kHz, shifted by the viewer's delta.
  CHECK_EQ(SenderReportRtpTime(true, 5 * one_second, 1000, 6 * one_second, 90000, 7, 0), 1000u + 90000 + 7);
  CHECK_EQ(SenderReportRtpTime(false, 0, 0, 6 * one_second, 90000, 7, 1234), 1234u);
}

TEST(RoundTripFromLsrAndDlsr) {
  const uint64_t now = uint64_t{100} << 32;       // 100 s
  const uint32_t lsr = (99u << 16) + (1u << 15);  // 99.5 s
  CHECK_EQ(RoundTripMs(lsr, 1u << 14, now), 250.0);  // 0.5 s - 0.25 s
  CHECK_EQ(RoundTripMs(0, 0, now), -1.0);
  CHECK_EQ(RoundTripMs(lsr, 1u << 17, now), -1.0);  // DLSR beyond arrival: wrapped
}

TEST(RtxWrapAndUnwrapRoundTrip) {
  uint8_t d[64] = {0x80, 96, 0, 5, 0, 0, 0, 1, 0, 0, 0, 9, 'a', 'b', 'c'};
  size_t len = InsertRtxOsn(d, 15, 12, 0x1234);
  CHECK_EQ(len, 17u);
  d[1] = 97;  // the RTX payload type
  RtpHeader h;
  CHECK(ParseRtp(d, len, &h));
  int n = static_cast<int>(len);
  CHECK(UnwrapRtx(d, &n, &h, 96));
  CHECK_EQ(n, 15);
  CHECK_EQ(h.payload_type, 96);
  CHECK_EQ(h.sequence, 0x1234);
  CHECK(d[12] == 'a' && d[14] == 'c');
  // A padding-only probe carries no original packet.
  uint8_t probe[12] = {0x80, 97, 0, 6, 0, 0, 0, 1, 0, 0, 0, 9};
  CHECK(ParseRtp(probe, 12, &h));
  n = 12;
  CHECK(!UnwrapRtx(probe, &n, &h, 96));
}

}  // namespace halfsec
