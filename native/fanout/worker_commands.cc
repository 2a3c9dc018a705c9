// The control plane's commands to a worker: posted from the JS thread (each under the worker's
// mutex, then a wake-up) and carried out on the worker's own thread, which alone owns its peers.
#include <algorithm>
#include <mutex>

#include "fanout/engine.h"
#include "fanout/worker.h"

namespace halfsec {

void Worker::Post(const Command& command) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back(command);
  }
  Wake();
}

void Worker::AddPeer(Peer* peer) {
  Post({Command::kAdd, peer, peer->id()});
}

void Worker::RemovePeer(uint32_t peer_id) {
  Post({Command::kRemove, nullptr, peer_id});
}

void Worker::RequestKeyframe(uint32_t publisher_peer_id, int layer) {
  Post({Command::kPli, nullptr, publisher_peer_id, layer});
}

void Worker::SetViewerLayer(uint32_t peer_id, int layer) {
  Post({Command::kSetLayer, nullptr, peer_id, layer});
}

void Worker::SetViewerSvc(uint32_t peer_id, int spatial, int temporal, uint32_t next_kbps) {
  // One int: the probe rate (kbit/s, at most 2^25) above 6 bits of layers.
  const int packed = static_cast<int>((std::min<uint32_t>(next_kbps, (1u << 25) - 1) << 6) | (spatial << 3) | temporal);
  Post({Command::kSetSvc, nullptr, peer_id, packed});
}

void Worker::SetIngestSource(uint32_t peer_id, int pid) {
  Post({Command::kSetSource, nullptr, peer_id, pid});
}

void Worker::AdoptTcp(TcpLink* link) {
  Post({Command::kAdoptTcp, nullptr, 0, 0, link});
}

void Worker::DrainCommands() {
  std::vector<Command> cmds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (commands_.empty()) return;
    cmds.swap(commands_);
  }
  for (auto& c : cmds) {
    switch (c.type) {
      case Command::kAdd: {
        Peer* p = c.peer;
        if (p->is_pull() && !OpenPullSocket(p)) p->Fail("pull-socket-failed");
        if (p->is_ingest() && !WatchIngest(p)) p->Fail("ingest-socket-failed");
        p->Attach(this);
        peers_[p->id()] = p;
        AddTicked(p);
        // A pull is the controlling agent on its own socket: the ICE-lite relay it pulls from never
        // checks, so a check for its ufrag on the shared port is forged and must not move it.
        if (!p->is_pull() && !p->is_ingest()) by_ufrag_[p->config().local_ufrag] = p;
        stats_.peers.fetch_add(1, std::memory_order_relaxed);
        Stream* s = p->stream();
        if (p->role() == PeerRole::kViewer) {
          LocalStream& ls = streams_[s->id];
          ls.stream = s;
          auto& list = ls.viewers;
          list.push_back(p);
          stats_.viewers.fetch_add(1, std::memory_order_relaxed);
          if (list.size() == 1) s->worker_mask.fetch_or(uint64_t{1} << index_, std::memory_order_release);
        } else {
          p->set_epoch(s->source_epoch.fetch_add(1) + 1);
          s->layer_count.store(static_cast<int>(std::clamp<size_t>(p->config().rids.size(), 1, kMaxLayers)));
          s->publisher_peer.store(p->id());
          s->publisher_worker.store(index_);
        }
        break;
      }
      case Command::kRemove: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) {
          it->second->Close();
          DestroyPeer(it->second, "removed");
        }
        break;
      }
      case Command::kPli: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) it->second->SendKeyframeRequest(c.value);
        break;
      }
      case Command::kSetLayer: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) it->second->SetLayer(c.value);
        break;
      }
      case Command::kSetSvc: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) it->second->SetSvcTarget((c.value >> 3) & 7, c.value & 7, static_cast<uint32_t>(c.value) >> 6);
        break;
      }
      case Command::kSetSource: {
        auto it = peers_.find(c.peer_id);
        if (it != peers_.end()) it->second->set_ingest_pid(c.value);
        break;
      }
      case Command::kStop:
        running_ = false;
        break;
      case Command::kAdoptTcp:
        InstallTcp(c.link);
        break;
    }
  }
}

}  // namespace halfsec
