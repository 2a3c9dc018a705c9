// A viewer that gets every simulcast layer at once: a relay-to-relay pull (docs/cluster.md).
// Each video layer goes out on its own SSRC with its own continuous sequence and timestamp
// line, so the downstream relay sees a simulcast publisher (one RTP stream per layer, RFC 8853
// §5.2 without the rid extension: the SSRCs are in the answer's a=ssrc-group:SIM) and its own
// LayerSwitcher chooses per viewer. NACKs and PLIs are mapped back to the layer by SSRC.
#include "fanout/peer.h"
#include "fanout/worker.h"
#include "media/rtcp_reporter.h"
#include "rtp/rtcp.h"

namespace halfsec {

int Peer::LayerOfOutSsrc(uint32_t ssrc) const {
  for (size_t l = 0; l < cfg_.layer_ssrcs.size(); l++) {
    if (cfg_.layer_ssrcs[l] == ssrc && ssrc != 0) return static_cast<int>(l);
  }
  return -1;
}

void Peer::ForwardAllLayers(const MediaPacket& pkt, uint8_t out_pt) {
  if (pkt.layer >= cfg_.layer_ssrcs.size()) return;
  Outbound& o = sim_[pkt.layer];
  // A straggler of a source line this layer already left.
  if (o.seq.started() && static_cast<int32_t>(pkt.epoch - o.epoch) < 0) return;
  // The line starts, or its source restarted (republish, failover upstream): go on from the
  // source's next keyframe with the numbers running on, as on the origin's own layer switch, so
  // the downstream relay sees one unbroken RTP stream per layer and never a decoder-breaking gap.
  if (o.layer < 0 || pkt.epoch != o.epoch) {
    if (!pkt.keyframe) {
      o.layer = -1;
      worker_->KeyframeWanted(*cfg_.stream, pkt.layer);  // merged per stream and layer
      return;
    }
    StartOrSwitch(o, pkt, worker_->now_ms());
  }
  if (!o.seq.IsNew(pkt.rtp.sequence) && !pkt.recovered) return;
  Send(o, pkt, out_pt, -1, false, cfg_.layer_ssrcs[pkt.layer]);
}

size_t Peer::LayeredSenderReports(uint8_t* at, uint64_t ntp, uint32_t* ssrcs, int* n) {
  size_t off = 0;
  const uint32_t clock = cfg_.clock_rate[kVideo];
  for (size_t l = 0; l < cfg_.layer_ssrcs.size(); l++) {
    Outbound& o = sim_[l];
    if (!o.seq.started() || o.layer < 0) continue;
    const Stream::SenderClock c = cfg_.stream->GetSenderClock(kVideo, static_cast<int>(l));
    const uint32_t rtp = SenderReportRtpTime(c.valid, c.ntp, c.rtp, ntp, clock, o.seq.ts_delta(), o.seq.TsAt(worker_->now_ms(), clock));
    off += BuildSenderReport(at + off, cfg_.layer_ssrcs[l], ntp, rtp, o.packets, o.octets);
    ssrcs[(*n)++] = cfg_.layer_ssrcs[l];
  }
  return off;
}

}  // namespace halfsec
