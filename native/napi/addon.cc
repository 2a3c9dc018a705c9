// Module entry: the Engine class exposed to JS (control calls in, batched events out) and the
// test-only exports. No media packet ever crosses this boundary.
#include <arpa/inet.h>
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "fanout/engine.h"

namespace halfsec {
void RegisterSrtpTestExports(Napi::Env env, Napi::Object obj);
void RegisterStunTestExports(Napi::Env env, Napi::Object obj);
void RegisterDtlsTestExports(Napi::Env env, Napi::Object obj);
void RegisterRtpTestExports(Napi::Env env, Napi::Object obj);
void RegisterMemoryExports(Napi::Env env, Napi::Object obj);  // napi/memory.cc
void RegisterReclaimExports(Napi::Env env, Napi::Object obj);  // napi/memory.cc

namespace {

Napi::Value ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

std::string GetString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

int64_t GetInt(const Napi::Object& o, const char* key, int64_t dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : dflt;
}

// Reads [[a, b], ...] pairs of small integers into a 128-entry table.
bool ReadPtTable(const Napi::Object& o, const char* key, std::array<uint8_t, 128>* table) {
  table->fill(0xff);
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsArray()) return false;
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsArray()) return false;
    Napi::Array pair = e.As<Napi::Array>();
    if (pair.Length() != 2 || !pair.Get(0u).IsNumber() || !pair.Get(1u).IsNumber()) return false;
    const int64_t a = pair.Get(0u).As<Napi::Number>().Int64Value();
    const int64_t b = pair.Get(1u).As<Napi::Number>().Int64Value();
    if (a < 0 || a > 127 || b < 0 || b > 127) return false;
    (*table)[a] = static_cast<uint8_t>(b);
  }
  return true;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod("createStream", &EngineWrap::CreateStream),
                        InstanceMethod("closeStream", &EngineWrap::CloseStream),
                        InstanceMethod("addPeer", &EngineWrap::AddPeer),
                        InstanceMethod("removePeer", &EngineWrap::RemovePeer),
                        InstanceMethod("requestKeyframe", &EngineWrap::RequestKeyframe),
                        InstanceMethod("setViewerLayer", &EngineWrap::SetViewerLayer),
                        InstanceMethod("setViewerSvc", &EngineWrap::SetViewerSvc),
                        InstanceMethod("setIngestSource", &EngineWrap::SetIngestSource),
                        InstanceMethod("stats", &EngineWrap::Stats),
                        InstanceMethod("close", &EngineWrap::Close),
                        InstanceAccessor("fingerprint", &EngineWrap::Fingerprint, nullptr),
                        InstanceAccessor("ports", &EngineWrap::Ports, nullptr),
                        InstanceAccessor("tcpPort", &EngineWrap::TcpPort, nullptr)});
  }

  // new Engine({ workers, bindAddress, portBase, portCount }, onEvents)
  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      ThrowType(env, "Engine(options, onEvents): options object and event callback required");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EngineOptions opts;
    opts.workers = static_cast<int>(GetInt(o, "workers", 0));
    const std::string bind = GetString(o, "bindAddress");
    if (!bind.empty()) opts.bind_ip = bind;
    const int64_t base = GetInt(o, "portBase", 40000), count = GetInt(o, "portCount", 100);
    if (base < 1 || base > 65535 || count < 1 || base + count > 65536) {
      ThrowType(env, "portBase/portCount out of range");
      return;
    }
    opts.keyframe_cache_max_age_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "keyframeCacheMaxAgeMs", 1000), 0, 60000));
    { const Napi::Value g = o.Get("udpGso"); opts.udp_gso = !g.IsBoolean() || g.As<Napi::Boolean>().Value(); }
    opts.fanout_coalesce_us = static_cast<int>(std::clamp<int64_t>(GetInt(o, "fanoutCoalesceUs", 0), 0, 50000));
    { const Napi::Value g = o.Get("pinWorkers"); opts.pin_workers = g.IsBoolean() && g.As<Napi::Boolean>().Value(); }
    opts.connect_timeout_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "connectTimeoutMs", 10000), 500, 120000));
    opts.consent_timeout_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "consentTimeoutMs", 30000), 1000, 300000));
    opts.media_timeout_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "publisherMediaTimeoutMs", 2000), 0, 300000));
    // ICE-TCP: tcpPort -1 (default) takes the first free port of the range, 0 turns it off.
    const int64_t tcp_port = GetInt(o, "tcpPort", -1);
    if (tcp_port < -1 || tcp_port > 65535) {
      ThrowType(env, "tcpPort out of range");
      return;
    }
    opts.tcp_port = static_cast<int>(tcp_port);
    opts.tcp_max_per_address = static_cast<int>(std::clamp<int64_t>(GetInt(o, "tcpMaxPerAddress", 16), 1, 1 << 20));
    opts.tcp_max_per_worker = static_cast<int>(std::clamp<int64_t>(GetInt(o, "tcpMaxPerWorker", 2000), 1, 1 << 20));
    opts.tcp_send_queue_bytes = static_cast<int>(std::clamp<int64_t>(GetInt(o, "tcpSendQueueBytes", 256 * 1024), 16 * 1024, 64 << 20));
    opts.port_base = static_cast<uint16_t>(base);
    opts.port_count = static_cast<uint16_t>(count);
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "halfsec-events", 0, 1);
    tsfn_.Unref(env);
    engine_ = std::make_unique<Engine>([this] { Notify(); });
    std::string err;
    if (!engine_->Start(opts, &err)) {
      engine_.reset();
      tsfn_.Release();
      Napi::Error::New(env, "halfsec engine failed to start: " + err).ThrowAsJavaScriptException();
      return;
    }
  }

  ~EngineWrap() override { Shutdown(); }

 private:
  void Notify() {
    if (scheduled_.exchange(true)) return;
    tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function cb) { Deliver(env, cb); });
  }

  void Deliver(Napi::Env env, Napi::Function cb) {
    scheduled_.store(false);
    if (!engine_) return;
    auto events = engine_->TakeEvents();
    if (events.empty()) return;
    Napi::Array arr = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("type", events[i].type);
      e.Set("peerId", events[i].peer_id);
      if (!events[i].detail.empty()) e.Set("detail", events[i].detail);
      if (events[i].has_feedback) {
        const ViewerFeedback& f = events[i].feedback;
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
      if (events[i].layer_count > 0) {
        Napi::Array bps = Napi::Array::New(env, static_cast<size_t>(events[i].layer_count));
        Napi::Array ssrcs = Napi::Array::New(env, static_cast<size_t>(events[i].layer_count));
        for (int l = 0; l < events[i].layer_count; l++) {
          bps.Set(static_cast<uint32_t>(l), events[i].layer_bps[l]);
          ssrcs.Set(static_cast<uint32_t>(l), static_cast<double>(events[i].layer_ssrc[l]));
        }
        e.Set("layerBps", bps);
        e.Set("layerSsrc", ssrcs);
        e.Set("audioBps", events[i].audio_bps);
      }
      if (events[i].at_ms > 0) e.Set("atMs", events[i].at_ms);
      arr.Set(static_cast<uint32_t>(i), e);
    }
    cb.Call({arr});
  }

  void Shutdown() {
    if (!engine_) return;
    engine_->Stop();
    engine_.reset();
    tsfn_.Release();
  }

  bool Alive(Napi::Env env) {
    if (engine_) return true;
    Napi::Error::New(env, "engine is closed").ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value CreateStream(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), engine_->CreateStream());
  }

  Napi::Value CloseStream(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    if (!info[0].IsNumber()) return ThrowType(info.Env(), "closeStream(streamId)");
    return Napi::Boolean::New(info.Env(), engine_->CloseStream(info[0].As<Napi::Number>().Uint32Value()));
  }

  // addPeer({ role, streamId, localUfrag, localPwd, remoteUfrag, fingerprintAlgorithm, fingerprint,
  //           kindByPt: [[pt, 0|1]], outPtByPt: [[pubPt, viewerPt]], audioSsrc, videoSsrc,
  //           rtcpSsrc, rtcpRsize, cname, worker }) -> { peerId, worker, port }
  Napi::Value AddPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    if (!info[0].IsObject()) return ThrowType(env, "addPeer(config)");
    Napi::Object o = info[0].As<Napi::Object>();
    PeerConfig cfg;
    const std::string role = GetString(o, "role");
    if (role == "publisher") {
      cfg.role = PeerRole::kPublisher;
    } else if (role == "viewer") {
      cfg.role = PeerRole::kViewer;
    } else if (role == "pull") {
      // Feeds the stream like a publisher; the transport is the client side of another relay.
      cfg.role = PeerRole::kPublisher;
      cfg.pull = true;
      cfg.remote_pwd = GetString(o, "remotePwd");
      const std::string ip = GetString(o, "remoteIp");
      const int64_t port = GetInt(o, "remotePort", 0);
      if (cfg.remote_pwd.size() < 22 || cfg.remote_pwd.size() > 256 || port < 1 || port > 65535) {
        return ThrowType(env, "pull: remotePwd (22-256 chars) and remotePort (1-65535) are required");
      }
      auto* s4 = reinterpret_cast<sockaddr_in*>(&cfg.remote_addr);
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&cfg.remote_addr);
      if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(static_cast<uint16_t>(port));
      } else if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<uint16_t>(port));
      } else {
        return ThrowType(env, "pull: remoteIp must be an IP address");
      }
    } else if (role == "ingest") {
      // Feeds the stream like a publisher from one of the relay's own FFmpeg children: plain
      // RTP on a local AF_UNIX socket, no ICE/DTLS/SRTP (PeerConfig::ingest).
      cfg.role = PeerRole::kPublisher;
      cfg.ingest = true;
      cfg.ingest_path = GetString(o, "ingestPath");
      const int64_t a = GetInt(o, "ingestAudioSsrc", 0), v = GetInt(o, "ingestVideoSsrc", 0);
      if (cfg.ingest_path.empty() || a < 0 || a > 0xffffffffLL || v < 0 || v > 0xffffffffLL || (a == 0 && v == 0)) {
        return ThrowType(env, "ingest: ingestPath and at least one of ingestAudioSsrc/ingestVideoSsrc (1..2^32-1) are required");
      }
      cfg.ingest_ssrc[kAudio] = static_cast<uint32_t>(a);
      cfg.ingest_ssrc[kVideo] = static_cast<uint32_t>(v);
    } else {
      return ThrowType(env, "role must be 'publisher', 'viewer', 'pull' or 'ingest'");
    }
    cfg.stream = engine_->FindStream(static_cast<uint32_t>(GetInt(o, "streamId", 0)));
    if (!cfg.stream) return ThrowType(env, "unknown streamId");
    cfg.local_ufrag = GetString(o, "localUfrag");
    cfg.local_pwd = GetString(o, "localPwd");
    cfg.remote_ufrag = GetString(o, "remoteUfrag");
    cfg.fingerprint_algorithm = GetString(o, "fingerprintAlgorithm");
    cfg.fingerprint = GetString(o, "fingerprint");
    if (cfg.ingest) {
      // No ICE or DTLS: a name for logs only, never registered as a ufrag.
      cfg.local_ufrag = "ingest";
    } else if (cfg.local_ufrag.size() < 4 || cfg.local_ufrag.size() > 256 || cfg.remote_ufrag.size() > 256 || cfg.local_pwd.size() < 22 || cfg.fingerprint.empty() ||
        cfg.fingerprint_algorithm.empty()) {
      return ThrowType(env, "localUfrag (>= 4 chars), localPwd (>= 22 chars) and the remote fingerprint are required");
    }
    if (!ReadPtTable(o, "kindByPt", &cfg.kind_by_pt) || !ReadPtTable(o, "outPtByPt", &cfg.out_pt_by_pt)) {
      return ThrowType(env, "kindByPt/outPtByPt must be arrays of [payloadType, value] pairs (0..127)");
    }
    std::array<uint8_t, 128> codecs;
    if (!ReadPtTable(o, "codecByPt", &codecs)) return ThrowType(env, "codecByPt must be an array of [payloadType, codecId] pairs");
    for (size_t i = 0; i < codecs.size(); i++) {
      cfg.codec_by_pt[i] = codecs[i] <= static_cast<uint8_t>(Codec::kOpus) ? static_cast<Codec>(codecs[i]) : Codec::kUnknown;
    }
    if (!ReadPtTable(o, "rtxApt", &cfg.rtx_apt)) return ThrowType(env, "rtxApt must be an array of [rtxPt, mediaPt] pairs");
    if (!ReadPtTable(o, "streamPtByPt", &cfg.stream_pt_by_pt)) return ThrowType(env, "streamPtByPt must be an array of [publisherPt, streamPt] pairs");
    const int64_t rid_ext = GetInt(o, "ridExtId", 0), rrid_ext = GetInt(o, "repairedRidExtId", 0);
    if (rid_ext < 0 || rid_ext > 255 || rrid_ext < 0 || rrid_ext > 255) return ThrowType(env, "extension ids must be 0..255");
    cfg.rid_ext_id = static_cast<uint8_t>(rid_ext);
    cfg.repaired_rid_ext_id = static_cast<uint8_t>(rrid_ext);
    const int64_t tcc_ext = GetInt(o, "transportCcExtId", 0);
    if (tcc_ext < 0 || tcc_ext > 255) return ThrowType(env, "transportCcExtId must be 0..255");
    cfg.transport_cc_ext_id = static_cast<uint8_t>(tcc_ext);
    const int64_t dd_ext = GetInt(o, "ddExtId", 0);
    if (dd_ext < 0 || dd_ext > 255) return ThrowType(env, "ddExtId must be 0..255");
    cfg.dd_ext_id = static_cast<uint8_t>(dd_ext);
    const int64_t remb = GetInt(o, "rembBps", 0);
    if (remb < 0 || remb > 1000000000) return ThrowType(env, "rembBps must be 0..1e9");
    cfg.remb_bps = static_cast<uint64_t>(remb);
    const int64_t rtx_pt = GetInt(o, "rtxPt", -1);
    if (rtx_pt < -1 || rtx_pt > 127) return ThrowType(env, "rtxPt must be -1..127");
    cfg.out_rtx_pt = rtx_pt < 0 ? kNoPt : static_cast<uint8_t>(rtx_pt);
    cfg.out_rtx_ssrc = static_cast<uint32_t>(GetInt(o, "rtxSsrc", 0));
    cfg.feedback_interval_ms = static_cast<int>(std::clamp<int64_t>(GetInt(o, "feedbackIntervalMs", 1000), 0, 60000));
    // Viewer: transport-wide-cc extension ids (one-byte form, RFC 8285: 1..14; 0 or absent: off).
    const int64_t twcc_audio = GetInt(o, "audioTwccExtId", 0), twcc_video = GetInt(o, "videoTwccExtId", 0);
    if (twcc_audio < 0 || twcc_audio > 14 || twcc_video < 0 || twcc_video > 14) return ThrowType(env, "audioTwccExtId/videoTwccExtId must be 0..14");
    cfg.twcc_ext_id[kAudio] = static_cast<uint8_t>(twcc_audio);
    cfg.twcc_ext_id[kVideo] = static_cast<uint8_t>(twcc_video);
    const int64_t audio_clock = GetInt(o, "audioClockRate", 48000);
    if (audio_clock < 8000 || audio_clock > 192000) return ThrowType(env, "audioClockRate out of range");
    cfg.clock_rate[kAudio] = static_cast<uint32_t>(audio_clock);
    Napi::Value rids = o.Get("rids");
    if (rids.IsArray()) {
      Napi::Array arr = rids.As<Napi::Array>();
      if (arr.Length() > 4) return ThrowType(env, "at most 4 simulcast rids");
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value r = arr.Get(i);
        if (!r.IsString()) return ThrowType(env, "rids must be strings");
        std::string rid = r.As<Napi::String>().Utf8Value();
        if (rid.empty() || rid.size() > 16) return ThrowType(env, "a rid must be 1-16 characters");
        cfg.rids.push_back(std::move(rid));
      }
    }
    // layerSsrcs: a viewer sends each video layer on its own SSRC (a layered pull served here);
    // a pull receives each layer (named by `rids`) on these SSRCs. See PeerConfig::layer_ssrcs.
    Napi::Value layer_ssrcs = o.Get("layerSsrcs");
    if (layer_ssrcs.IsArray()) {
      Napi::Array arr = layer_ssrcs.As<Napi::Array>();
      if (arr.Length() < 2 || arr.Length() > static_cast<uint32_t>(kMaxLayers)) return ThrowType(env, "layerSsrcs: 2-4 SSRCs");
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value v = arr.Get(i);
        const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 1 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return ThrowType(env, "layerSsrcs must be SSRCs (1..2^32-1)");
        cfg.layer_ssrcs.push_back(static_cast<uint32_t>(d));
      }
      if (cfg.role == PeerRole::kPublisher && (!cfg.pull || cfg.rids.size() != cfg.layer_ssrcs.size())) {
        return ThrowType(env, "layerSsrcs on a pull needs one rid per SSRC");
      }
    }
    cfg.out_ssrc[kAudio] = static_cast<uint32_t>(GetInt(o, "audioSsrc", 0));
    cfg.out_ssrc[kVideo] = static_cast<uint32_t>(GetInt(o, "videoSsrc", 0));
    cfg.rtcp_ssrc = static_cast<uint32_t>(GetInt(o, "rtcpSsrc", 1));
    // RFC 5506: the SDP side passes rtcpRsize when it answered a=rtcp-rsize; otherwise every RTCP
    // datagram toward the peer is compound. cname: the peer's SDES CNAME (default: random).
    cfg.rtcp_rsize = o.Has("rtcpRsize") && o.Get("rtcpRsize").ToBoolean().Value();
    cfg.cname = GetString(o, "cname");
    if (cfg.cname.size() > 255) return ThrowType(env, "cname must be at most 255 bytes");
    // RFC 8842 §5: a peer that offered a=setup:passive is the DTLS server; the relay answers
    // active and starts the handshake once the peer's first valid check gave it an address.
    cfg.dtls_client = cfg.pull || (o.Has("dtlsClient") && o.Get("dtlsClient").ToBoolean().Value());
    cfg.id = engine_->NextPeerId();
    const uint32_t id = cfg.id;
    const int hint = static_cast<int>(GetInt(o, "worker", -1));
    std::string add_error;
    const int w = engine_->AddPeer(std::move(cfg), hint, &add_error);
    if (w < 0) {
      Napi::Error::New(env, add_error.empty() ? "engine not running" : add_error).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("peerId", id);
    r.Set("worker", w);
    r.Set("port", engine_->worker(static_cast<size_t>(w)).port());
    r.Set("tcpPort", engine_->tcp_port());
    return r;
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    if (!info[0].IsNumber()) return ThrowType(info.Env(), "removePeer(peerId)");
    return Napi::Boolean::New(info.Env(), engine_->RemovePeer(info[0].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value RequestKeyframe(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    if (!info[0].IsNumber()) return ThrowType(info.Env(), "requestKeyframe(streamId)");
    return Napi::Boolean::New(info.Env(), engine_->RequestKeyframe(info[0].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value SetViewerLayer(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    if (!info[0].IsNumber() || !info[1].IsNumber()) return ThrowType(info.Env(), "setViewerLayer(peerId, layer)");
    const int layer = info[1].As<Napi::Number>().Int32Value();
    if (layer < -1 || layer >= kMaxLayers) return ThrowType(info.Env(), "layer must be -1 (automatic) or 0..3");
    return Napi::Boolean::New(info.Env(), engine_->SetViewerLayer(info[0].As<Napi::Number>().Uint32Value(), layer));
  }

  Napi::Value SetViewerSvc(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
      return ThrowType(info.Env(), "setViewerSvc(peerId, spatial, temporal, nextKbps?)");
    }
    const int spatial = info[1].As<Napi::Number>().Int32Value();
    const int temporal = info[2].As<Napi::Number>().Int32Value();
    if (spatial < 0 || spatial > 7 || temporal < 0 || temporal > 7) return ThrowType(info.Env(), "spatial and temporal must be 0..7 (7: all)");
    const double next_kbps = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
    if (!(next_kbps >= 0 && next_kbps < 33'000'000)) return ThrowType(info.Env(), "nextKbps must be 0..33000000");
    return Napi::Boolean::New(info.Env(), engine_->SetViewerSvc(info[0].As<Napi::Number>().Uint32Value(), spatial, temporal,
                                                                static_cast<uint32_t>(next_kbps)));
  }

  // setIngestSource(peerId, pid): the ingest peer takes datagrams from this process only.
  Napi::Value SetIngestSource(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    if (!info[0].IsNumber() || !info[1].IsNumber()) return ThrowType(info.Env(), "setIngestSource(peerId, pid)");
    const int64_t pid = info[1].As<Napi::Number>().Int64Value();
    if (pid < 1 || pid > 0x3fffffff) return ThrowType(info.Env(), "pid out of range");
    return Napi::Boolean::New(info.Env(), engine_->SetIngestSource(info[0].As<Napi::Number>().Uint32Value(), static_cast<int>(pid)));
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    Napi::Array workers = Napi::Array::New(env, engine_->worker_count());
    for (size_t i = 0; i < engine_->worker_count(); i++) {
      const Worker& w = engine_->worker(i);
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
      workers.Set(static_cast<uint32_t>(i), o);
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("workers", workers);
    return r;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Fingerprint(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    return Napi::String::New(info.Env(), engine_->identity().fingerprint());
  }

  Napi::Value Ports(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    Napi::Array arr = Napi::Array::New(env, engine_->worker_count());
    for (size_t i = 0; i < engine_->worker_count(); i++) arr.Set(static_cast<uint32_t>(i), engine_->worker(i).port());
    return arr;
  }

  Napi::Value TcpPort(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), engine_->tcp_port());
  }

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> scheduled_{false};
};

}  // namespace
}  // namespace halfsec

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", halfsec::EngineWrap::Define(env));
  // The finite upper bounds (seconds) of every worker's `residenceBuckets`; the last bucket is +Inf.
  Napi::Array bounds = Napi::Array::New(env, halfsec::ResidenceHistogram::kFinite);
  for (int b = 0; b < halfsec::ResidenceHistogram::kFinite; b++) {
    bounds.Set(static_cast<uint32_t>(b), static_cast<double>(halfsec::ResidenceHistogram::kUpperNs[b]) / 1e9);
  }
  exports.Set("residenceBucketsSeconds", bounds);
  halfsec::RegisterReclaimExports(env, exports);
  Napi::Object test = Napi::Object::New(env);
  halfsec::RegisterSrtpTestExports(env, test);
  halfsec::RegisterStunTestExports(env, test);
  halfsec::RegisterDtlsTestExports(env, test);
  halfsec::RegisterRtpTestExports(env, test);
  halfsec::RegisterMemoryExports(env, test);
  exports.Set("_test", test);
  return exports;
}

NODE_API_MODULE(halfsec, Init)
