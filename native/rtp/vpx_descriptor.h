// The layer fields of the VP8 (RFC 7741 §4.2) and VP9 (RFC 9628 §4.2) RTP payload descriptors:
// enough to forward a viewer only some temporal (and, for VP9, spatial) layers. Bounded by the
// payload length; a descriptor that does not fit is reported as not parsed.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rtp/keyframe.h"

namespace halfsec {

struct VpxLayers {
  bool parsed = false;        // the descriptor fit in the payload
  bool has_tid = false;       // a temporal layer index is present (VP8 T bit, VP9 L bit)
  uint8_t tid = 0;            // temporal layer, 0..3 (VP8) / 0..7 (VP9)
  uint8_t sid = 0;            // VP9 spatial layer, 0..7 (0 for VP8 and without L)
  // Switching up to `tid` is possible at this picture: VP8 Y (layer sync, depends on TL0 only),
  // VP9 U (switching up point).
  bool switch_up = false;
  bool begins = false;        // first packet of the (layer) frame: VP8 S with PID 0, VP9 B
  bool ends = false;          // VP9 E: last packet of the layer frame (false for VP8)
  bool inter_predicted = true;  // VP9 P; VP8: not known from the descriptor, true
  bool has_picture_id = false;
  uint16_t picture_id = 0;    // 7 or 15 bits (VP8 M / VP9 M)
  bool has_tl0picidx = false;
  uint8_t tl0picidx = 0;
  size_t descriptor_len = 0;  // bytes before the VP8/VP9 payload header
};

// Parses the payload descriptor at the start of an RTP payload of `codec` (kVp8 or kVp9; any
// other codec gives parsed == false).
VpxLayers ParseVpxDescriptor(Codec codec, const uint8_t* payload, size_t len);

}  // namespace halfsec
