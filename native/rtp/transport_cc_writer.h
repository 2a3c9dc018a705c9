// Transport-wide congestion control feedback toward a sender (draft-holmer-rmcat-transport-wide-
// cc-extensions-01 §3.1, RTPFB FMT=15): records each arriving packet's transport-wide sequence
// number and arrival time, and writes feedback packets that report every number from where the
// previous feedback stopped (received or not, with its receive delta) so the sender's own
// estimator (Chromium's GCC) sees the delay and loss its packets met on the way here.
//
// One writer per publisher, owned by its worker thread. Memory is fixed (a ring of kWindow
// arrival times): a sender cannot make it grow. Numbers are 16-bit and wrap (§3.1: each is read
// as the one nearest the newest, serial-number style, and a feedback's base may go back on
// reordering). Reordering within the window is reported as it arrived (a late packet moves the
// next feedback's base back, so the sender learns it arrived). A packet kWindow or more away from
// the newest, ahead or behind, is a jump: it is held aside and changes nothing until the next
// packet follows it in sequence (a sender that really restarted its numbers); then the new
// numbers continue the window right after the old ones (the gap is not reported) and what was
// pending before the jump is still reported, in feedback of its own. So a stray or forged
// number, or numbers alternating between two places, never clear the window.
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

class TransportCcWriter {
 public:
  // Sequence numbers remembered behind the newest one (a power of two).
  static constexpr int64_t kWindow = 4096;
  // Room one feedback packet needs at least: header, one chunk, one large delta, padding.
  static constexpr size_t kMinPacket = 28;

  TransportCcWriter();

  // A packet with transport-wide sequence number `seq` arrived at `arrival_us` (a monotonic
  // clock in microseconds). `media_ssrc` is the SSRC it came on (reported as the media source).
  void OnPacket(uint16_t seq, int64_t arrival_us, uint32_t media_ssrc = 0);

  // True when some sequence numbers have not been reported yet.
  bool pending() const { return started_ && next_ < end_; }

  // Writes one feedback packet from `sender_ssrc` into `out` (at most `cap` bytes, cap >=
  // kMinPacket) covering the unreported numbers from the oldest on, as many as fit in `cap`,
  // 0xffff, and the reach of a 16-bit receive delta. Returns its length (a multiple of 4), 0 when
  // nothing is pending. Call again while pending() to write the rest in further packets.
  size_t Build(uint8_t* out, size_t cap, uint32_t sender_ssrc);

  // Feedback packets written so far (the 8-bit "fb pkt. count" wraps).
  uint32_t packets_built() const { return fb_count_; }
  // Jumps confirmed so far (numbers restarted elsewhere).
  uint32_t jumps() const { return jumps_; }

 private:
  static constexpr int kJumpFollow = 16;  // how far past a held jump its confirmation may land

  int64_t Unwrap(uint16_t seq) const;
  // The wire number of internal (unwrapped) number `x`: numbers before the latest jump keep the
  // offset they had.
  uint16_t External(int64_t x) const {
    return static_cast<uint16_t>(x - (x < seg_start_ ? prev_offset_ : offset_));
  }
  void Record(int64_t s, int64_t arrival_us);
  int64_t& Slot(int64_t seq) { return arrival_[static_cast<size_t>(seq & (kWindow - 1))]; }

  bool started_ = false;
  // Internal numbers: the wire numbers unwrapped, with each confirmed jump closed up so the
  // window stays contiguous. Wire number = internal - offset_ (prev_offset_ before seg_start_).
  int64_t next_ = 0;  // the first number not yet reported
  int64_t end_ = 0;   // one past the newest number seen
  int64_t offset_ = 0, prev_offset_ = 0;
  int64_t seg_start_ = INT64_MIN;  // the first number after the latest jump (none yet)
  // A jump on probation: the wire number and arrival of a packet far from the newest.
  bool held_ = false;
  uint16_t held_seq_ = 0;
  int64_t held_arrival_ = 0;
  uint32_t jumps_ = 0;
  uint32_t media_ssrc_ = 0;
  uint32_t fb_count_ = 0;
  int64_t arrival_[kWindow];  // arrival time per number, -1: not received
};

}  // namespace halfsec
