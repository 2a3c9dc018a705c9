// A publisher's line restarting (RFC 3550 §8.2, Appendix A.1): a new SSRC after the old one went
// quiet, a sequence jump confirmed by the next packet; and the caches never mixing the lines.
#include "media/inbound_stream.h"
#include "media/keyframe_cache.h"
#include "media/retransmission_buffer.h"
#include "tests/check.h"

namespace halfsec {

using V = InboundStream::Verdict;

TEST(NewSsrcTakesOverOnlyOnceTheOldOneIsQuiet) {
  InboundStream in;
  bool rec;
  CHECK(in.Accept(1, 100, 0, 250, true, &rec) == V::kAccept);
  CHECK(in.Accept(1, 101, 20, 250, true, &rec) == V::kAccept);
  // A second live SSRC does not take over (and so never flaps with the first).
  CHECK(in.Accept(2, 5000, 30, 250, true, &rec) == V::kDrop);
  CHECK(in.Accept(1, 102, 40, 250, true, &rec) == V::kAccept);
  CHECK(in.Accept(2, 5001, 280, 250, true, &rec) == V::kDrop);  // 1 was heard 240 ms ago
  CHECK(in.Accept(2, 5002, 300, 250, true, &rec) == V::kRestart);
  CHECK_EQ(in.ssrc(), 2u);
  CHECK(in.Accept(2, 5003, 320, 250, true, &rec) == V::kAccept);
  // The old SSRC coming back is now the newcomer.
  CHECK(in.Accept(1, 103, 330, 250, true, &rec) == V::kDrop);
  // RTX never restarts a line.
  CHECK(in.Accept(3, 1, 2000, 250, false, &rec) == V::kDrop);
  // Simulcast passes 0: the rid already says it is this layer's new SSRC.
  CHECK(in.Accept(4, 9, 2001, 0, true, &rec) == V::kRestart);
}

TEST(SequenceJumpRestartsAfterProbation) {
  InboundStream in;
  bool rec;
  CHECK(in.Accept(1, 1000, 0, 250, true, &rec) == V::kAccept);
  CHECK(in.Accept(1, 1001, 1, 250, true, &rec) == V::kAccept);
  // Loss within MAX_DROPOUT is loss, not a restart.
  CHECK(in.Accept(1, 1500, 2, 250, true, &rec) == V::kAccept);
  // Forward jump: one stray packet is held, the next in sequence confirms it.
  CHECK(in.Accept(1, 30000, 3, 250, true, &rec) == V::kProbation);
  CHECK(in.Accept(1, 1501, 4, 250, true, &rec) == V::kAccept);  // the old line goes on
  CHECK(in.Accept(1, 30002, 5, 250, true, &rec) == V::kProbation);
  CHECK(in.Accept(1, 30003, 6, 250, true, &rec) == V::kRestart);
  CHECK(in.Accept(1, 30004, 7, 250, true, &rec) == V::kAccept);
  CHECK(in.nacks().empty());  // no hole asked for across the restart
  // Backward beyond MAX_MISORDER: a restart too; within it, a late packet.
  CHECK(in.Accept(1, 30004 - 50, 8, 250, true, &rec) == V::kDrop);
  CHECK(in.Accept(1, 10, 9, 250, true, &rec) == V::kProbation);
  CHECK(in.Accept(1, 11, 10, 250, true, &rec) == V::kRestart);
  CHECK(in.Accept(1, 12, 11, 250, true, &rec) == V::kAccept);
  const InboundStream::Report r = in.TakeReport();
  CHECK_EQ(r.extended_max, 12u);
  CHECK_EQ(r.cumulative_lost, 0u);
}

namespace {
MediaPacket* Video(PacketPool& pool, uint16_t seq, uint32_t ts, bool key, uint32_t epoch) {
  MediaPacket* p = pool.Get();
  p->kind = kVideo;
  p->layer = 0;
  p->keyframe = key;
  p->recovered = false;
  p->epoch = epoch;
  p->rtp.sequence = seq;
  p->rtp.timestamp = ts;
  return p;
}
}  // namespace

TEST(KeyframeCacheKeepsOnePictureAndOneLine) {
  PacketPool pool(64);
  KeyframeCache cache;
  std::vector<MediaPacket*> got;
  auto add = [&](MediaPacket* p) {
    cache.Add(p, 0);
    p->Release();
  };
  // H.264: SPS/PPS then IDR slices, each a keyframe start, one picture (one timestamp).
  add(Video(pool, 1, 900, true, 1));
  add(Video(pool, 2, 900, true, 1));
  add(Video(pool, 3, 900, true, 1));
  add(Video(pool, 4, 1800, false, 1));
  cache.Snapshot(0, 0, 1000, &got);
  CHECK_EQ(got.size(), 4u);
  CHECK_EQ(got[0]->rtp.sequence, 1);
  for (MediaPacket* p : got) p->Release();
  got.clear();
  // The line restarts (new SSRC): its delta frames never follow the old keyframe.
  add(Video(pool, 7000, 50, false, 2));
  cache.Snapshot(0, 0, 1000, &got);
  CHECK(got.empty());
  add(Video(pool, 7001, 3000, true, 2));
  cache.Snapshot(0, 0, 1000, &got);
  CHECK_EQ(got.size(), 1u);
  CHECK_EQ(got[0]->epoch, 2u);
  for (MediaPacket* p : got) p->Release();
}

TEST(RetransmissionBufferTellsLinesApart) {
  PacketPool pool(8);
  RetransmissionBuffer buf;
  MediaPacket* old = Video(pool, 42, 0, false, 1);
  buf.Store(old);
  old->Release();
  CHECK(buf.Find(kVideo, 0, 42, 1) != nullptr);
  CHECK(buf.Find(kVideo, 0, 42, 2) == nullptr);  // the new line's 42 is not the old line's
}

}  // namespace halfsec
