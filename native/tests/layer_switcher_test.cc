#include "media/layer_switcher.h"
#include "tests/check.h"

namespace halfsec {

using Action = LayerSwitcher::Action;

TEST(LayerSwitcherStartsOnlyAtAKeyframeOfTheTarget) {
  LayerSwitcher s;
  // Not started, top layer 2: a delta frame of 2 is dropped with a keyframe request for 2.
  LayerSwitcher::Decision d = s.Decide(-1, 2, false, false, 2);
  CHECK(d.action == Action::kDrop);
  CHECK_EQ(d.want_keyframe, 2);
  // A keyframe of another layer is dropped without a request.
  d = s.Decide(-1, 1, true, false, 2);
  CHECK(d.action == Action::kDrop);
  CHECK_EQ(d.want_keyframe, -1);
  // A late (recovered) keyframe does not start the line.
  CHECK(s.Decide(-1, 2, true, true, 2).action == Action::kDrop);
  CHECK(s.Decide(-1, 2, true, false, 2).action == Action::kSwitch);
}

TEST(LayerSwitcherFollowsThePinAndAsksToMove) {
  LayerSwitcher s;
  s.Pin(0);
  // On layer 2 while pinned to 0: keep forwarding 2, ask for a keyframe of 0.
  LayerSwitcher::Decision d = s.Decide(2, 2, false, false, 2);
  CHECK(d.action == Action::kForward);
  CHECK_EQ(d.want_keyframe, 0);
  CHECK(s.Decide(2, 0, true, false, 2).action == Action::kSwitch);
  // Pinned above the top live layer: the top wins.
  s.Pin(3);
  d = s.Decide(1, 1, false, false, 1);
  CHECK(d.action == Action::kForward);
  CHECK_EQ(d.want_keyframe, -1);
  // Unknown top: whatever layer arrives is the target.
  s.Pin(-1);
  CHECK(s.Decide(-1, 1, true, false, -1).action == Action::kSwitch);
}

}  // namespace halfsec
