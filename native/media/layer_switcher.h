// Which simulcast layer a viewer gets, and when it may move: a decoder can only start, or cross
// to another layer, at a keyframe of that layer.
#pragma once

namespace halfsec {

class LayerSwitcher {
 public:
  enum class Action { kDrop, kSwitch, kForward };
  struct Decision {
    Action action;
    int want_keyframe;  // the layer to ask a keyframe of, -1: none
  };

  // -1: follow the highest live layer.
  void Pin(int layer) { pinned_ = layer; }
  // A video packet of `layer` while the viewer is on `current` (-1: not started), with `top`
  // the stream's highest live layer (-1: unknown).
  Decision Decide(int current, int layer, bool keyframe, bool recovered, int top) const;

 private:
  int pinned_ = -1;
};

}  // namespace halfsec
