#include "media/layer_switcher.h"

#include <algorithm>

namespace halfsec {

LayerSwitcher::Decision LayerSwitcher::Decide(int current, int layer, bool keyframe, bool recovered, int top) const {
  int target = top < 0 ? layer : top;
  if (pinned_ >= 0) target = std::min(pinned_, target);
  if (layer == current) return {Action::kForward, target != current ? target : -1};
  if (layer != target || !keyframe || recovered) return {Action::kDrop, layer == target ? target : -1};
  return {Action::kSwitch, -1};
}

}  // namespace halfsec
