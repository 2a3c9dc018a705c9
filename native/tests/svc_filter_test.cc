#include "media/seq_rewriter.h"
#include "media/svc_filter.h"
#include "tests/check.h"

namespace halfsec {

namespace {
// A VP8 payload: descriptor with T (and Y when `sync`), one byte of payload.
struct Vp8 {
  uint8_t b[4];
  Vp8(int tid, bool sync, bool start = true) : b{static_cast<uint8_t>(0x80 | (start ? 0x10 : 0)), 0x20,
                                                 static_cast<uint8_t>((tid << 6) | (sync ? 0x20 : 0)), 0} {}
};
// A VP9 non-flexible payload: P, B, E, TID, U, SID; one byte of payload.
struct Vp9 {
  uint8_t b[4];
  Vp9(int tid, int sid, bool b_bit, bool e_bit, bool inter = true, bool up = false)
      : b{static_cast<uint8_t>(0x20 | (inter ? 0x40 : 0) | (b_bit ? 0x08 : 0) | (e_bit ? 0x04 : 0)),
          static_cast<uint8_t>((tid << 5) | (up ? 0x10 : 0) | (sid << 1)), 0, 0} {}
};
// Chromium's L1T3 pattern: TID 0 2 1 2 0 2 1 2 ...
int Pattern(int frame) {
  static const int k[] = {0, 2, 1, 2};
  return k[frame % 4];
}
}  // namespace

TEST(SvcFilterDropsTemporalLayersAboveTheTarget) {
  SvcFilter f;
  f.SetTarget(SvcFilter::kAll, 0);
  int forwarded = 0;
  for (int i = 0; i < 16; i++) {
    const Vp8 p(Pattern(i), Pattern(i) != 0);
    const SvcFilter::Verdict v = f.Decide(Codec::kVp8, p.b, sizeof p.b, 3000u * i, i == 0);
    CHECK_EQ(v.forward, Pattern(i) == 0);
    forwarded += v.forward;
  }
  CHECK_EQ(forwarded, 4);
}

TEST(SvcFilterSwitchesUpOnlyAtASyncFrame) {
  SvcFilter f;
  f.SetTarget(SvcFilter::kAll, 0);
  CHECK(f.Decide(Codec::kVp8, Vp8(0, false).b, 4, 0, true).forward);
  f.SetTarget(SvcFilter::kAll, 2);
  // A TID 2 frame without Y references TID 1 frames the viewer never got: dropped.
  CHECK(!f.Decide(Codec::kVp8, Vp8(2, false).b, 4, 3000, false).forward);
  CHECK(!f.Decide(Codec::kVp8, Vp8(1, false).b, 4, 6000, false).forward);
  // A TID 1 frame with Y: up to 1, not yet 2.
  CHECK(f.Decide(Codec::kVp8, Vp8(1, true).b, 4, 9000, false).forward);
  CHECK_EQ(f.temporal(), 1);
  // Its later packets (same timestamp, not starting) follow it.
  CHECK(f.Decide(Codec::kVp8, Vp8(1, true, false).b, 4, 9000, false).forward);
  CHECK(!f.Decide(Codec::kVp8, Vp8(2, false).b, 4, 12000, false).forward);
  CHECK(f.Decide(Codec::kVp8, Vp8(2, true).b, 4, 15000, false).forward);
  CHECK_EQ(f.temporal(), 2);
  // Down is immediate, at the next picture.
  f.SetTarget(SvcFilter::kAll, 1);
  CHECK(!f.Decide(Codec::kVp8, Vp8(2, false).b, 4, 18000, false).forward);
  CHECK(f.Decide(Codec::kVp8, Vp8(1, false).b, 4, 21000, false).forward);
  // Without temporal layers everything passes.
  const uint8_t plain[] = {0x10, 0x00};
  CHECK(f.Decide(Codec::kVp8, plain, sizeof plain, 24000, false).forward);
}

TEST(SvcFilterCutsSpatialLayersAndMovesTheMarker) {
  SvcFilter f;
  f.SetTarget(1, SvcFilter::kAll);
  // Keyframe picture: S0 (two packets), S1, S2.
  CHECK(f.Decide(Codec::kVp9, Vp9(0, 0, true, false, false).b, 4, 0, true).forward);
  SvcFilter::Verdict v = f.Decide(Codec::kVp9, Vp9(0, 0, false, true, false).b, 4, 0, false);
  CHECK(v.forward);
  CHECK(!v.set_marker);
  v = f.Decide(Codec::kVp9, Vp9(0, 1, true, true, false).b, 4, 0, false);
  CHECK(v.forward);
  CHECK(v.set_marker);  // S1's last packet ends the viewer's picture
  v = f.Decide(Codec::kVp9, Vp9(0, 2, true, true, false).b, 4, 0, false);
  CHECK(!v.forward);
  CHECK(!v.want_keyframe);
  // Up to S2: not at a delta picture (L3T3_KEY: S2 references S2 pictures the viewer lacks);
  // the filter asks for a keyframe.
  f.SetTarget(2, SvcFilter::kAll);
  CHECK(f.Decide(Codec::kVp9, Vp9(0, 0, true, true).b, 4, 3000, false).forward);
  CHECK(f.Decide(Codec::kVp9, Vp9(0, 1, true, true).b, 4, 3000, false).set_marker);
  v = f.Decide(Codec::kVp9, Vp9(0, 2, true, true).b, 4, 3000, false);
  CHECK(!v.forward);
  CHECK(v.want_keyframe);
  // The next keyframe starts S2; its S1 end no longer carries the marker.
  CHECK(f.Decide(Codec::kVp9, Vp9(0, 0, true, true, false).b, 4, 6000, true).forward);
  CHECK(!f.Decide(Codec::kVp9, Vp9(0, 1, true, true, false).b, 4, 6000, false).set_marker);
  v = f.Decide(Codec::kVp9, Vp9(0, 2, true, true, false).b, 4, 6000, false);
  CHECK(v.forward);
  CHECK(v.set_marker);
  CHECK_EQ(f.spatial(), 2);
  CHECK_EQ(f.seen_spatial(), 2);
}

TEST(SvcFilterVp9TemporalUpAtASwitchingPoint) {
  SvcFilter f;
  f.SetTarget(SvcFilter::kAll, 0);
  CHECK(f.Decide(Codec::kVp9, Vp9(0, 0, true, true, false).b, 4, 0, true).forward);
  f.SetTarget(SvcFilter::kAll, 2);
  CHECK(!f.Decide(Codec::kVp9, Vp9(2, 0, true, true, true, false).b, 4, 3000, false).forward);
  CHECK(f.Decide(Codec::kVp9, Vp9(2, 0, true, true, true, true).b, 4, 6000, false).forward);
  CHECK_EQ(f.temporal(), 2);
}

TEST(SeqRewriterSkipKeepsTheLineContinuousAndTheMapFindsTheSource) {
  SeqRewriter s;
  OutSeqMap map;
  s.Start(100, 5000, 0);
  uint16_t expect = 5000;
  // Source 100..119; every odd one dropped.
  for (uint16_t seq = 100; seq < 120; seq++) {
    if (seq % 2) {
      s.Skip(seq);
      continue;
    }
    const uint16_t out = s.OutSeq(seq);
    CHECK_EQ(out, expect);
    expect++;
    map.Sent(out, seq, seq == 110);
    s.Sent(seq, out, 0, 0);
  }
  uint16_t src = 0;
  bool marker = false;
  CHECK(map.SourceOf(5005, &src, &marker));
  CHECK_EQ(src, 110);
  CHECK(marker);
  CHECK(!map.SourceOf(5010, &src, &marker));  // never sent
  // A gap of 3 lost source packets keeps their numbers for late arrivals.
  map.Gap(120, 3, s.OutSeq(0));
  uint16_t out = 0;
  CHECK(map.OutOfLate(121, &out));
  CHECK_EQ(out, static_cast<uint16_t>(expect + 1));
  CHECK(!map.OutOfLate(123, &out));
}

}  // namespace halfsec
