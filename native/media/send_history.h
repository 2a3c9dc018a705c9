// What the relay sent one viewer, by transport-wide sequence number
// (draft-holmer-rmcat-transport-wide-cc-extensions-01): send time and size, so the viewer's
// feedback can be matched to the packets it describes. A fixed ring: a sequence number older
// than kSize packets is forgotten, and feedback naming it (late, or forged) matches nothing.
// Owned by the viewer's worker thread.
#pragma once
#include <cstdint>
#include <algorithm>
#include <memory>

#include "rtp/transport_cc_reader.h"

namespace halfsec {

// One history entry as Find returns it. `reported` is set by MatchTransportCc.
struct SentPacket {
  int64_t send_us = 0;
  uint16_t size = 0;       // bytes on the wire before SRTP (header, payload, padding)
  int8_t probe = -1;       // the probe cluster it belongs to, -1: media
  bool reported = false;   // feedback already gave its fate: counted once
};

// Memory: 8 bytes per entry (the send time as the low 32 bits of its µs, rebuilt from the latest
// send: entries are never more than kSize packets, and with ReleaseIfIdle never seconds, old).
// The ring exists only while the viewer is sent packets: allocated at the first Record with
// kMinSize entries, doubled (up to kSize) when a packet about to be overwritten was sent less
// than kGrowWithinUs ago and no feedback has told its fate yet (a high rate or a long feedback
// delay), and freed by ReleaseIfIdle once nothing was sent for kIdleReleaseUs: a connected viewer
// of a stream with no media holds none, one at a few hundred packets per second 2 KiB. Numbers
// are recorded in order (the transport-wide sequence, one per packet); a forward jump forgets
// the numbers it skipped.
class SendHistory {
 public:
  static constexpr uint32_t kSize = 1024;  // at most: ~0.4 s at 20 Mbit/s of 1200-byte packets
  static constexpr uint32_t kMinSize = 256;
  static constexpr int64_t kGrowWithinUs = 1'000'000;
  // Feedback names a packet within a round trip or two; after this long with nothing sent, no
  // feedback that could still match is worth the ring.
  static constexpr int64_t kIdleReleaseUs = 2'000'000;

  void Record(uint16_t seq, int64_t send_us, size_t size, int probe) {
    if (!ring_) {
      ring_.reset(new Entry[kMinSize]());
      cap_ = kMinSize;
    } else if (any_) {
      // Skipped numbers (never sent, or recorded out of order) must not match old entries.
      const uint16_t gap = static_cast<uint16_t>(seq - last_ - 1);
      if (gap != 0 && gap < 0x8000) {
        for (uint32_t i = 0, n = std::min<uint32_t>(gap, cap_); i < n; i++) ring_[(last_ + 1 + i) & (cap_ - 1)].flags = 0;
      }
      const Entry& old = ring_[seq & (cap_ - 1)];
      if (cap_ < kSize && old.flags == kValid && static_cast<uint32_t>(send_us) - old.send_low < kGrowWithinUs) Grow();
    }
    Entry& e = ring_[seq & (cap_ - 1)];
    e.send_low = static_cast<uint32_t>(send_us);
    e.size = static_cast<uint16_t>(size > 0xffff ? 0xffff : size);
    e.probe = static_cast<int8_t>(probe);
    e.flags = kValid;
    last_ = seq;
    last_send_us_ = send_us;
    any_ = true;
  }

  // The packet sent with `seq`, when it is still among the last ones the ring holds; else false.
  bool Find(uint16_t seq, SentPacket* out) const {
    if (!ring_ || !any_ || static_cast<uint16_t>(last_ - seq) >= cap_) return false;
    const Entry& e = ring_[seq & (cap_ - 1)];
    if (!(e.flags & kValid)) return false;
    out->send_us = last_send_us_ - static_cast<uint32_t>(static_cast<uint32_t>(last_send_us_) - e.send_low);
    out->size = e.size;
    out->probe = e.probe;
    out->reported = e.flags & kReported;
    return true;
  }
  void MarkReported(uint16_t seq) { ring_[seq & (cap_ - 1)].flags |= kReported; }

  // Frees the ring when nothing was recorded for kIdleReleaseUs (Record allocates it again).
  void ReleaseIfIdle(int64_t now_us) {
    if (ring_ && now_us - last_send_us_ >= kIdleReleaseUs) {
      ring_.reset();
      cap_ = 0;
      any_ = false;
    }
  }
  bool allocated() const { return ring_ != nullptr; }
  uint32_t capacity() const { return cap_; }

 private:
  static constexpr uint8_t kValid = 1, kReported = 2;
  struct Entry {
    uint32_t send_low;
    uint16_t size;
    int8_t probe;
    uint8_t flags;
  };
  static_assert(sizeof(Entry) == 8);

  // Twice the entries; the ones held move to their slots in the larger ring.
  void Grow() {
    const uint32_t cap = cap_ * 2;
    std::unique_ptr<Entry[]> ring(new Entry[cap]());
    for (uint32_t i = 0; i < cap_; i++) {
      const uint16_t seq = static_cast<uint16_t>(last_ - i);
      ring[seq & (cap - 1)] = ring_[seq & (cap_ - 1)];
    }
    ring_ = std::move(ring);
    cap_ = cap;
  }

  std::unique_ptr<Entry[]> ring_;
  int64_t last_send_us_ = 0;
  uint32_t cap_ = 0;
  uint16_t last_ = 0;
  bool any_ = false;
};

// One packet named by a feedback, matched to what was sent.
struct PacketResult {
  int64_t send_us = 0;
  int64_t arrival_us = 0;  // receiver clock, unwrapped; meaningless when !received
  uint16_t size = 0;
  int8_t probe = -1;
  bool received = false;
};

// Matches one parsed feedback (`count` arrivals, in sequence order, `offset` µs added to their
// times, see TransportCcClock) against the history: writes one result per sequence number it
// covers that the history still holds and no earlier feedback reported, in sequence order, to
// `out` (room for SendHistory::kSize). At most kSize numbers are walked, so a forged status
// count of 65535 costs no more than a real one. Returns the number written.
inline size_t MatchTransportCc(const TransportCcFeedback& fb, const TransportCcArrival* arrivals, size_t count,
                               int64_t offset, SendHistory* history, PacketResult* out) {
  const uint32_t span = std::min<uint32_t>(fb.status_count, SendHistory::kSize);
  size_t k = 0, n = 0;
  for (uint32_t i = 0; i < span; i++) {
    const uint16_t seq = static_cast<uint16_t>(fb.base_seq + i);
    const bool received = k < count && arrivals[k].seq == seq;
    const int64_t arrival = received ? arrivals[k].arrival_us + offset : 0;
    if (received) k++;
    SentPacket s;
    if (!history->Find(seq, &s) || s.reported) continue;  // unknown, too old, or told before (feedback repeats)
    history->MarkReported(seq);
    PacketResult& r = out[n++];
    r.send_us = s.send_us;
    r.arrival_us = arrival;
    r.size = s.size;
    r.probe = s.probe;
    r.received = received;
  }
  return n;
}

}  // namespace halfsec
