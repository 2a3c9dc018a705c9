// JS bindings of the load generator: LoadEngine (client peers on their own threads) and rawSend
// (the kernel-cost baseline): the whole of halfsec_load.node, used by ts/load/ and bench/fanout/.
#include <arpa/inet.h>
#include <napi.h>

#include <memory>

#include "load/bench_client.h"
#include "load/bench_raw.h"

namespace halfsec {
namespace {

using bench::ClientParams;
using bench::ClientState;
using bench::Histogram;
using bench::LoadEngine;

std::string Str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

double Num(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
}

Napi::Value Throw(Napi::Env env, const std::string& msg, bool type = true) {
  if (type) {
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  } else {
    Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

const char* StateName(int s) {
  switch (static_cast<ClientState>(s)) {
    case ClientState::kNew:
      return "new";
    case ClientState::kChecking:
      return "checking";
    case ClientState::kDtls:
      return "dtls";
    case ClientState::kConnected:
      return "connected";
    case ClientState::kFailed:
      return "failed";
    case ClientState::kClosed:
      return "closed";
  }
  return "?";
}

std::string IpString(uint32_t ip) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{ip};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

class LoadEngineWrap : public Napi::ObjectWrap<LoadEngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LoadEngine",
                       {InstanceMethod("allocate", &LoadEngineWrap::Allocate),
                        InstanceMethod("prepareCertificates", &LoadEngineWrap::PrepareCertificates),
                        InstanceMethod("connect", &LoadEngineWrap::Connect),
                        InstanceMethod("remove", &LoadEngineWrap::Remove),
                        InstanceMethod("pause", &LoadEngineWrap::Pause),
                        InstanceMethod("clientStats", &LoadEngineWrap::ClientStatsJs),
                        InstanceMethod("latencyBuckets", &LoadEngineWrap::LatencyBuckets),
                        InstanceMethod("close", &LoadEngineWrap::Close),
                        InstanceAccessor("fingerprint", &LoadEngineWrap::Fingerprint, nullptr),
                        StaticMethod("histogramBounds", &LoadEngineWrap::HistogramBounds),
                        StaticMethod("nowNs", &LoadEngineWrap::NowNs)});
  }

  // new LoadEngine({ threads, ipOctet, ownCertificates = true })
  explicit LoadEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LoadEngineWrap>(info) {
    Napi::Env env = info.Env();
    bench::LoadOptions opts;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      const double threads = Num(o, "threads", 1), octet = Num(o, "ipOctet", 100);
      if (threads < 1 || threads > 16 || octet < 1 || octet > 254) {
        Throw(env, "LoadEngine: threads must be 1..16 and ipOctet 1..254");
        return;
      }
      opts.threads = static_cast<int>(threads);
      opts.ip_octet = static_cast<uint8_t>(octet);
      Napi::Value own = o.Get("ownCertificates");
      if (own.IsBoolean()) opts.own_certificates = own.As<Napi::Boolean>().Value();
    }
    engine_ = std::make_unique<LoadEngine>();
    std::string err;
    if (!engine_->Start(opts, &err)) {
      engine_.reset();
      Throw(env, "load engine failed to start: " + err, false);
    }
  }

  ~LoadEngineWrap() override { engine_.reset(); }

 private:
  bool Alive(Napi::Env env) {
    if (engine_) return true;
    Throw(env, "load engine is closed", false);
    return false;
  }

  // prepareCertificates(n): makes n client certificates ahead (see LoadEngine::PrepareCertificates).
  Napi::Value PrepareCertificates(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    const double n = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(n >= 0 && n <= 100000)) return Throw(env, "prepareCertificates(n): 0..100000");
    std::string err;
    if (!engine_->PrepareCertificates(static_cast<size_t>(n), &err)) return Throw(env, err, false);
    return env.Undefined();
  }

  // allocate('viewer' | 'publisher') -> { id, ip, port, fingerprint } (the client's own certificate's)
  Napi::Value Allocate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    const std::string role = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (role != "viewer" && role != "publisher") return Throw(env, "allocate('viewer' | 'publisher')");
    LoadEngine::Slot s;
    std::string err;
    if (!engine_->Allocate(role == "publisher", &s, &err)) return Throw(env, err, false);
    Napi::Object r = Napi::Object::New(env);
    r.Set("id", s.id);
    r.Set("ip", IpString(s.ip));
    r.Set("port", s.port);
    r.Set("fingerprint", s.certificate ? s.certificate->fingerprint() : engine_->identity().fingerprint());
    return r;
  }

  // connect(id, { localUfrag, localPwd, remoteUfrag, remotePwd, fingerprintAlgorithm, fingerprint,
  //               dtlsRole: 'client'|'server', remoteIp, remotePort,
  //               payloadType?, ssrc?, rateKbps?, fps?, packetSize?, burst?, keyframeOnRequest? })
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    if (!info[0].IsNumber() || !info[1].IsObject()) return Throw(env, "connect(id, params)");
    Napi::Object o = info[1].As<Napi::Object>();
    ClientParams p;
    p.local_ufrag = Str(o, "localUfrag");
    p.local_pwd = Str(o, "localPwd");
    p.remote_ufrag = Str(o, "remoteUfrag");
    p.remote_pwd = Str(o, "remotePwd");
    p.fingerprint_algorithm = Str(o, "fingerprintAlgorithm");
    p.fingerprint = Str(o, "fingerprint");
    if (p.local_ufrag.empty() || p.local_pwd.empty() || p.remote_ufrag.empty() || p.remote_pwd.empty() ||
        p.fingerprint.empty() || p.fingerprint_algorithm.empty() || p.local_ufrag.size() > 256 ||
        p.remote_ufrag.size() > 256) {
      return Throw(env, "connect: ICE credentials (1..256 chars) and the remote fingerprint are required");
    }
    const std::string role = Str(o, "dtlsRole");
    if (role != "client" && role != "server") return Throw(env, "connect: dtlsRole must be 'client' or 'server'");
    p.dtls_role = role == "client" ? DtlsRole::kClient : DtlsRole::kServer;
    const std::string ip = Str(o, "remoteIp");
    const double port = Num(o, "remotePort", 0);
    p.remote.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip.c_str(), &p.remote.sin_addr) != 1 || (ntohl(p.remote.sin_addr.s_addr) >> 24) != 127) {
      return Throw(env, "connect: remoteIp must be an IPv4 address in 127.0.0.0/8 (loopback only)");
    }
    if (port < 1 || port > 65535) return Throw(env, "connect: remotePort out of range");
    p.remote.sin_port = htons(static_cast<uint16_t>(port));
    const double pt = Num(o, "payloadType", 102), rate = Num(o, "rateKbps", 2500), fps = Num(o, "fps", 30),
                 size = Num(o, "packetSize", 1200);
    if (pt < 0 || pt > 127 || rate < 1 || rate > 1000000 || fps < 1 || fps > 240 || size < 12 + bench::kPayloadHeader ||
        size > 1400) {
      return Throw(env, "connect: payloadType 0..127, rateKbps 1..1e6, fps 1..240, packetSize 28..1400");
    }
    p.payload_type = static_cast<uint8_t>(pt);
    p.ssrc = static_cast<uint32_t>(Num(o, "ssrc", 0x1234abcd));
    p.rate_kbps = static_cast<uint32_t>(rate);
    p.fps = static_cast<uint32_t>(fps);
    p.packet_size = static_cast<uint32_t>(size);
    { const Napi::Value t = o.Get("tcp"); p.tcp = t.IsBoolean() && t.As<Napi::Boolean>().Value(); }
    { const Napi::Value b = o.Get("burst"); p.burst = b.IsBoolean() && b.As<Napi::Boolean>().Value(); }
    { const Napi::Value b = o.Get("keyframeOnRequest"); p.keyframe_on_request = b.IsBoolean() && b.As<Napi::Boolean>().Value(); }
    std::string err;
    if (!engine_->Connect(info[0].As<Napi::Number>().Uint32Value(), std::move(p), &err)) return Throw(env, err, false);
    return env.Undefined();
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    if (!info[0].IsNumber()) return Throw(env, "remove(id)");
    return Napi::Boolean::New(env, engine_->Remove(info[0].As<Napi::Number>().Uint32Value()));
  }

  // pause(id, paused): a publisher stops (true) or resumes (false) sending media.
  Napi::Value Pause(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    if (!info[0].IsNumber() || !info[1].IsBoolean()) return Throw(env, "pause(id, paused)");
    return Napi::Boolean::New(env, engine_->SetPaused(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Boolean>().Value()));
  }

  Napi::Value ClientStatsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    const auto& all = engine_->stats();
    Napi::Array arr = Napi::Array::New(env, all.size());
    uint32_t i = 0;
    auto n = [&](const std::atomic<uint64_t>& a) { return Napi::Number::New(env, static_cast<double>(a.load(std::memory_order_relaxed))); };
    auto t = [&](const std::atomic<int64_t>& a) { return Napi::Number::New(env, static_cast<double>(a.load(std::memory_order_relaxed))); };
    for (const auto& [id, s] : all) {
      Napi::Object o = Napi::Object::New(env);
      const int state = s->state.load(std::memory_order_acquire);
      o.Set("id", id);
      o.Set("state", StateName(state));
      o.Set("rxPackets", n(s->rx_packets));
      o.Set("rxBytes", n(s->rx_bytes));
      o.Set("authChecked", n(s->auth_checked));
      o.Set("authFailed", n(s->auth_failed));
      o.Set("badPayload", n(s->bad_payload));
      o.Set("txPackets", n(s->tx_packets));
      o.Set("txBytes", n(s->tx_bytes));
      o.Set("rtcpIn", n(s->rtcp_in));
      o.Set("stunIn", n(s->stun_in));
      o.Set("iceNs", t(s->ice_ns));
      o.Set("connectedNs", t(s->connected_ns));
      o.Set("firstMediaNs", t(s->first_media_ns));
      if (state == static_cast<int>(ClientState::kFailed)) o.Set("error", s->error);
      arr.Set(i++, o);
    }
    return arr;
  }

  // Latency histogram counts, all threads merged; bucket i starts at histogramBounds()[i] ns.
  Napi::Value LatencyBuckets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(env)) return env.Undefined();
    Napi::Float64Array out = Napi::Float64Array::New(env, Histogram::kBuckets);
    for (size_t b = 0; b < Histogram::kBuckets; b++) {
      double sum = 0;
      for (size_t l = 0; l < engine_->thread_count(); l++) sum += static_cast<double>(engine_->latency(l).Count(b));
      out[b] = sum;
    }
    return out;
  }

  static Napi::Value HistogramBounds(const Napi::CallbackInfo& info) {
    Napi::Float64Array out = Napi::Float64Array::New(info.Env(), Histogram::kBuckets + 1);
    for (size_t b = 0; b < Histogram::kBuckets; b++) out[b] = static_cast<double>(Histogram::LowerBound(b));
    out[Histogram::kBuckets] = static_cast<double>(Histogram::LowerBound(Histogram::kBuckets));
    return out;
  }

  static Napi::Value NowNs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(bench::MonotonicNs()));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Fingerprint(const Napi::CallbackInfo& info) {
    if (!Alive(info.Env())) return info.Env().Undefined();
    return Napi::String::New(info.Env(), engine_->identity().fingerprint());
  }

  std::unique_ptr<LoadEngine> engine_;
};

// rawSend({ destinations, roundsPerSecond, packetSize, seconds, ipOctet }) -> Promise<result>,
// run on a libuv pool thread (that thread is the measured sender).
class RawSendWorker : public Napi::AsyncWorker {
 public:
  RawSendWorker(Napi::Env env, bench::RawOptions opts)
      : Napi::AsyncWorker(env, "halfsec-raw-send"), opts_(opts), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (!bench::RunRawSend(opts_, &result_)) SetError(result_.error);
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("sent", static_cast<double>(result_.sent));
    r.Set("received", static_cast<double>(result_.received));
    r.Set("skippedRounds", static_cast<double>(result_.skipped_rounds));
    r.Set("sendErrors", static_cast<double>(result_.send_errors));
    r.Set("userSeconds", result_.user_s);
    r.Set("systemSeconds", result_.system_s);
    r.Set("elapsedSeconds", result_.elapsed_s);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  bench::RawOptions opts_;
  bench::RawResult result_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value RawSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) return Throw(env, "rawSend(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  bench::RawOptions opts;
  opts.destinations = static_cast<uint32_t>(Num(o, "destinations", opts.destinations));
  opts.rounds_per_second = Num(o, "roundsPerSecond", opts.rounds_per_second);
  opts.packet_size = static_cast<uint32_t>(Num(o, "packetSize", opts.packet_size));
  opts.seconds = Num(o, "seconds", opts.seconds);
  const double octet = Num(o, "ipOctet", opts.ip_octet);
  if (octet < 1 || octet > 254) return Throw(env, "rawSend: ipOctet 1..254");
  opts.ip_octet = static_cast<uint8_t>(octet);
  { const Napi::Value t = o.Get("tcp"); opts.tcp = t.IsBoolean() && t.As<Napi::Boolean>().Value(); }
  auto* w = new RawSendWorker(env, opts);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace
}  // namespace halfsec

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("LoadEngine", halfsec::LoadEngineWrap::Define(env));
  exports.Set("rawSend", Napi::Function::New(env, halfsec::RawSend, "rawSend"));
  return exports;
}

NODE_API_MODULE(halfsec_load, Init)
