// The transport-cc feedback writer's wire format (draft-holmer-rmcat-transport-wide-cc-
// extensions-01 §3.1), read back with a small decoder written from the draft for these tests.
#include <cstdlib>
#include <vector>

#include "rtp/rtp.h"
#include "rtp/transport_cc_writer.h"
#include "tests/check.h"

namespace halfsec {
namespace {

struct Status {
  uint16_t seq;
  bool received;
  int64_t arrival_us;  // reference time + the sum of deltas so far
};

struct Feedback {
  bool ok = false;
  uint32_t sender = 0, media = 0;
  uint16_t base = 0, count = 0;
  uint32_t reference = 0;
  uint8_t fb_count = 0;
  std::vector<uint16_t> chunks;
  std::vector<uint8_t> symbols;
  std::vector<Status> statuses;
};

Feedback Decode(const uint8_t* p, size_t n) {
  Feedback f;
  if (n < 20 || (p[0] >> 6) != 2 || (p[0] & 0x1f) != 15 || p[1] != 205) return f;
  if ((Load16(p + 2) + 1u) * 4 != n) return f;
  f.sender = Load32(p + 4);
  f.media = Load32(p + 8);
  f.base = Load16(p + 12);
  f.count = Load16(p + 14);
  f.reference = (p[16] << 16) | (p[17] << 8) | p[18];
  f.fb_count = p[19];
  size_t off = 20;
  while (f.symbols.size() < f.count) {
    if (off + 2 > n) return f;
    const uint16_t c = Load16(p + off);
    off += 2;
    f.chunks.push_back(c);
    if ((c & 0x8000) == 0) {
      for (int k = 0; k < (c & 0x1fff); k++) f.symbols.push_back((c >> 13) & 3);
    } else if ((c & 0x4000) == 0) {
      for (int k = 0; k < 14; k++) f.symbols.push_back((c >> (13 - k)) & 1);
    } else {
      for (int k = 0; k < 7; k++) f.symbols.push_back((c >> (2 * (6 - k))) & 3);
    }
  }
  f.symbols.resize(f.count);
  int64_t t = static_cast<int64_t>(f.reference) * 64000;
  for (size_t i = 0; i < f.count; i++) {
    const uint16_t seq = static_cast<uint16_t>(f.base + i);
    const uint8_t s = f.symbols[i];
    if (s == 0) {
      f.statuses.push_back({seq, false, 0});
      continue;
    }
    if (s == 3 || off + s > n) return f;
    const int64_t d = s == 1 ? p[off] : static_cast<int16_t>(Load16(p + off));
    off += s;
    t += d * 250;
    f.statuses.push_back({seq, true, t});
  }
  while (off < n) {
    if (p[off++] != 0) return f;  // zero padding only
  }
  f.ok = true;
  return f;
}

// Checks that `f` reports `seq` as received within half a tick of `us`.
bool Near(int64_t a, int64_t b) { return std::llabs(a - b) <= 125; }

}  // namespace

TEST(TransportCcInOrderRunLength) {
  TransportCcWriter w;
  const int64_t t0 = 5'000'000'123;
  for (int i = 0; i < 100; i++) w.OnPacket(static_cast<uint16_t>(1000 + i), t0 + i * 1000, 0xfeed);
  CHECK(w.pending());
  uint8_t out[1500];
  const size_t len = w.Build(out, sizeof out, 0x1234);
  CHECK(!w.pending());
  CHECK_EQ(len % 4, 0u);
  const Feedback f = Decode(out, len);
  CHECK(f.ok);
  CHECK_EQ(f.sender, 0x1234u);
  CHECK_EQ(f.media, 0xfeedu);
  CHECK_EQ(f.base, 1000);
  CHECK_EQ(f.count, 100);
  CHECK_EQ(f.reference, static_cast<uint32_t>(t0 / 64000));
  CHECK_EQ(f.fb_count, 0);
  CHECK_EQ(f.chunks.size(), 1u);                 // one run of 100 "small delta" symbols
  CHECK_EQ(f.chunks[0], (1 << 13) | 100);
  CHECK_EQ(len, 20u + 2u + 100u + 2u);           // one byte per delta, two of zero padding
  for (int i = 0; i < 100; i++) CHECK(Near(f.statuses[i].arrival_us, t0 + i * 1000));
  CHECK_EQ(w.Build(out, sizeof out, 0x1234), 0u);  // nothing left
}

TEST(TransportCcLossUsesRunAndVectorChunks) {
  TransportCcWriter w;
  const int64_t t0 = 64000 * 10;
  for (int i = 0; i < 10; i++) w.OnPacket(static_cast<uint16_t>(i), t0 + i * 2000);
  for (int i = 30; i < 35; i++) w.OnPacket(static_cast<uint16_t>(i), t0 + i * 2000);
  uint8_t out[1500];
  const Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.count, 35);
  int received = 0;
  for (const Status& s : f.statuses) {
    const bool want = s.seq < 10 || s.seq >= 30;
    CHECK_EQ(s.received, want);
    if (s.received) {
      received++;
      CHECK(Near(s.arrival_us, t0 + s.seq * 2000));
    }
  }
  CHECK_EQ(received, 15);
  // 10 received + 4 lost in a one-bit vector, the other 16 lost as a run, then the rest.
  CHECK_EQ(f.chunks[0] & 0xc000, 0x8000);
  CHECK_EQ(f.chunks[1], 16);
}

TEST(TransportCcLargeAndNegativeDeltas) {
  TransportCcWriter w;
  const int64_t t0 = 1'000'000;
  w.OnPacket(1, t0);
  w.OnPacket(2, t0 + 100'000);  // 100 ms later: 400 ticks, a two-byte delta
  w.OnPacket(4, t0 + 101'000);
  w.OnPacket(3, t0 + 100'500);  // reordered on the way: earlier than 4's arrival, reported in order
  w.OnPacket(5, t0 + 90'000);   // arrived "before" 4 by the clock: a negative delta
  uint8_t out[1500];
  const size_t len = w.Build(out, sizeof out, 1);
  const Feedback f = Decode(out, len);
  CHECK(f.ok);
  CHECK_EQ(f.count, 5);
  CHECK_EQ(f.symbols[0], 1);
  CHECK_EQ(f.symbols[1], 2);
  CHECK_EQ(f.symbols[2], 1);  // 0.5 ms after 2
  CHECK_EQ(f.symbols[3], 1);
  CHECK_EQ(f.symbols[4], 2);
  CHECK(Near(f.statuses[0].arrival_us, t0));
  CHECK(Near(f.statuses[1].arrival_us, t0 + 100'000));
  CHECK(Near(f.statuses[2].arrival_us, t0 + 100'500));
  CHECK(Near(f.statuses[3].arrival_us, t0 + 101'000));
  CHECK(Near(f.statuses[4].arrival_us, t0 + 90'000));
  CHECK_EQ(f.chunks.size(), 1u);  // a two-bit vector holds all five
  CHECK_EQ(f.chunks[0] & 0xc000, 0xc000);
}

TEST(TransportCcSequenceWrapAround) {
  TransportCcWriter w;
  for (int i = 0; i < 12; i++) w.OnPacket(static_cast<uint16_t>(65530 + i), 2000 * i);
  uint8_t out[1500];
  const Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.base, 65530);
  CHECK_EQ(f.count, 12);
  for (int i = 0; i < 12; i++) {
    CHECK_EQ(f.statuses[i].seq, static_cast<uint16_t>(65530 + i));
    CHECK(f.statuses[i].received);
    CHECK(Near(f.statuses[i].arrival_us, 2000 * i));
  }
}

TEST(TransportCcLatePacketIsReportedAgain) {
  TransportCcWriter w;
  uint8_t out[1500];
  for (int i = 0; i < 10; i++) {
    if (i != 5) w.OnPacket(static_cast<uint16_t>(i), 1000 * i);
  }
  Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK(!f.statuses[5].received);
  w.OnPacket(10, 10'000);
  w.OnPacket(5, 10'500);  // 5 was reordered past a feedback packet
  CHECK(w.pending());
  f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.fb_count, 1);
  CHECK_EQ(f.base, 5);
  CHECK_EQ(f.count, 6);
  CHECK(f.statuses[0].received);
  CHECK(Near(f.statuses[0].arrival_us, 10'500));
  CHECK(Near(f.statuses[5].arrival_us, 10'000));
  w.OnPacket(5, 11'000);  // a duplicate changes nothing
  CHECK(!w.pending());
  w.OnPacket(static_cast<uint16_t>(10 - TransportCcWriter::kWindow), 12'000);  // beyond the window: ignored
  CHECK(!w.pending());
}

TEST(TransportCcBoundedSizeSplitsAcrossPackets) {
  TransportCcWriter w;
  // Alternating loss defeats run-length coding; 3000 numbers must go out in many small packets.
  for (int i = 0; i < 3000; i += 2) w.OnPacket(static_cast<uint16_t>(i), 300 * i);
  uint8_t out[1500];
  int next = 0, packets = 0;
  while (w.pending()) {
    const size_t len = w.Build(out, 200, 1);
    CHECK(len > 0 && len <= 200);
    const Feedback f = Decode(out, len);
    CHECK(f.ok);
    CHECK_EQ(f.base, next);
    for (const Status& s : f.statuses) {
      CHECK_EQ(s.received, s.seq % 2 == 0);
      if (s.received) CHECK(Near(s.arrival_us, 300 * s.seq));
    }
    next += f.count;
    if (++packets > 100) break;
  }
  CHECK_EQ(next, 2999);  // 0..2998: the newest number seen is 2998
  CHECK(packets > 10);
}

TEST(TransportCcDeltaBeyondSixteenBitsStartsANewPacket) {
  TransportCcWriter w;
  w.OnPacket(1, 0);
  w.OnPacket(2, 9'000'000);  // 9 s: more than 2^15 ticks of 250 µs
  uint8_t out[1500];
  Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.count, 1);
  CHECK(w.pending());
  f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.base, 2);
  CHECK(Near(f.statuses[0].arrival_us, 9'000'000));
}

TEST(TransportCcReferenceTimeWraps24Bits) {
  TransportCcWriter w;
  const int64_t t = ((int64_t{1} << 24) + 7) * 64000 + 300;
  w.OnPacket(9, t);
  uint8_t out[64];
  const Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.reference, 7u);
  CHECK_EQ(f.statuses[0].arrival_us, 7 * 64000 + 250);  // 300 µs rounds to one tick
}

// Every status of `f` received, for consecutive numbers from `base`.
bool AllReceived(const Feedback& f, uint16_t base, uint16_t count) {
  if (!f.ok || f.base != base || f.count != count) return false;
  for (const Status& st : f.statuses) {
    if (!st.received) return false;
  }
  return true;
}

TEST(TransportCcStrayJumpKeepsTheWindow) {
  // One number far ahead (a corrupt or forged one) between in-order packets: held, never
  // confirmed, so the window and everything pending in it stay.
  TransportCcWriter w;
  uint8_t out[1500];
  for (int i = 0; i < 10; i++) w.OnPacket(static_cast<uint16_t>(100 + i), 1000 * i);
  w.OnPacket(static_cast<uint16_t>(100 + TransportCcWriter::kWindow + 500), 10'000);
  for (int i = 10; i < 20; i++) w.OnPacket(static_cast<uint16_t>(100 + i), 1000 * i);
  const Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(AllReceived(f, 100, 20));
  CHECK(Near(f.statuses[19].arrival_us, 19'000));
  CHECK(!w.pending());
  CHECK_EQ(w.jumps(), 0u);
  // The same far behind (more than the window, a half-space away in wire numbers).
  w.OnPacket(static_cast<uint16_t>(120 - 20000), 20'000);
  w.OnPacket(120, 21'000);
  CHECK(AllReceived(Decode(out, w.Build(out, sizeof out, 1)), 120, 1));
}

TEST(TransportCcNumbersAlternatingBetweenTwoPlacesNeverClearTheWindow) {
  // An attacker (or a broken sender) interleaving two number lines, 30000 apart, each packet
  // of one line between two of the other: neither line is ever followed in sequence by the
  // next arrival, so nothing jumps and the first line is reported whole.
  TransportCcWriter w;
  uint8_t out[1500];
  for (int i = 0; i < 200; i++) {
    w.OnPacket(static_cast<uint16_t>(i), 1000 * i);
    w.OnPacket(static_cast<uint16_t>(30000 + 2 * i), 1000 * i + 500);
  }
  CHECK_EQ(w.jumps(), 0u);
  const Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(AllReceived(f, 0, 200));
  for (int i = 0; i < 200; i++) CHECK(Near(f.statuses[i].arrival_us, 1000 * i));
}

TEST(TransportCcConfirmedJumpReportsBothSidesAndWraps) {
  // A sender that really restarted its numbers (30012 behind, read as a jump back by the wrap
  // rule): the jump is confirmed by the packet after it; the ten numbers pending before it are
  // still reported, then the new line, across 65535 -> 0.
  TransportCcWriter w;
  uint8_t out[1500];
  for (int i = 0; i < 10; i++) w.OnPacket(static_cast<uint16_t>(30000 + i), 1000 * i);
  for (int i = 0; i < 5; i++) w.OnPacket(static_cast<uint16_t>(65533 + i), 20'000 + 1000 * i);
  CHECK_EQ(w.jumps(), 1u);
  w.OnPacket(30005, 30'000);  // a straggler of the old line after the jump: ignored
  Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(AllReceived(f, 30000, 10));
  CHECK(w.pending());
  f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(AllReceived(f, 65533, 5));
  CHECK_EQ(f.statuses[3].seq, 0);
  CHECK(Near(f.statuses[4].arrival_us, 24'000));
  CHECK(!w.pending());
  // The new line goes on as any other: loss and reordering within it as before.
  w.OnPacket(3, 25'000);
  w.OnPacket(2, 25'500);
  f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(f.ok);
  CHECK_EQ(f.base, 2);
  CHECK_EQ(f.count, 2);
  CHECK(Near(f.statuses[0].arrival_us, 25'500));
}

TEST(TransportCcReorderingAcrossTheWrapKeepsTheWindow) {
  TransportCcWriter w;
  uint8_t out[1500];
  // 65530..65535, 0..5 with 65535 and 0 swapped, and 2 arriving last.
  const uint16_t order[] = {65530, 65531, 65532, 65533, 65534, 0, 65535, 1, 3, 4, 5, 2};
  for (int i = 0; i < 12; i++) w.OnPacket(order[i], 1000 * i);
  const Feedback f = Decode(out, w.Build(out, sizeof out, 1));
  CHECK(AllReceived(f, 65530, 12));
  CHECK(Near(f.statuses[5].arrival_us, 6000));    // 65535
  CHECK(Near(f.statuses[6].arrival_us, 5000));    // 0
  CHECK(Near(f.statuses[8].arrival_us, 11'000));  // 2
  CHECK_EQ(w.jumps(), 0u);
}

}  // namespace halfsec
