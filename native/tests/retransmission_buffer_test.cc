#include "media/packet.h"
#include "media/retransmission_buffer.h"
#include "tests/check.h"

namespace halfsec {

TEST(RetransmissionBufferFindsBySequenceAndHoldsAReference) {
  PacketPool pool(16);
  MediaPacket* a = pool.Get();
  a->kind = kVideo;
  a->layer = 1;
  a->rtp.sequence = 7;
  {
    RetransmissionBuffer buf;
    buf.Store(a);
    CHECK_EQ(a->refs.load(), 2u);
    CHECK(buf.Find(kVideo, 1, 7, 0) == a);
    CHECK(buf.Find(kVideo, 0, 7, 0) == nullptr);  // other layer
    CHECK(buf.Find(kAudio, 1, 7, 0) == nullptr);  // other kind
    CHECK(buf.Find(kVideo, 1, 8, 0) == nullptr);
    CHECK(buf.Find(kVideo, kMaxLayers, 7, 0) == nullptr);
    // A packet RetransmissionBuffer::kSize later takes the slot and drops the older reference.
    MediaPacket* b = pool.Get();
    b->kind = kVideo;
    b->layer = 1;
    b->rtp.sequence = static_cast<uint16_t>(7 + RetransmissionBuffer::kSize);
    buf.Store(b);
    b->Release();
    CHECK_EQ(a->refs.load(), 1u);
    CHECK(buf.Find(kVideo, 1, 7, 0) == nullptr);
    CHECK(buf.Find(kVideo, 1, b->rtp.sequence, 0) == b);
  }
  a->Release();
}

}  // namespace halfsec
