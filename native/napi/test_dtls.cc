// Test-only bindings for the dtls module (exposed under addon._test).
//
// Everything here runs two DtlsTransports against each other in memory: datagrams go into two
// queues and are delivered one at a time, optionally dropping some to exercise retransmission.
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

namespace halfsec {
namespace {

using Clock = std::chrono::steady_clock;
using Datagram = std::vector<uint8_t>;

const char* StateName(DtlsState s) {
  switch (s) {
    case DtlsState::kNew:
      return "new";
    case DtlsState::kConnecting:
      return "connecting";
    case DtlsState::kConnected:
      return "connected";
    case DtlsState::kFailed:
      return "failed";
    case DtlsState::kClosed:
      return "closed";
  }
  return "?";
}

const char* ProfileName(SrtpProfile p) {
  return p == SrtpProfile::kAeadAes128Gcm ? "AEAD_AES_128_GCM" : "AES128_CM_SHA1_80";
}

const EVP_MD* TestDigest(const std::string& name) {
  if (name == "sha-1") return EVP_sha1();
  if (name == "sha-384") return EVP_sha384();
  if (name == "sha-512") return EVP_sha512();
  return EVP_sha256();
}

std::string ColonHex(const uint8_t* d, size_t n, bool lower) {
  const char* hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ':';
    s += hex[d[i] >> 4];
    s += hex[d[i] & 15];
  }
  return s;
}

// Fingerprint of the certificate an identity's SSL_CTX presents, with any SDP hash name.
std::string CtxFingerprint(const DtlsIdentity& id, const std::string& algorithm, bool lower) {
  X509* cert = SSL_CTX_get0_certificate(id.ctx());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || X509_digest(cert, TestDigest(algorithm), md, &n) != 1) return "";
  return ColonHex(md, n, lower);
}

// Changes the last hex digit so the fingerprint is well-formed but wrong.
std::string Corrupt(std::string fp) {
  if (!fp.empty()) fp.back() = fp.back() == '0' ? '1' : '0';
  return fp;
}

// Replaces the identity's certificate by a copy carrying a ~3 KB comment extension, re-signed
// with the same key, so that the Certificate message cannot fit one 1200-byte datagram.
bool InstallBigCertificate(const DtlsIdentity& id) {
  SSL_CTX* ctx = id.ctx();
  X509* orig = SSL_CTX_get0_certificate(ctx);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(ctx);
  if (!orig || !key) return false;
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_dup(orig), X509_free);
  std::string comment(3000, 'x');
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_netscape_comment, comment.c_str());
  bool ok = cert && ext && X509_add_ext(cert.get(), ext, -1) == 1 &&
            X509_sign(cert.get(), key, EVP_sha256()) > 0 && SSL_CTX_use_certificate(ctx, cert.get()) == 1 &&
            SSL_CTX_check_private_key(ctx) == 1;
  X509_EXTENSION_free(ext);
  ERR_clear_error();
  return ok;
}

struct LoopbackOptions {
  bool corrupt_client_fp = false;  // the client expects a wrong server fingerprint
  bool corrupt_server_fp = false;  // the server expects a wrong client fingerprint
  int drop_every_nth = 0;          // drop every Nth datagram (counted over both directions)
  int loss_percent = 0;            // and/or drop datagrams at random (seeded, reproducible)
  uint32_t seed = 1;
  std::string client_profiles;     // use_srtp profile list override, "" = identity default
  std::string server_profiles;
  std::string algorithm = "sha-256";
  bool lowercase_fp = false;
  int garbage_to_server = 0;  // junk datagrams interleaved into the server's input
  int garbage_after = 0;      // junk datagrams fed to both sides once connected
  std::string close_by;       // "client" / "server": Close() after connecting
  bool big_cert = false;
  int deadline_ms = 5000;
};

struct LoopbackResult {
  DtlsState client_state = DtlsState::kNew;
  DtlsState server_state = DtlsState::kNew;
  std::string client_error, server_error;
  bool client_keys = false, server_keys = false;
  SrtpKeyMaterial ck, sk;
  bool keys_match = false, keys_distinct = false;
  size_t max_datagram = 0, datagrams = 0, dropped = 0, timer_fires = 0;
  double elapsed_ms = 0;
  std::string setup_error;
  DtlsState client_after_close = DtlsState::kNew, server_after_close = DtlsState::kNew;
  DtlsState client_after_garbage = DtlsState::kNew, server_after_garbage = DtlsState::kNew;
  bool keys_stable = false;
  int client_timeout_after = 0, server_timeout_after = 0;  // GetSrtpKeys still gives the same keys after the junk
};

bool Done(DtlsState s) { return s != DtlsState::kNew && s != DtlsState::kConnecting; }

LoopbackResult RunLoopback(const DtlsIdentity& client_id, const DtlsIdentity& server_id, const LoopbackOptions& o) {
  LoopbackResult res;
  std::deque<Datagram> to_server, to_client;
  size_t counter = 0;
  uint32_t loss_rng = o.seed * 2654435761u + 1;
  auto sender = [&](std::deque<Datagram>* q) {
    return [&res, &counter, &loss_rng, &o, q](const uint8_t* d, size_t n) {
      res.max_datagram = std::max(res.max_datagram, n);
      ++res.datagrams;
      ++counter;
      loss_rng = loss_rng * 1664525u + 1013904223u;
      const bool random_drop = o.loss_percent > 0 && (loss_rng >> 8) % 100 < static_cast<uint32_t>(o.loss_percent);
      if (random_drop || (o.drop_every_nth > 0 && counter % static_cast<size_t>(o.drop_every_nth) == 0)) {
        ++res.dropped;
        return;
      }
      q->emplace_back(d, d + n);
    };
  };
  std::string server_fp = CtxFingerprint(server_id, o.algorithm, o.lowercase_fp);
  std::string client_fp = CtxFingerprint(client_id, o.algorithm, o.lowercase_fp);
  if (o.corrupt_client_fp) server_fp = Corrupt(server_fp);
  if (o.corrupt_server_fp) client_fp = Corrupt(client_fp);

  DtlsTransport client(client_id, DtlsRole::kClient, o.algorithm, server_fp, sender(&to_server));
  DtlsTransport server(server_id, DtlsRole::kServer, o.algorithm, client_fp, sender(&to_client));

  // Junk: random bytes with the first byte in the DTLS demux range; deterministic.
  uint32_t rng = 0x12345678;
  int garbage_left = o.garbage_to_server;
  auto junk = [&rng] {
    rng = rng * 1664525u + 1013904223u;
    Datagram g(13 + (rng >> 8) % 300);
    for (auto& b : g) {
      rng = rng * 1664525u + 1013904223u;
      b = static_cast<uint8_t>(rng >> 24);
    }
    g[0] = static_cast<uint8_t>(20 + g[0] % 44);  // passes the RFC 7983 demux
    if (g[1] & 1) {                               // half of them look like DTLS 1.2 records
      g[1] = 0xfe;
      g[2] = 0xfd;
      g[0] = static_cast<uint8_t>(20 + g[0] % 4);
    }
    return g;
  };
  auto feed_garbage = [&] {
    if (garbage_left <= 0) return;
    --garbage_left;
    Datagram g = junk();
    server.OnDatagram(g.data(), g.size());
  };

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(o.deadline_ms);
  feed_garbage();
  client.Start();
  server.Start();
  while (Clock::now() < deadline) {
    bool moved = false;
    if (!to_server.empty()) {
      Datagram d = std::move(to_server.front());
      to_server.pop_front();
      server.OnDatagram(d.data(), d.size());
      feed_garbage();
      moved = true;
    }
    if (!to_client.empty()) {
      Datagram d = std::move(to_client.front());
      to_client.pop_front();
      client.OnDatagram(d.data(), d.size());
      moved = true;
    }
    if (moved) continue;
    if (Done(client.state()) && Done(server.state())) break;
    if (client.state() == DtlsState::kFailed || server.state() == DtlsState::kFailed) break;
    int tc = client.TimeoutMs(), ts = server.TimeoutMs();
    int wait = tc < 0 ? ts : (ts < 0 ? tc : std::min(tc, ts));
    if (wait < 0) break;  // nobody has anything left to do
    auto wake = std::min(Clock::now() + std::chrono::milliseconds(wait), deadline);
    std::this_thread::sleep_until(wake);
    client.OnTimer();
    server.OnTimer();
    ++res.timer_fires;
  }
  res.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  res.client_state = client.state();
  res.server_state = server.state();
  res.client_timeout_after = client.TimeoutMs();
  res.server_timeout_after = server.TimeoutMs();
  res.client_error = client.error();
  res.server_error = server.error();
  res.client_keys = client.GetSrtpKeys(&res.ck);
  res.server_keys = server.GetSrtpKeys(&res.sk);
  if (res.client_keys && res.server_keys) {
    const size_t salt = res.ck.profile == SrtpProfile::kAeadAes128Gcm ? 12 : 14;
    res.keys_match = res.ck.profile == res.sk.profile &&
                     std::memcmp(res.ck.local_key, res.sk.remote_key, 16) == 0 &&
                     std::memcmp(res.ck.remote_key, res.sk.local_key, 16) == 0 &&
                     std::memcmp(res.ck.local_salt, res.sk.remote_salt, 14) == 0 &&
                     std::memcmp(res.ck.remote_salt, res.sk.local_salt, 14) == 0;
    static const uint8_t zero[16] = {};
    res.keys_distinct = std::memcmp(res.ck.local_key, res.ck.remote_key, 16) != 0 &&
                        std::memcmp(res.ck.local_salt, res.ck.remote_salt, salt) != 0 &&
                        std::memcmp(res.ck.local_key, zero, 16) != 0 &&
                        std::memcmp(res.ck.remote_key, zero, 16) != 0;
  }
  if (o.garbage_after > 0) {
    for (int i = 0; i < o.garbage_after; ++i) {
      Datagram g = junk();
      server.OnDatagram(g.data(), g.size());
      g = junk();
      client.OnDatagram(g.data(), g.size());
    }
    res.client_after_garbage = client.state();
    res.server_after_garbage = server.state();
    SrtpKeyMaterial ck2, sk2;
    res.keys_stable = res.client_keys && res.server_keys && client.GetSrtpKeys(&ck2) && server.GetSrtpKeys(&sk2) &&
                      std::memcmp(&ck2, &res.ck, sizeof ck2) == 0 && std::memcmp(&sk2, &res.sk, sizeof sk2) == 0;
  }
  if (!o.close_by.empty()) {
    DtlsTransport& closer = o.close_by == "server" ? server : client;
    closer.Close();
    for (int i = 0; i < 16 && (!to_server.empty() || !to_client.empty()); ++i) {
      if (!to_server.empty()) {
        Datagram d = std::move(to_server.front());
        to_server.pop_front();
        server.OnDatagram(d.data(), d.size());
      }
      if (!to_client.empty()) {
        Datagram d = std::move(to_client.front());
        to_client.pop_front();
        client.OnDatagram(d.data(), d.size());
      }
    }
    res.client_after_close = client.state();
    res.server_after_close = server.state();
  }
  return res;
}

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

// dtlsLoopback(opts) -> { clientState, serverState, profile, keysMatch, maxDatagram, error, ... }
Napi::Value DtlsLoopbackFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoopbackOptions o;
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
    o.deadline_ms = OptInt(a, "deadlineMs", 5000);
  }
  std::string err;
  auto cid = MakeIdentity(&err, o.client_profiles);
  auto sid = cid ? MakeIdentity(&err, o.server_profiles) : nullptr;
  if (!cid || !sid) return Throw(env, "identity: " + err);
  if (o.big_cert && (!InstallBigCertificate(*cid) || !InstallBigCertificate(*sid))) {
    return Throw(env, "could not install the big certificate");
  }
  LoopbackResult r = RunLoopback(*cid, *sid, o);

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

void RegisterDtlsTestExports(Napi::Env env, Napi::Object obj) {
  obj.Set("dtlsIdentity", Napi::Function::New(env, DtlsIdentityFn, "dtlsIdentity"));
  obj.Set("dtlsLoopback", Napi::Function::New(env, DtlsLoopbackFn, "dtlsLoopback"));
  obj.Set("dtlsFeed", Napi::Function::New(env, DtlsFeedFn, "dtlsFeed"));
  obj.Set("dtlsTimer", Napi::Function::New(env, DtlsTimerFn, "dtlsTimer"));
  obj.Set("dtlsThreads", Napi::Function::New(env, DtlsThreadsFn, "dtlsThreads"));
}

}  // namespace halfsec
