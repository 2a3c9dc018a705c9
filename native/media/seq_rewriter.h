// One viewer's outgoing sequence number and timestamp line for one kind. It stays continuous
// across layer switches and source changes (a player drops a stream whose numbers jump), and
// remembers the last few segments so a NACKed outgoing number maps back to its source packet.
#pragma once
#include <cstdint>

namespace halfsec {

class SeqRewriter {
 public:
  // Where a run of outgoing sequence numbers came from.
  struct Segment {
    uint16_t out_start;
    uint8_t layer;
    uint16_t seq_delta;
    uint32_t ts_delta;
    uint32_t source;  // the source line (MediaPacket::epoch) the run came from
  };
  static constexpr int kSegments = 4;

  bool started() const { return started_; }
  // Starts the line so that source `seq` goes out as `first_out_seq`.
  void Start(uint16_t seq, uint16_t first_out_seq, uint8_t layer, uint32_t source = 0);
  // Continues the line with source packet (`seq`, `ts`) of a new layer or source, as if it came
  // `now_ms - last sent` after the previous packet (at least one clock tick).
  void Continue(uint16_t seq, uint32_t ts, uint8_t layer, int64_t now_ms, uint32_t clock_rate, uint32_t source = 0);

  // Newer than anything sent on the line so far.
  bool IsNew(uint16_t seq) const { return static_cast<int16_t>(seq - last_in_seq_) > 0; }
  uint16_t OutSeq(uint16_t seq) const { return static_cast<uint16_t>(seq + seq_delta_); }
  uint32_t OutTs(uint32_t ts) const { return ts + ts_delta_; }
  // Packet `seq` went out as (`out_seq`, `out_ts`) at `now_ms`.
  void Sent(uint16_t seq, uint16_t out_seq, uint32_t out_ts, int64_t now_ms);
  // Source packet `seq` is not sent (a layer the viewer does not get): the numbers after it
  // close up so the viewer sees no gap. Only the newest packet can be skipped; the offset of
  // the current segment no longer holds for later packets (OutSeqMap maps them back).
  void Skip(uint16_t seq) {
    if (!IsNew(seq)) return;
    seq_delta_--;
    last_in_seq_ = seq;
  }
  uint16_t last_in_seq() const { return last_in_seq_; }
  // The segment that outgoing `out_seq` belongs to; null when older than every one remembered.
  const Segment* Lookup(uint16_t out_seq) const;

  uint32_t ts_delta() const { return ts_delta_; }
  // The line's timestamp at `now_ms`, extrapolated from the last packet sent.
  uint32_t TsAt(int64_t now_ms, uint32_t clock_rate) const;

 private:
  void BeginSegment(uint16_t seq, uint8_t layer, uint32_t source);

  bool started_ = false;
  uint16_t seq_delta_ = 0, last_out_seq_ = 0, last_in_seq_ = 0;
  uint32_t ts_delta_ = 0, last_out_ts_ = 0;
  int64_t last_ms_ = 0;
  Segment segments_[kSegments];
  int segment_count_ = 0;
};

}  // namespace halfsec
