// Engine events and worker statistics -> JS objects (declared in js_values.h).
#include "napi/js_values.h"

namespace halfsec {

Napi::Object EventToJs(Napi::Env env, const EngineEvent& ev) {
  Napi::Object e = Napi::Object::New(env);
  e.Set("type", ev.type);
  e.Set("peerId", ev.peer_id);
  if (!ev.detail.empty()) e.Set("detail", ev.detail);
  if (ev.has_feedback) {
    const ViewerFeedback& f = ev.feedback;
    Napi::Object fb = Napi::Object::New(env);
    fb.Set("loss", f.loss);
    fb.Set("rttMs", f.rtt_ms);
    fb.Set("rembBps", f.remb_bps);
    fb.Set("nacks", f.nacks);
    fb.Set("retransmits", f.retransmits);
    fb.Set("layer", f.layer);
    fb.Set("packets", f.packets);
    fb.Set("estimateBps", f.estimate_bps);
    fb.Set("ackedBps", f.acked_bps);
    fb.Set("svcSpatialLayers", f.svc_spatial_layers);
    fb.Set("svcTemporalLayers", f.svc_temporal_layers);
    fb.Set("svcSpatial", f.svc_spatial);
    fb.Set("svcTemporal", f.svc_temporal);
    e.Set("feedback", fb);
  }
  if (ev.layer_count > 0) {
    Napi::Array bps = Napi::Array::New(env, static_cast<size_t>(ev.layer_count));
    Napi::Array ssrcs = Napi::Array::New(env, static_cast<size_t>(ev.layer_count));
    for (int l = 0; l < ev.layer_count; l++) {
      bps.Set(static_cast<uint32_t>(l), ev.layer_bps[l]);
      ssrcs.Set(static_cast<uint32_t>(l), static_cast<double>(ev.layer_ssrc[l]));
    }
    e.Set("layerBps", bps);
    e.Set("layerSsrc", ssrcs);
    e.Set("audioBps", ev.audio_bps);
  }
  if (ev.at_ms > 0) e.Set("atMs", ev.at_ms);
  return e;
}

Napi::Object WorkerStatsToJs(Napi::Env env, const Worker& w) {
  const WorkerStats& s = w.stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("port", w.port());
  o.Set("peers", s.peers.load());
  o.Set("viewers", s.viewers.load());
  o.Set("rxPackets", static_cast<double>(s.rx_packets.load()));
  o.Set("rxBytes", static_cast<double>(s.rx_bytes.load()));
  o.Set("txPackets", static_cast<double>(s.tx_packets.load()));
  o.Set("txBytes", static_cast<double>(s.tx_bytes.load()));
  o.Set("dropped", static_cast<double>(s.dropped.load()));
  o.Set("sendDropped", static_cast<double>(s.send_dropped.load()));
  o.Set("srtpErrors", static_cast<double>(s.srtp_errors.load()));
  o.Set("stunRejected", static_cast<double>(s.stun_rejected.load()));
  o.Set("queueFull", static_cast<double>(s.queue_full.load()));
  o.Set("nacksReceived", static_cast<double>(s.nacks_received.load()));
  o.Set("retransmits", static_cast<double>(s.retransmits.load()));
  o.Set("keyframeRequests", static_cast<double>(s.keyframe_requests.load()));
  o.Set("nacksSent", static_cast<double>(s.nacks_sent.load()));
  o.Set("transportCcSent", static_cast<double>(s.transport_cc_sent.load()));
  o.Set("iceAddressConflicts", static_cast<double>(s.ice_address_conflicts.load()));
  o.Set("iceRebinds", static_cast<double>(s.ice_rebinds.load()));
  o.Set("tcpConnections", s.tcp_connections.load());
  o.Set("tcpAccepted", static_cast<double>(s.tcp_accepted.load()));
  o.Set("tcpDroppedPackets", static_cast<double>(s.tcp_dropped.load()));
  o.Set("tcpRejectedTimeout", static_cast<double>(s.tcp_rejected_timeout.load()));
  o.Set("tcpRejectedOversize", static_cast<double>(s.tcp_rejected_oversize.load()));
  o.Set("tcpRejectedUsername", static_cast<double>(s.tcp_rejected_username.load()));
  o.Set("tcpRejectedLimit", static_cast<double>(s.tcp_rejected_limit.load()));
  o.Set("tcpRejectedInvalid", static_cast<double>(s.tcp_rejected_invalid.load()));
  o.Set("tcpPathClosed", static_cast<double>(s.tcp_path_closed.load()));
  o.Set("packetsPooled", static_cast<double>(w.pooled_packets()));
  o.Set("gsoMessages", static_cast<double>(s.gso_messages.load()));
  {
    uint64_t counts[ResidenceHistogram::kBuckets];
    uint64_t sum_ns;
    s.residence.Read(counts, &sum_ns);
    Napi::Array buckets = Napi::Array::New(env, ResidenceHistogram::kBuckets);
    for (int b = 0; b < ResidenceHistogram::kBuckets; b++) buckets.Set(static_cast<uint32_t>(b), static_cast<double>(counts[b]));
    o.Set("residenceBuckets", buckets);
    o.Set("residenceSumSeconds", static_cast<double>(sum_ns) / 1e9);
  }
  return o;
}

}  // namespace halfsec
