// The fan-out on a worker: a publisher's packets go to the workers holding viewers of its
// stream, and each worker sends every burst it gathered viewer by viewer, so that one viewer's
// packets sit together in the send batch (one UDP GSO message when they are of one size).
#include "fanout/worker.h"

#include "fanout/engine.h"

namespace halfsec {

void Worker::Publish(Peer& publisher, MediaPacket* pkt) {
  Stream* s = publisher.stream();
  const uint64_t mask = s->worker_mask.load(std::memory_order_acquire);
  const uint64_t self = uint64_t{1} << index_;
  for (size_t i = 0; i < engine_->worker_count(); i++) {
    const uint64_t bit = uint64_t{1} << i;
    if (!(mask & bit) || bit == self) continue;
    pkt->AddRef(1);
    engine_->worker(i).PostMedia(s->id, pkt);
  }
  if (mask & self) {
    Defer(s->id, pkt);  // fanned out with the rest of this burst
  } else {
    pkt->Release();
  }
}

void Worker::Defer(uint32_t stream_id, MediaPacket* pkt) {
  if (deferred_.size() >= kMaxDeferred) FanOut();
  deferred_.push_back({stream_id, pkt});
}

void Worker::FanOut() {
  if (fanning_out_ || deferred_.empty()) return;
  fanning_out_ = true;
  // Runs of one stream's packets (one stream is the common case): viewer-major within a run.
  size_t a = 0;
  while (a < deferred_.size()) {
    const uint32_t sid = deferred_[a].stream_id;
    size_t b = a + 1;
    while (b < deferred_.size() && deferred_[b].stream_id == sid) b++;
    auto it = streams_.find(sid);
    if (it != streams_.end()) {
      LocalStream& ls = it->second;
      for (size_t i = a; i < b; i++) ls.sent.Store(deferred_[i].pkt);
      const int top = ls.stream->TopLiveLayer(now_ms_, 1000);
      // The viewer list does not change meanwhile: removals come as commands, between passes.
      for (size_t v = 0; v < ls.viewers.size(); v++) {
        Peer* viewer = ls.viewers[v];
        for (size_t i = a; i < b; i++) {
          forward_rx_ns_ = deferred_[i].pkt->rx_ns;
          viewer->Forward(*deferred_[i].pkt, top);
        }
      }
      forward_rx_ns_ = 0;
    }
    a = b;
  }
  for (QueuedPacket& q : deferred_) q.pkt->Release();
  deferred_.clear();
  fanning_out_ = false;
}

}  // namespace halfsec
