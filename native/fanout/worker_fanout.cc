// The fan-out on a worker: a publisher's packets go to the workers holding viewers of its
// stream, and each worker sends every burst it gathered viewer by viewer, so that one viewer's
// packets sit together in the send batch (one UDP GSO message when they are of one size); the
// send batch itself (sendmmsg, ICE-TCP hand-off, plain sendto for control packets).
#include "fanout/worker.h"

#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "base/clock.h"
#include "fanout/engine.h"
#include "transport/udp_socket.h"

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
  if (deferred_.empty() && coalesce_ns_ > 0) {
    // The window runs from the kernel's receive time of the first packet (residence counts it),
    // kept on the monotonic clock so that a step of the wall clock cannot hold packets longer.
    const int64_t waited = pkt->rx_ns != 0 ? std::clamp<int64_t>(RealtimeNs() - pkt->rx_ns, 0, coalesce_ns_) : 0;
    coalesce_until_us_ = MonotonicUs() + (coalesce_ns_ - waited) / 1000;
    coalesce_frame_end_ = false;
  }
  if (pkt->kind == kVideo && pkt->rtp.marker) coalesce_frame_end_ = true;
  deferred_.push_back({stream_id, pkt});
}

bool Worker::Coalescing() const {
  return coalesce_ns_ > 0 && !deferred_.empty() && !coalesce_frame_end_ && MonotonicUs() < coalesce_until_us_;
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

uint8_t* Worker::BatchSlot() {
  if (out_.full()) SendBatchNow();
  return out_.Slot();
}

void Worker::BatchCommit(size_t len, const sockaddr_storage& to, uint64_t tcp_id) {
  if (tcp_id != 0) {
    SendTcp(tcp_id, out_.Slot(), len);  // copied into the connection's queue; the slot is reused
    return;
  }
  out_.Commit(len, to, forward_rx_ns_);
  if (out_.full()) SendBatchNow();
}

void Worker::SendBatchNow() {
  const SendBatch::Result r = out_.Flush(fd_, &stats_.residence);
  if (r.packets) stats_.tx_packets.fetch_add(r.packets, std::memory_order_relaxed);
  if (r.bytes) stats_.tx_bytes.fetch_add(r.bytes, std::memory_order_relaxed);
  if (r.dropped) stats_.send_dropped.fetch_add(r.dropped, std::memory_order_relaxed);
  if (r.gso_messages) WorkerStats::Bump(stats_.gso_messages, r.gso_messages);
}

void Worker::Flush() {
  if (!Coalescing()) FanOut();
  SendBatchNow();
  if (tcp_dirty_.empty()) return;
  std::vector<uint64_t> dirty;
  dirty.swap(tcp_dirty_);
  for (uint64_t id : dirty) {
    auto it = tcp_.find(id);
    if (it != tcp_.end()) FlushTcp(*it->second);
  }
}

void Worker::SendNow(const uint8_t* d, size_t n, const sockaddr_storage& to, int fd) {
  if (sendto(fd >= 0 ? fd : fd_, d, n, 0, reinterpret_cast<const sockaddr*>(&to), AddrLen(to)) > 0) {
    stats_.tx_packets.fetch_add(1, std::memory_order_relaxed);
    stats_.tx_bytes.fetch_add(n, std::memory_order_relaxed);
  }
}

}  // namespace halfsec
