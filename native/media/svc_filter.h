// Which temporal and spatial layers of a VP8 / VP9 / AV1 stream one viewer gets (RFC 7741 §4.2,
// RFC 9628 §4.2, the AV1 RTP spec's dependency descriptor), decided per packet, and the bookkeeping that keeps the viewer's sequence
// numbers continuous across the packets it does not get.
//
// Down is immediate at the next picture (nothing of a lower layer references a higher one).
// Temporal up only at a switching-up picture of the new layer (VP8 Y, VP9 U, AV1 a Switch
// indication for the decode target) or a keyframe;
// spatial up only at a keyframe (the switching point of Chromium's L3T3_KEY, where higher layers
// reference lower ones only in keyframes; an intra-only layer frame mid-picture is not used: the
// lower layer's end of picture would already have gone out marked). A VP9 picture cut above
// spatial layer S gets the RTP marker on the last packet (E) of layer S, where a decoder ends
// the picture.
#pragma once
#include <cstddef>
#include <cstdint>

#include "media/frame_layers.h"
#include "rtp/keyframe.h"

namespace halfsec {

class SvcFilter {
 public:
  static constexpr int kAll = 7;
  // The highest spatial / temporal layer this viewer should get (kAll: every one).
  void SetTarget(int spatial, int temporal);
  int target_spatial() const { return target_sid_; }
  int target_temporal() const { return target_tid_; }
  // The layers being forwarded now.
  int spatial() const { return sid_; }
  int temporal() const { return tid_; }
  // The highest temporal / spatial layer seen in the stream so far.
  int seen_temporal() const { return seen_tid_; }
  int seen_spatial() const { return seen_sid_; }
  // A packet with a temporal layer index has been seen.
  bool seen_any() const { return seen_any_; }
  // The viewer's line restarted (another simulcast layer or source): timestamps start over.
  void Restart() { have_ts_ = false; }

  struct Verdict {
    bool forward = true;
    bool set_marker = false;     // the packet ends the forwarded part of the picture
    bool want_keyframe = false;  // a higher spatial layer is wanted and needs a keyframe
  };
  // One video packet in arrival order: its codec, RTP payload, RTP timestamp and whether it
  // starts a keyframe. Packets without layer information (no TID) are always forwarded.
  Verdict Decide(Codec codec, const uint8_t* payload, size_t len, uint32_t timestamp, bool keyframe);
  // The same for layers already known (AV1: from the dependency descriptor, parsed once by the
  // publisher's worker). A VP9 or AV1 layer frame cut above spatial layer S ends at S's `ends`.
  Verdict Decide(const FrameLayers& f, uint32_t timestamp, bool keyframe);

 private:
  int target_sid_ = kAll, target_tid_ = kAll;
  int sid_ = kAll, tid_ = kAll;
  int seen_sid_ = 0, seen_tid_ = 0;
  bool seen_any_ = false;
  bool have_ts_ = false;
  uint32_t last_ts_ = 0;
};

// Outgoing sequence numbers of a viewer's video line mapped back to the source numbers, for
// NACKs once packets were dropped in between (the SeqRewriter's segments only hold a constant
// offset), and the outgoing numbers a source gap kept free for packets that may still arrive.
class OutSeqMap {
 public:
  static constexpr int kSize = 1024;  // a power of two
  // Source `seq` went out as `out_seq`, with the marker bit set by the relay when `marker`.
  void Sent(uint16_t out_seq, uint16_t seq, bool marker);
  // False when `out_seq` is not among the last kSize sent.
  bool SourceOf(uint16_t out_seq, uint16_t* seq, bool* marker) const;
  // Source packets [first, first + count) are missing: they would go out at their number +
  // `delta` if they arrive late. At most 64 are kept per gap.
  void Gap(uint16_t first, uint16_t count, uint16_t delta);
  // The outgoing number kept for a late source packet, false if none.
  bool OutOfLate(uint16_t seq, uint16_t* out_seq) const;

 private:
  struct Entry {
    uint16_t key = 0;
    uint16_t value = 0;
    bool used = false;
    bool marker = false;
  };
  Entry out_[kSize];
  Entry late_[kSize];
};

}  // namespace halfsec
