#include "media/inbound_stream.h"
#include "media/nack_generator.h"
#include "tests/check.h"

namespace halfsec {

TEST(NackGeneratorAsksForEachHoleInSequenceOrder) {
  NackGenerator g;
  g.OnGap(65534, 2, 0);  // 65534, 65535, 0, 1: across the wrap
  uint16_t seqs[8];
  CHECK_EQ(g.TakeDue(0, seqs, 8), 4);
  CHECK_EQ(seqs[0], 65534);
  CHECK_EQ(seqs[3], 1);
  // Asked once: not again before the retry interval.
  CHECK_EQ(g.TakeDue(NackGenerator::kRetryMs - 1, seqs, 8), 0);
  CHECK_EQ(g.TakeDue(NackGenerator::kRetryMs, seqs, 8), 4);
}

TEST(NackGeneratorStopsAfterTriesAndAge) {
  NackGenerator g;
  g.OnGap(10, 11, 0);
  uint16_t seqs[4];
  int asked = 0;
  for (int64_t t = 0; t < 2000; t += NackGenerator::kRetryMs) asked += g.TakeDue(t, seqs, 4);
  CHECK_EQ(asked, NackGenerator::kTries);
  CHECK(g.empty());
  g.OnGap(20, 21, 0);
  CHECK_EQ(g.TakeDue(NackGenerator::kGiveUpMs + 1, seqs, 4), 0);
  CHECK(g.empty());
}

TEST(NackGeneratorForgetsAnArrivedHoleAndCapsTheList) {
  NackGenerator g;
  g.OnGap(100, 103, 0);
  CHECK(g.OnArrived(101));
  CHECK(!g.OnArrived(101));
  uint16_t seqs[4];
  CHECK_EQ(g.TakeDue(0, seqs, 4), 2);
  CHECK_EQ(seqs[1], 102);
  NackGenerator big;
  big.OnGap(0, 1000, 0);
  CHECK_EQ(big.size(), NackGenerator::kMaxMissing);
  uint16_t first;
  CHECK_EQ(big.TakeDue(0, &first, 1), 1);
  CHECK_EQ(first, 1000 - NackGenerator::kMaxMissing);  // the oldest were dropped
}

TEST(InboundStreamTracksLossRecoveryAndDuplicates) {
  InboundStream in;
  bool recovered;
  CHECK(in.Track(65530, 0, &recovered));
  CHECK(in.Track(65533, 0, &recovered));  // 65531, 65532 missing
  CHECK(!recovered);
  CHECK_EQ(in.nacks().size(), 2u);
  CHECK(in.Track(65531, 5, &recovered));
  CHECK(recovered);
  CHECK(!in.Track(65531, 6, &recovered));  // duplicate
  CHECK(in.Track(2, 7, &recovered));       // wraps: 65534..1 missing
  const InboundStream::Report r = in.TakeReport();
  CHECK_EQ(r.extended_max, 65536u + 2);
  CHECK_EQ(r.cumulative_lost, 5u);  // 65532, 65534, 65535, 0, 1
  CHECK_EQ(r.fraction_lost, (5 << 8) / 9);
  CHECK_EQ(in.TakeReport().fraction_lost, 0);  // nothing new in this interval
}

TEST(InboundStreamTreatsABigJumpAsARestartNotLoss) {
  InboundStream in;
  bool recovered;
  in.Track(1000, 0, &recovered);
  in.Track(5000, 0, &recovered);
  CHECK(in.nacks().empty());
  in.Restart(42);
  CHECK(!in.started());
  CHECK_EQ(in.ssrc(), 42u);
}

}  // namespace halfsec
