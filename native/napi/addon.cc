// Module entry: the Engine class exposed to JS (control calls in, batched events out) and the
// test-only exports. No media packet ever crosses this boundary.
#include <napi.h>

#include <atomic>
#include <memory>

#include "napi/js_values.h"

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
                        InstanceAccessor("tcpPort", &EngineWrap::TcpPort, nullptr),
                        InstanceAccessor("schedulingWarning", &EngineWrap::SchedulingWarning, nullptr)});
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
    std::string option_error;
    if (!ReadEngineOptions(o, &opts, &option_error)) {
      ThrowType(env, option_error);
      return;
    }
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
      const EngineEvent& ev = events[i];
      Napi::Object e = EventToJs(env, ev);
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
    std::string config_error;
    if (!ReadPeerConfig(o, *engine_, &cfg, &config_error)) return ThrowType(env, config_error);
    cfg.id = engine_->NextPeerId();
    const uint32_t id = cfg.id;
    const Napi::Value worker_hint = o.Get("worker");
    const int hint = worker_hint.IsNumber() ? static_cast<int>(worker_hint.As<Napi::Number>().Int64Value()) : -1;
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
      Napi::Object o = WorkerStatsToJs(env, engine_->worker(i));
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

  Napi::Value SchedulingWarning(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    return Napi::String::New(info.Env(), engine_->scheduling_warning());
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
