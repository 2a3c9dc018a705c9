#include "media/dd_layers.h"

namespace halfsec {

bool DdLayers::Read(const uint8_t* d, size_t len, uint32_t epoch, FrameLayers* out) {
  if (!have_epoch_ || epoch != epoch_) {
    structure_ = DdStructure{};
    epoch_ = epoch;
    have_epoch_ = true;
  }
  DdFrame f;
  if (!ParseDependencyDescriptor(d, len, &structure_, &f)) return false;
  out->known = true;
  out->spatial = f.spatial;
  out->temporal = f.temporal;
  out->switch_up = DdSwitchUpMask(structure_, f);
  out->ends = f.end_of_frame;
  return true;
}

}  // namespace halfsec
