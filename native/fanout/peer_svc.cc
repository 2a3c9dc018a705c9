// SVC: on the publisher side, the AV1 dependency descriptor read once per packet; on the viewer
// side, VP8/VP9/AV1 temporal and spatial layer filtering (media/svc_filter.h) on the viewer's
// video line, with the sequence numbers closed up over what is dropped.
#include "fanout/peer.h"
#include "fanout/worker.h"

namespace halfsec {

void Peer::ReadDependencyDescriptor(MediaPacket* pkt) {
  const uint8_t* v;
  size_t len;
  if (!FindRtpExtension(pkt->data, pkt->rtp, cfg_.dd_ext_id, &v, &len) || len > 255) return;
  pkt->dd_offset = static_cast<uint16_t>(v - pkt->data);
  pkt->dd_len = static_cast<uint8_t>(len);
  std::unique_ptr<DdLayers>& reader = dd_[pkt->layer];
  if (!reader) reader = std::make_unique<DdLayers>();
  reader->Read(v, len, pkt->epoch, &pkt->layers);
}

RtpExtensionsOut Peer::OutExtensions(const MediaPacket& pkt, uint8_t twcc_id) const {
  RtpExtensionsOut ext;
  ext.twcc_id = twcc_id;
  ext.twcc_seq = twcc_seq_;
  if (cfg_.dd_ext_id != 0 && pkt.dd_len != 0) {
    ext.dd_id = cfg_.dd_ext_id;
    ext.dd = pkt.data + pkt.dd_offset;
    ext.dd_len = pkt.dd_len;
  }
  return ext;
}

void Peer::SetSvcTarget(int spatial, int temporal, uint32_t next_kbps) {
  svc_.SetTarget(spatial, temporal);
  svc_next_kbps_ = next_kbps;
  if (tick_.asleep) WakeTicks();
}

double Peer::SvcProbeBps() const {
  const bool below = svc_.target_temporal() < svc_.seen_temporal() || svc_.target_spatial() < svc_.seen_spatial();
  return svc_.seen_any() && below ? svc_next_kbps_ * 1000.0 : 0;
}

void Peer::ForwardLayered(Outbound& o, const MediaPacket& pkt, uint8_t out_pt) {
  const uint16_t seq = pkt.rtp.sequence;
  if (o.layer != svc_layer_ || o.epoch != svc_epoch_) {
    svc_layer_ = o.layer;
    svc_epoch_ = o.epoch;
    svc_.Restart();
  }
  const bool fresh = o.seq.IsNew(seq);
  // Already sent (the keyframe replay overlaps the live queue): only recovered packets go late.
  if (!fresh && !pkt.recovered) return;
  const SvcFilter::Verdict v =
      pkt.codec == Codec::kAv1
          ? svc_.Decide(pkt.layers, pkt.rtp.timestamp, pkt.keyframe)
          : svc_.Decide(pkt.codec, pkt.data + pkt.rtp.header_len, pkt.rtp.payload_len, pkt.rtp.timestamp, pkt.keyframe);
  if (v.want_keyframe) WantKeyframe(o.layer);
  if (!fresh) {
    if (!out_map_) {
      Send(o, pkt, out_pt, -1, v.set_marker);  // nothing dropped yet: the segment's offset holds
      return;
    }
    uint16_t out_seq;
    if (v.forward && out_map_->OutOfLate(seq, &out_seq)) Send(o, pkt, out_pt, out_seq, v.set_marker);
    return;
  }
  if (!v.forward && !out_map_) out_map_ = std::make_unique<OutSeqMap>();
  if (out_map_) {
    // Source numbers skipped over (lost upstream so far) keep their outgoing numbers in case
    // they arrive late, recovered by the relay's NACK.
    const uint16_t gap = static_cast<uint16_t>(seq - o.seq.last_in_seq() - 1);
    if (gap > 0 && gap < 0x8000) out_map_->Gap(static_cast<uint16_t>(o.seq.last_in_seq() + 1), gap, o.seq.OutSeq(0));
  }
  if (!v.forward) {
    o.seq.Skip(seq);
    svc_dropped_++;
    return;
  }
  Send(o, pkt, out_pt, -1, v.set_marker);
}

void Peer::ReportSvc() {
  const bool layered = svc_.seen_any();
  fb_.svc_spatial_layers = layered ? svc_.seen_spatial() + 1 : 0;
  fb_.svc_temporal_layers = layered ? svc_.seen_temporal() + 1 : 0;
  fb_.svc_spatial = svc_.spatial();
  fb_.svc_temporal = svc_.temporal();
}

bool Peer::LayeredSource(uint16_t out_seq, uint16_t* seq, bool* marker) const {
  return out_map_ && out_map_->SourceOf(out_seq, seq, marker);
}

}  // namespace halfsec
