// Test-only bindings for the dtls module (exposed under addon._test).
//
// Each hook runs DtlsTransports in memory (the loopback harness is test_dtls_loopback.cc) and
// reports what happened as a plain object.
#include <napi.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dtls/dtls.h"
#include "dtls/dtls_libctx.h"
#include "napi/test_dtls_loopback.h"

namespace halfsec {
using namespace dtls_loopback;
namespace {

// ---- N-API plumbing ----

Napi::Value Throw(Napi::Env env, const std::string& msg) {
  Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool OptBool(const Napi::Object& o, const char* k) {
  Napi::Value v = o.Get(k);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}
int OptInt(const Napi::Object& o, const char* k, int def) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
}
std::string OptString(const Napi::Object& o, const char* k, const std::string& def) {
  Napi::Value v = o.Get(k);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : def;
}

Napi::Buffer<uint8_t> Bytes(Napi::Env env, const uint8_t* d, size_t n) {
  return Napi::Buffer<uint8_t>::Copy(env, d, n);
}

Napi::Object KeysObject(Napi::Env env, const SrtpKeyMaterial& k) {
  const size_t salt = k.profile == SrtpProfile::kAeadAes128Gcm ? 12 : 14;
  Napi::Object o = Napi::Object::New(env);
  o.Set("profile", ProfileName(k.profile));
  o.Set("localKey", Bytes(env, k.local_key, 16));
  o.Set("localSalt", Bytes(env, k.local_salt, salt));
  o.Set("remoteKey", Bytes(env, k.remote_key, 16));
  o.Set("remoteSalt", Bytes(env, k.remote_salt, salt));
  // For GCM the last two bytes of the 14-byte arrays must stay zero.
  o.Set("saltTailZero", salt == 14 || (k.local_salt[12] == 0 && k.local_salt[13] == 0 &&
                                       k.remote_salt[12] == 0 && k.remote_salt[13] == 0));
  return o;
}

std::unique_ptr<DtlsIdentity> MakeIdentity(std::string* err, const std::string& profiles) {
  auto id = DtlsIdentity::Create(err);
  if (id && !profiles.empty() && SSL_CTX_set_tlsext_use_srtp(id->ctx(), profiles.c_str()) != 0) {
    *err = "bad profile list " + profiles;
    ERR_clear_error();
    return nullptr;
  }
  return id;
}

// dtlsIdentity() -> { fingerprint, der }
Napi::Value DtlsIdentityFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string err;
  auto id = DtlsIdentity::Create(&err);
  if (!id) return Throw(env, "DtlsIdentity::Create failed: " + err);
  X509* cert = SSL_CTX_get0_certificate(id->ctx());
  unsigned char* der = nullptr;
  int der_len = cert ? i2d_X509(cert, &der) : -1;
  if (der_len <= 0) return Throw(env, "i2d_X509 failed");
  Napi::Object o = Napi::Object::New(env);
  o.Set("fingerprint", id->fingerprint());
  o.Set("der", Bytes(env, der, static_cast<size_t>(der_len)));
  OPENSSL_free(der);
  return o;
}

// dtlsDecoders() -> { offered, total }: key decoders in the DTLS library context (dtls_libctx.h)
// and in the default provider it forwards to.
Napi::Value DtlsDecodersFn(const Napi::CallbackInfo& info) {
  dtls_detail::DtlsLibCtxCounts c = dtls_detail::DtlsLibCtxDecoderCounts();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("offered", c.decoders_offered);
  o.Set("total", c.decoders_total);
  return o;
}

// dtlsLibCtxUnderFips() -> whether the DTLS library context is made once the default context's
// properties ask for FIPS. Test-only, and only in a process of its own: it sets "fips=yes" on the
// default context (EVP_default_properties_enable_fips) before the DTLS context's first use.
Napi::Value DtlsLibCtxUnderFipsFn(const Napi::CallbackInfo& info) {
  if (EVP_default_properties_enable_fips(nullptr, 1) != 1) {
    ERR_clear_error();
    Napi::Error::New(info.Env(), "could not set fips=yes").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Boolean::New(info.Env(), dtls_detail::DtlsLibCtx() != nullptr);
}

// dtlsLoopback(opts) -> { clientState, serverState, profile, keysMatch, maxDatagram, error, ... }
Napi::Value DtlsLoopbackFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoopbackOptions o;
  std::string cipher;  // restricts both sides to one TLS cipher suite
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object a = info[0].As<Napi::Object>();
    o.corrupt_client_fp = OptBool(a, "corruptClientFingerprint");
    o.corrupt_server_fp = OptBool(a, "corruptServerFingerprint");
    o.drop_every_nth = OptInt(a, "dropEveryNth", 0);
    o.loss_percent = OptInt(a, "lossPercent", 0);
    o.seed = static_cast<uint32_t>(OptInt(a, "seed", 1));
    o.client_profiles = OptString(a, "clientProfiles", "");
    o.server_profiles = OptString(a, "serverProfiles", "");
    o.algorithm = OptString(a, "fingerprintAlgorithm", "sha-256");
    o.lowercase_fp = OptBool(a, "lowercaseFingerprint");
    o.garbage_to_server = OptInt(a, "garbageToServer", 0);
    o.close_by = OptString(a, "closeBy", "");
    o.garbage_after = OptInt(a, "garbageAfterConnect", 0);
    o.big_cert = OptBool(a, "bigCertificate");
    o.client_key = OptString(a, "clientKey", "");
    o.client_own_cert = OptBool(a, "clientOwnCertificate");
    o.deadline_ms = OptInt(a, "deadlineMs", 5000);
    o.drop_server_last_flight = OptBool(a, "dropServerLastFlight");
    o.forged_alerts = OptBool(a, "forgedAlerts");
    o.tamper_close = OptBool(a, "tamperClose");
    cipher = OptString(a, "cipher", "");
  }
  std::string err;
  auto cid = MakeIdentity(&err, o.client_profiles);
  auto sid = cid ? MakeIdentity(&err, o.server_profiles) : nullptr;
  if (!cid || !sid) return Throw(env, "identity: " + err);
  if (o.big_cert && (!InstallBigCertificate(*cid) || !InstallBigCertificate(*sid))) {
    return Throw(env, "could not install the big certificate");
  }
  if (!o.client_key.empty() && !InstallPeerKey(*cid, o.client_key)) {
    return Throw(env, "could not install a " + o.client_key + " client key");
  }
  if (!cipher.empty() && (SSL_CTX_set_cipher_list(cid->ctx(), cipher.c_str()) != 1 ||
                          SSL_CTX_set_cipher_list(sid->ctx(), cipher.c_str()) != 1)) {
    return Throw(env, "unknown cipher " + cipher);
  }
  LoopbackResult r = RunLoopback(*cid, *sid, o);
  if (!r.setup_error.empty()) return Throw(env, "loopback: " + r.setup_error);

  Napi::Object out = Napi::Object::New(env);
  out.Set("clientState", StateName(r.client_state));
  out.Set("serverState", StateName(r.server_state));
  out.Set("clientError", r.client_error);
  out.Set("serverError", r.server_error);
  out.Set("error", !r.client_error.empty() ? r.client_error : r.server_error);
  if (r.client_keys && r.server_keys && r.ck.profile == r.sk.profile) {
    out.Set("profile", ProfileName(r.ck.profile));
  } else {
    out.Set("profile", env.Null());
  }
  out.Set("keysMatch", r.keys_match);
  out.Set("keysDistinct", r.keys_distinct);
  if (r.client_keys) out.Set("clientKeys", KeysObject(env, r.ck));
  if (r.server_keys) out.Set("serverKeys", KeysObject(env, r.sk));
  out.Set("maxDatagram", static_cast<double>(r.max_datagram));
  out.Set("datagrams", static_cast<double>(r.datagrams));
  out.Set("dropped", static_cast<double>(r.dropped));
  out.Set("timerFires", static_cast<double>(r.timer_fires));
  out.Set("elapsedMs", r.elapsed_ms);
  out.Set("clientTimeoutAfter", r.client_timeout_after);
  out.Set("clientReleased", r.client_released);
  out.Set("serverReleased", r.server_released);
  if (o.forged_alerts) {
    out.Set("clientStateAfterForged", StateName(r.client_after_forged));
    out.Set("serverStateAfterForged", StateName(r.server_after_forged));
  }
  if (o.tamper_close) out.Set("stateAfterTamperedClose", StateName(r.after_tampered_close));
  out.Set("serverTimeoutAfter", r.server_timeout_after);
  if (o.garbage_after > 0) {
    out.Set("clientStateAfterGarbage", StateName(r.client_after_garbage));
    out.Set("serverStateAfterGarbage", StateName(r.server_after_garbage));
    out.Set("keysStable", r.keys_stable);
  }
  if (!o.close_by.empty()) {
    out.Set("clientStateAfterClose", StateName(r.client_after_close));
    out.Set("serverStateAfterClose", StateName(r.server_after_close));
  }
  return out;
}

// dtlsFeed({ role: 'server'|'client', datagrams: Buffer[], fingerprintAlgorithm?, fingerprint? })
// -> { state, error, sent, timeoutMs }: a lone transport fed arbitrary bytes.
Napi::Value DtlsFeedFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return Throw(env, "dtlsFeed(options)");
  Napi::Object a = info[0].As<Napi::Object>();
  std::string err;
  auto id = DtlsIdentity::Create(&err);
  if (!id) return Throw(env, "identity: " + err);
  DtlsRole role = OptString(a, "role", "server") == "client" ? DtlsRole::kClient : DtlsRole::kServer;
  size_t sent = 0;
  DtlsTransport t(*id, role, OptString(a, "fingerprintAlgorithm", "sha-256"),
                  OptString(a, "fingerprint", id->fingerprint()),
                  [&sent](const uint8_t*, size_t) { ++sent; });
  t.Start();
  Napi::Value dv = a.Get("datagrams");
  if (dv.IsArray()) {
    Napi::Array arr = dv.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsBuffer()) continue;
      auto b = v.As<Napi::Buffer<uint8_t>>();
      t.OnDatagram(b.Data(), b.Length());
    }
  }
  t.OnTimer();
  Napi::Object out = Napi::Object::New(env);
  out.Set("state", StateName(t.state()));
  out.Set("error", t.error());
  out.Set("sent", static_cast<double>(sent));
  out.Set("timeoutMs", t.TimeoutMs());
  SrtpKeyMaterial k;
  out.Set("keys", t.GetSrtpKeys(&k));
  return out;
}

// dtlsTimer() -> a client with nobody answering: timeouts before/after the first retransmission
// and datagram counts; and a started server's timeout (none until it hears something).
Napi::Value DtlsTimerFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string err;
  auto id = DtlsIdentity::Create(&err);
  if (!id) return Throw(env, "identity: " + err);
  size_t sent = 0, max_len = 0;
  DtlsTransport c(*id, DtlsRole::kClient, "sha-256", id->fingerprint(), [&](const uint8_t*, size_t n) {
    ++sent;
    max_len = std::max(max_len, n);
  });
  DtlsTransport s(*id, DtlsRole::kServer, "sha-256", id->fingerprint(), [](const uint8_t*, size_t) {});
  Napi::Object out = Napi::Object::New(env);
  out.Set("timeoutBeforeStart", c.TimeoutMs());
  c.Start();
  s.Start();
  out.Set("serverTimeout", s.TimeoutMs());
  out.Set("sentAfterStart", static_cast<double>(sent));
  const int first = c.TimeoutMs();
  out.Set("firstTimeout", first);
  c.OnTimer();  // not due yet: must not retransmit
  out.Set("sentAfterEarlyTimer", static_cast<double>(sent));
  std::this_thread::sleep_for(std::chrono::milliseconds(std::max(first, 0) + 5));
  out.Set("timeoutWhenDue", c.TimeoutMs());
  c.OnTimer();
  out.Set("sentAfterTimer", static_cast<double>(sent));
  out.Set("secondTimeout", c.TimeoutMs());
  out.Set("state", StateName(c.state()));
  c.Close();
  out.Set("stateAfterClose", StateName(c.state()));
  out.Set("sentAfterClose", static_cast<double>(sent));  // no close_notify before a handshake
  out.Set("maxDatagram", static_cast<double>(max_len));
  return out;
}

// dtlsThreads({ threads, rounds }) -> { connected, total, errors }: many handshakes at once on
// many threads, sharing two identities (one SSL_CTX each), with some loss.
Napi::Value DtlsThreadsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int threads = 4, rounds = 4;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object a = info[0].As<Napi::Object>();
    threads = std::clamp(OptInt(a, "threads", 4), 1, 64);
    rounds = std::clamp(OptInt(a, "rounds", 4), 1, 100);
  }
  std::string err;
  auto cid = DtlsIdentity::Create(&err);
  auto sid = cid ? DtlsIdentity::Create(&err) : nullptr;
  if (!cid || !sid) return Throw(env, "identity: " + err);
  std::atomic<int> connected{0}, matched{0};
  std::vector<std::string> errors(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        LoopbackOptions o;
        o.drop_every_nth = (t + r) % 3 == 0 ? 7 : 0;
        o.deadline_ms = 8000;
        LoopbackResult res = RunLoopback(*cid, *sid, o);
        if (res.client_state == DtlsState::kConnected && res.server_state == DtlsState::kConnected) {
          ++connected;
        } else if (errors[static_cast<size_t>(t)].empty()) {
          errors[static_cast<size_t>(t)] = std::string(StateName(res.client_state)) + "/" +
                                           StateName(res.server_state) + " " + res.client_error +
                                           res.server_error;
        }
        if (res.keys_match) ++matched;
      }
    });
  }
  for (auto& th : pool) th.join();
  Napi::Object out = Napi::Object::New(env);
  out.Set("total", threads * rounds);
  out.Set("connected", connected.load());
  out.Set("keysMatched", matched.load());
  Napi::Array errs = Napi::Array::New(env);
  uint32_t n = 0;
  for (auto& e : errors) {
    if (!e.empty()) errs.Set(n++, e);
  }
  out.Set("errors", errs);
  return out;
}

}  // namespace

// dtlsMemory({ n, keepSsl }) -> heap bytes per connected transport (mallinfo2), over n pairs.
Napi::Value DtlsMemoryFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 100;
  bool keep = false;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object a = info[0].As<Napi::Object>();
    n = std::clamp(OptInt(a, "n", 100), 1, 5000);
    keep = OptBool(a, "keepSsl");
  }
  std::string err;
  auto id = MakeIdentity(&err, "");
  if (!id) return Throw(env, "identity: " + err);
  const double bytes = MeasureConnectedBytes(*id, n, keep);
  if (bytes < 0) return Throw(env, "a handshake did not complete");
  return Napi::Number::New(env, bytes);
}

void RegisterDtlsAttackTestExports(Napi::Env env, Napi::Object obj);  // test_dtls_attack.cc

void RegisterDtlsTestExports(Napi::Env env, Napi::Object obj) {
  RegisterDtlsAttackTestExports(env, obj);
  obj.Set("dtlsMemory", Napi::Function::New(env, DtlsMemoryFn, "dtlsMemory"));
  obj.Set("dtlsIdentity", Napi::Function::New(env, DtlsIdentityFn, "dtlsIdentity"));
  obj.Set("dtlsDecoders", Napi::Function::New(env, DtlsDecodersFn, "dtlsDecoders"));
  obj.Set("dtlsLibCtxUnderFips", Napi::Function::New(env, DtlsLibCtxUnderFipsFn, "dtlsLibCtxUnderFips"));
  obj.Set("dtlsLoopback", Napi::Function::New(env, DtlsLoopbackFn, "dtlsLoopback"));
  obj.Set("dtlsFeed", Napi::Function::New(env, DtlsFeedFn, "dtlsFeed"));
  obj.Set("dtlsTimer", Napi::Function::New(env, DtlsTimerFn, "dtlsTimer"));
  obj.Set("dtlsThreads", Napi::Function::New(env, DtlsThreadsFn, "dtlsThreads"));
}

}  // namespace halfsec
