// The layer facts of one video packet, whichever descriptor gave them: the VP8/VP9 payload
// descriptor (rtp/vpx_descriptor.h) or the AV1 dependency descriptor (rtp/dependency_descriptor.h).
#pragma once
#include <cstdint>

namespace halfsec {

struct FrameLayers {
  bool known = false;  // the packet carries layer information
  uint8_t spatial = 0, temporal = 0;
  // The temporal layers a viewer may switch up to at this frame: bit t (VP8 Y / VP9 U: the
  // frame's own layer; AV1: decode targets with a Switch indication).
  uint8_t switch_up = 0;
  bool ends = false;  // last packet of the layer frame (VP9 E, AV1 end_of_frame; false for VP8)
};

}  // namespace halfsec
