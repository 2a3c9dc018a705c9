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

struct SentPacket {
  int64_t send_us = 0;
  uint16_t seq = 0;
  uint16_t size = 0;       // bytes on the wire before SRTP (header, payload, padding)
  int8_t probe = -1;       // the probe cluster it belongs to, -1: media
  bool valid = false;
  bool reported = false;   // feedback already gave its fate: counted once
};

class SendHistory {
 public:
  static constexpr uint32_t kSize = 1024;  // ~0.4 s at 20 Mbit/s of 1200-byte packets

  SendHistory() : ring_(new SentPacket[kSize]) {}

  void Record(uint16_t seq, int64_t send_us, size_t size, int probe) {
    SentPacket& p = ring_[seq & (kSize - 1)];
    p.send_us = send_us;
    p.seq = seq;
    p.size = static_cast<uint16_t>(size > 0xffff ? 0xffff : size);
    p.probe = static_cast<int8_t>(probe);
    p.valid = true;
    p.reported = false;
    last_ = seq;
    any_ = true;
  }

  // The packet sent with `seq`, when it is still among the last kSize sent; else null.
  SentPacket* Find(uint16_t seq) {
    if (!any_ || static_cast<uint16_t>(last_ - seq) >= kSize) return nullptr;
    SentPacket& p = ring_[seq & (kSize - 1)];
    return p.valid && p.seq == seq ? &p : nullptr;
  }

 private:
  std::unique_ptr<SentPacket[]> ring_;
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
    SentPacket* s = history->Find(seq);
    if (!s || s->reported) continue;  // unknown, too old, or told before (feedback repeats)
    s->reported = true;
    PacketResult& r = out[n++];
    r.send_us = s->send_us;
    r.arrival_us = arrival;
    r.size = s->size;
    r.probe = s->probe;
    r.received = received;
  }
  return n;
}

}  // namespace halfsec
