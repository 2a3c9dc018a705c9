#include <algorithm>
#include "media/send_history.h"
#include "rtp/rtp.h"
#include "rtp/transport_cc_reader.h"
#include "tests/check.h"
#include "tests/twcc_sim.h"

namespace halfsec {

TEST(TransportCcReaderReadsWhatTheWriterWrote) {
  std::vector<std::optional<int64_t>> in = {1'000'000, std::nullopt, 1'000'250, 1'070'000, 990'000, std::nullopt,
                                            std::nullopt, 1'200'000};
  const auto p = test::WriteTwcc(65533, in, 9);  // wraps through 0
  TransportCcFeedback fb;
  TransportCcArrival out[16];
  size_t n = 0;
  CHECK(ParseTransportCc(p.data(), p.size(), &fb, out, 16, &n));
  CHECK_EQ(fb.base_seq, 65533);
  CHECK_EQ(fb.status_count, 8);
  CHECK_EQ(fb.feedback_count, 9);
  CHECK_EQ(fb.received, 5u);
  CHECK_EQ(fb.lost, 3u);
  CHECK_EQ(n, size_t{5});
  const uint16_t seqs[5] = {65533, 65535, 0, 1, 4};
  const int64_t at[5] = {1'000'000, 1'000'250, 1'070'000, 990'000, 1'200'000};
  for (size_t i = 0; i < 5 && i < n; i++) {
    CHECK_EQ(out[i].seq, seqs[i]);
    // The writer rounds to 250 µs; a negative delta (reordering) takes the two-byte form.
    CHECK(out[i].arrival_us <= at[i] && out[i].arrival_us > at[i] - 250);
  }
}

TEST(TransportCcReaderReadsRunLengthAndOneBitChunks) {
  // base 100, 20 packets: run of 10 received (small deltas), one-bit vector of 10 (5 received).
  uint8_t p[64] = {0x8f, 205, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0, 20, 0, 0, 2, 0};
  size_t off = 20;
  Store16(p + off, static_cast<uint16_t>((1 << 13) | 10));  // run: symbol 1, length 10
  off += 2;
  Store16(p + off, static_cast<uint16_t>(0x8000 | 0b10101010101000));  // one-bit: 1,0,1,0,...
  off += 2;
  for (int i = 0; i < 15; i++) p[off++] = 4;  // 1 ms each
  while (off % 4) p[off++] = 0;
  Store16(p + 2, static_cast<uint16_t>(off / 4 - 1));
  TransportCcFeedback fb;
  TransportCcArrival out[32];
  size_t n = 0;
  CHECK(ParseTransportCc(p, off, &fb, out, 32, &n));
  CHECK_EQ(n, size_t{15});
  CHECK_EQ(fb.lost, 5u);
  CHECK_EQ(fb.reference_ticks, 2);
  CHECK_EQ(out[0].arrival_us, 2 * 64000 + 1000);
  CHECK_EQ(out[10].seq, 110);
  CHECK_EQ(out[11].seq, 112);
  CHECK_EQ(out[14].arrival_us, 2 * 64000 + 15000);
}

TEST(TransportCcReaderRefusesMalformedFeedback) {
  const auto good = test::WriteTwcc(1, {1000, 2000, 3000});
  TransportCcFeedback fb;
  TransportCcArrival out[8];
  size_t n = 0;
  CHECK(ParseTransportCc(good.data(), good.size(), &fb, out, 8, &n));
  // Too few output slots, a truncated packet, a length past the buffer, not FMT 15.
  CHECK(!ParseTransportCc(good.data(), good.size(), &fb, out, 2, &n));
  CHECK(!ParseTransportCc(good.data(), 19, &fb, out, 8, &n));
  auto longer = good;
  Store16(longer.data() + 2, 200);
  CHECK(!ParseTransportCc(longer.data(), longer.size(), &fb, out, 8, &n));
  auto nack = good;
  nack[0] = 0x81;
  CHECK(!ParseTransportCc(nack.data(), nack.size(), &fb, out, 8, &n));
  // A status count the chunks cannot cover; deltas missing; a reserved symbol.
  uint8_t p[24] = {0x8f, 205, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 3, 0, 0, 0, 0};
  Store16(p + 20, static_cast<uint16_t>((1 << 13) | 3));  // 3 received, but no delta bytes
  CHECK(!ParseTransportCc(p, 24, &fb, out, 8, &n));
  Store16(p + 14, 30);  // 30 packets: the next "chunk" (zero padding) is an empty run
  CHECK(!ParseTransportCc(p, 24, &fb, out, 8, &n));
  Store16(p + 14, 3);
  Store16(p + 20, static_cast<uint16_t>((3 << 13) | 3));
  CHECK(!ParseTransportCc(p, 24, &fb, out, 8, &n));
  // A run of 8000 lost costs nothing and matches only what the history holds.
  Store16(p + 14, 8000);
  Store16(p + 20, static_cast<uint16_t>(8000));
  CHECK(ParseTransportCc(p, 24, &fb, out, 8, &n));
  CHECK_EQ(fb.lost, 8000u);
  CHECK_EQ(n, size_t{0});
}

TEST(TransportCcMatchingReportsEachSentPacketOnce) {
  SendHistory h;
  for (uint16_t s = 10; s < 20; s++) h.Record(s, s * 1000, 100 + s, s == 15 ? 3 : -1);
  const auto p = test::WriteTwcc(8, {100'000, 101'000, std::nullopt, 103'000, 104'000});  // 8..12
  TransportCcFeedback fb;
  TransportCcArrival arr[8];
  size_t n = 0;
  CHECK(ParseTransportCc(p.data(), p.size(), &fb, arr, 8, &n));
  PacketResult r[SendHistory::kSize];
  CHECK_EQ(MatchTransportCc(fb, arr, n, 0, &h, r), size_t{3});  // 8 and 9 were never sent
  CHECK(!r[0].received);
  CHECK(r[1].received && r[1].size == 111 && r[1].send_us == 11000);
  CHECK_EQ(r[2].arrival_us, 104'000);
  // The same feedback again (receivers repeat it) matches nothing new.
  CHECK_EQ(MatchTransportCc(fb, arr, n, 0, &h, r), size_t{0});
  // A number from more than kSize packets ago is forgotten.
  for (uint32_t s = 20; s < 20 + SendHistory::kSize; s++) h.Record(static_cast<uint16_t>(s), 0, 100, -1);
  SentPacket sp;
  CHECK(!h.Find(19, &sp));
  CHECK(h.Find(static_cast<uint16_t>(19 + SendHistory::kSize), &sp));
}

TEST(SendHistoryKeepsFullTimesSkipsGapsAndFreesWhenIdle) {
  SendHistory h;
  CHECK(!h.allocated());  // nothing sent: no ring
  SentPacket sp;
  CHECK(!h.Find(0, &sp));
  // Send times across the low 32 bits' wrap (µs) come back whole.
  const int64_t t0 = (int64_t{5} << 32) - 1500;
  h.Record(65534, t0, 1200, -1);
  h.Record(65535, t0 + 1000, 1200, 2);
  h.Record(0, t0 + 2000, 300, -1);
  CHECK(h.allocated());
  CHECK(h.Find(65534, &sp) && sp.send_us == t0 && sp.size == 1200 && sp.probe == -1);
  CHECK(h.Find(65535, &sp) && sp.send_us == t0 + 1000 && sp.probe == 2);
  CHECK(h.Find(0, &sp) && sp.send_us == t0 + 2000 && sp.size == 300);
  // A forward jump: the skipped numbers match nothing, even where the ring held older ones.
  for (uint32_t s = 1; s <= SendHistory::kSize; s++) h.Record(static_cast<uint16_t>(s), t0 + 3000, 100, -1);
  h.Record(static_cast<uint16_t>(SendHistory::kSize + 10), t0 + 4000, 100, -1);
  CHECK(!h.Find(static_cast<uint16_t>(SendHistory::kSize + 5), &sp));
  CHECK(h.Find(static_cast<uint16_t>(SendHistory::kSize), &sp));
  // Idle long enough: the ring goes, and comes back at the next send.
  h.ReleaseIfIdle(t0 + 4000 + SendHistory::kIdleReleaseUs - 1);
  CHECK(h.allocated());
  h.ReleaseIfIdle(t0 + 4000 + SendHistory::kIdleReleaseUs);
  CHECK(!h.allocated());
  CHECK(!h.Find(static_cast<uint16_t>(SendHistory::kSize + 10), &sp));
  h.Record(7, t0 + 9'000'000, 50, -1);
  CHECK(h.Find(7, &sp) && sp.size == 50);
  CHECK(!h.Find(6, &sp));
}

TEST(SendHistoryGrowsOnlyWhileFeedbackLagsTheRate) {
  // Feedback keeps up (every packet reported within the ring): the ring stays small.
  SendHistory slow;
  for (uint32_t s = 0; s < 4 * SendHistory::kMinSize; s++) {
    slow.Record(static_cast<uint16_t>(s), int64_t{s} * 1000, 1200, -1);
    slow.MarkReported(static_cast<uint16_t>(s));
  }
  CHECK_EQ(slow.capacity(), SendHistory::kMinSize);
  // 1,000 packets in 0.1 s with no feedback yet: it doubles up to kSize and keeps every one.
  SendHistory fast;
  for (uint32_t s = 0; s < 1000; s++) fast.Record(static_cast<uint16_t>(s), 5'000'000 + int64_t{s} * 100, 1200, -1);
  CHECK_EQ(fast.capacity(), SendHistory::kSize);
  SentPacket sp;
  CHECK(fast.Find(0, &sp) && sp.send_us == 5'000'000);
  CHECK(fast.Find(999, &sp) && sp.send_us == 5'000'000 + 99'900);
}

TEST(TransportCcClockUnwrapsTheReferenceTime) {
  TransportCcClock c;
  CHECK_EQ(c.Unwrap(0x7ffffe) + 0x7ffffe * int64_t{64000}, 0);
  // Across the 24-bit wrap (signed: 0x7fffff to -0x800000): one tick later, not 12 days back.
  const int64_t off = c.Unwrap(-0x800000);
  CHECK_EQ(off + int64_t{-0x800000} * 64000, 2 * 64000);
}

TEST(TransportCcClockStaysBoundedUnderForgedJumps) {
  // Forged feedback that moves the reference time forward by the most the signed 24-bit
  // difference allows, packet after packet: the timeline (and the arrival times on it) must
  // stay finite instead of overflowing int64 after ~1.7e7 packets.
  TransportCcClock c;
  int32_t ref = 0;
  int64_t worst = 0;
  for (int i = 0; i < 20'000'000; i++) {
    ref = (ref + 0x7fffff) & 0xffffff;
    const int32_t signed_ref = ref >= 0x800000 ? ref - 0x1000000 : ref;
    const int64_t t = c.Unwrap(signed_ref) + static_cast<int64_t>(signed_ref) * 64000;
    worst = std::max(worst, t < 0 ? -t : t);
  }
  CHECK(worst <= (int64_t{1} << 51));
  // Ordinary progress right after still unwraps one tick at a time.
  const int32_t next = ref + 1 >= 0x800000 ? ref + 1 - 0x1000000 : ref + 1;
  const int64_t a = c.Unwrap(next) + static_cast<int64_t>(next) * 64000;
  const int32_t after = next + 1 >= 0x800000 ? next + 1 - 0x1000000 : next + 1;
  const int64_t b = c.Unwrap(after) + static_cast<int64_t>(after) * 64000;
  CHECK_EQ(b - a, 64000);
}

}  // namespace halfsec

namespace halfsec {

TEST(RewriteWritesTheRelaysOwnTransportWideNumber) {
  // A publisher packet with a one-byte extension block (mid, 3 bytes) and a 5-byte payload.
  uint8_t in[32] = {0x90, 96, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x12, 'a', 'b', 'c', 1, 2, 3, 4, 5};
  RtpHeader h;
  CHECK(ParseRtp(in, 25, &h));
  uint8_t out[64];
  const size_t n = RewriteRtp(in, 25, h, out, 0xabcd, 100, 500, 9000, 5, 0x1234);
  CHECK_EQ(n, size_t{12 + 8 + 5});
  RtpHeader o;
  CHECK(ParseRtp(out, n, &o));
  CHECK_EQ(o.header_len, RtpHeaderEnd(h, 5));
  CHECK_EQ(o.payload_len, size_t{5});
  CHECK_EQ(out[o.header_len], 1);
  const uint8_t* v = nullptr;
  size_t vl = 0;
  CHECK(FindRtpExtension(out, o, 5, &v, &vl));
  CHECK(vl == 2 && Load16(v) == 0x1234);
  CHECK(!FindRtpExtension(out, o, 1, &v, &vl));  // the publisher's mid is gone
  // Without an id the extension is stripped as before; an id outside 1..14 writes none.
  CHECK_EQ(RewriteRtp(in, 25, h, out, 1, 100, 1, 1), size_t{17});
  CHECK_EQ(RewriteRtp(in, 25, h, out, 1, 100, 1, 1, 15, 1), size_t{17});
}

TEST(PaddingProbePacketsParseAsPaddingOnly) {
  uint8_t out[300];
  const size_t n = BuildPaddingRtp(out, 12 + 8 + 255, 0x5555, 97, 10, 20, 3, 77);
  CHECK_EQ(n, size_t{275});
  RtpHeader h;
  CHECK(ParseRtp(out, n, &h));
  CHECK_EQ(h.payload_len, size_t{0});
  CHECK_EQ(h.payload_type, 97);
  const uint8_t* v = nullptr;
  size_t vl = 0;
  CHECK(FindRtpExtension(out, h, 3, &v, &vl) && Load16(v) == 77);
  // Sizes beyond what one padding count octet can say are clamped.
  CHECK_EQ(BuildPaddingRtp(out, 1000, 1, 97, 1, 1, 3, 1), size_t{275});
  CHECK(ParseRtp(out, BuildPaddingRtp(out, 0, 1, 97, 1, 1, 0, 0), &h) && h.payload_len == 0);
}

}  // namespace halfsec
