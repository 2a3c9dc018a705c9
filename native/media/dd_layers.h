// One publisher line's AV1 dependency descriptors turned into FrameLayers: the latest template
// structure is kept for the source epoch that sent it (media/packet.h `epoch`), so a restarted
// encoder's descriptors are never read against its predecessor's templates.
#pragma once
#include <cstddef>
#include <cstdint>

#include "media/frame_layers.h"
#include "rtp/dependency_descriptor.h"

namespace halfsec {

class DdLayers {
 public:
  // The descriptor `d` (`len` bytes) of a packet of source epoch `epoch`. False (and `out`
  // untouched) when it does not parse or no structure of this epoch is known yet.
  bool Read(const uint8_t* d, size_t len, uint32_t epoch, FrameLayers* out);
  bool has_structure() const { return structure_.template_count != 0; }

 private:
  DdStructure structure_;
  uint32_t epoch_ = 0;
  bool have_epoch_ = false;
};

}  // namespace halfsec
