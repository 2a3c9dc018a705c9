#include "media/seq_rewriter.h"
#include "tests/check.h"

namespace halfsec {

TEST(SeqRewriterStartsWhereAskedAndMapsNacksBack) {
  SeqRewriter r;
  CHECK(!r.started());
  r.Start(100, 65535, 0);
  CHECK(r.started());
  CHECK_EQ(r.OutSeq(100), 65535);
  CHECK_EQ(r.OutSeq(101), 0);
  CHECK_EQ(r.OutTs(9000), 9000u);
  CHECK(r.IsNew(100));
  r.Sent(100, 65535, 9000, 0);
  CHECK(!r.IsNew(100));
  r.Sent(101, 0, 9000, 0);
  const SeqRewriter::Segment* s = r.Lookup(0);
  CHECK(s != nullptr);
  CHECK_EQ(static_cast<uint16_t>(0 - s->seq_delta), 101);
}

TEST(SeqRewriterContinuesTheLineAcrossASwitch) {
  SeqRewriter r;
  r.Start(1000, 500, 0);
  r.Sent(1000, 500, 90000, 0);
  r.Sent(1001, 501, 93000, 1000);
  // Layer 2's line: unrelated numbers, 100 ms later at 90 kHz.
  r.Continue(40000, 7000000, 2, 1100, 90000);
  CHECK_EQ(r.OutSeq(40000), 502);
  CHECK_EQ(r.OutTs(7000000), 93000u + 9000);
  r.Sent(40000, 502, 102000, 1100);
  // NACKs on either side of the switch map to their own layer's packet.
  const SeqRewriter::Segment* old_seg = r.Lookup(501);
  const SeqRewriter::Segment* new_seg = r.Lookup(502);
  CHECK(old_seg && old_seg->layer == 0);
  CHECK(new_seg && new_seg->layer == 2);
  CHECK_EQ(static_cast<uint16_t>(501 - old_seg->seq_delta), 1001);
  CHECK(r.Lookup(499) == nullptr);  // before the line started
  // An immediate switch still moves the timestamp on by one tick.
  r.Continue(7, 0, 1, 1100, 90000);
  CHECK_EQ(r.OutTs(0), 102001u);
  CHECK_EQ(r.TsAt(1200, 90000), 102000u + 9000);
}

TEST(SeqRewriterRemembersOnlyTheLastSegments) {
  SeqRewriter r;
  r.Start(0, 0, 0);
  for (int i = 1; i <= SeqRewriter::kSegments; i++) {
    r.Sent(static_cast<uint16_t>(i * 1000), static_cast<uint16_t>(i - 1), 0, i);
    r.Continue(static_cast<uint16_t>(i * 1000 + 1), 0, static_cast<uint8_t>(i % 3), i, 90000);
  }
  CHECK(r.Lookup(0) == nullptr);  // the first segment fell out
  CHECK(r.Lookup(static_cast<uint16_t>(SeqRewriter::kSegments)) != nullptr);
}

}  // namespace halfsec
