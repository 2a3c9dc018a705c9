// A worker's timers: peers with something due sit in the ticked list, idle ones in a min-heap
// of sleepers keyed by their next deadline (consent, sender report, feedback summary); anything
// that gives a sleeping peer work wakes it (WakePeer).
#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "fanout/engine.h"
#include "fanout/worker.h"

namespace halfsec {

void Worker::AddTicked(Peer* peer) {
  Peer::TickSlot& t = peer->tick_slot();
  if (t.index >= 0) return;
  t.index = static_cast<int32_t>(ticked_.size());
  ticked_.push_back(peer);
}

void Worker::RemoveTicked(Peer* peer) {
  Peer::TickSlot& t = peer->tick_slot();
  if (t.index < 0) return;
  Peer* last = ticked_.back();
  ticked_[static_cast<size_t>(t.index)] = last;
  last->tick_slot().index = t.index;
  ticked_.pop_back();
  t.index = -1;
}

void Worker::WakePeer(Peer* peer) {
  Peer::TickSlot& t = peer->tick_slot();
  if (!t.asleep) return;
  t.asleep = false;
  t.seq++;  // its heap entry is stale from now on
  AddTicked(peer);
}

// Work proportional to the peers with something due: each tick visits the ticked list and the
// sleepers whose time has come, not every peer (an idle viewer wakes about once a second for its
// sender report and feedback summary instead of 50 times).
void Worker::Tick() {
  const auto later = std::greater<Sleeper>();
  while (!sleepers_.empty() && sleepers_.front().due_ms <= now_ms_) {
    const Sleeper e = sleepers_.front();
    std::pop_heap(sleepers_.begin(), sleepers_.end(), later);
    sleepers_.pop_back();
    auto it = peers_.find(e.peer_id);
    if (it != peers_.end() && it->second->tick_slot().asleep && it->second->tick_slot().seq == e.seq) WakePeer(it->second);
  }
  std::vector<std::pair<Peer*, const char*>> dead;
  // Backwards: a peer that goes to sleep is swapped out for the last one, already visited.
  for (size_t i = ticked_.size(); i-- > 0;) {
    Peer* peer = ticked_[i];
    const char* reason = nullptr;
    if (!peer->OnTick(now_ms_, &reason)) {
      dead.emplace_back(peer, reason);
      continue;
    }
    const int64_t until = peer->IdleUntil(now_ms_);
    if (until > now_ms_) {
      RemoveTicked(peer);
      Peer::TickSlot& t = peer->tick_slot();
      t.asleep = true;
      sleepers_.push_back({until, peer->id(), t.seq});
      std::push_heap(sleepers_.begin(), sleepers_.end(), later);
    }
  }
  for (auto& [peer, reason] : dead) {
    engine_->Forget(peer->id());
    DestroyPeer(peer, reason);
  }
  TickTcp();
}

}  // namespace halfsec
