// Test-only bindings for the dtls attack tests (exposed under addon._test; the foreign peers are
// test_dtls_attack_peer.cc): each attack's outcome, the heap after many failed handshakes, and
// handshakes on several threads at once.
#include <malloc.h>
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dtls/dtls.h"
#include "napi/test_dtls_attack_peer.h"

namespace halfsec {
using namespace dtls_attack;
namespace {

Napi::Object ToJs(Napi::Env env, const AttackResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("serverState", r.server_state);
  o.Set("serverError", r.server_error);
  o.Set("serverKeys", r.server_keys);
  o.Set("clientFinished", r.client_finished);
  o.Set("keysMatch", r.keys_match);
  o.Set("rewritten", r.rewritten);
  o.Set("note", r.note);
  o.Set("stateAfterRenegotiation", r.state_after_renegotiation);
  o.Set("keysStable", r.keys_stable);
  o.Set("serverMs", r.server_ms);
  return o;
}

std::string OptStr(const Napi::Object& o, const char* k, const char* def) {
  Napi::Value v = o.Get(k);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : def;
}
int OptNum(const Napi::Object& o, const char* k, int def) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
}

// dtlsAttack({ kind, keepSsl, chainBytes, repeat }) (kind "client-role:KIND": the relay's
// transport as DTLS client, see RunClientRoleAttack) -> { serverState, serverError, serverKeys, clientFinished, keysMatch, ... }
Napi::Value DtlsAttackFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  std::string err;
  auto id = DtlsIdentity::Create(&err);
  if (!id) return env.Null();
  Napi::Value keep = a.Get("keepSsl");
  const int chain = std::clamp(OptNum(a, "chainBytes", 0), 0, 1 << 20);
  const int repeat = std::clamp(OptNum(a, "repeat", 1), 1, 1000);
  const std::string kind = OptStr(a, "kind", "legit");
  if (kind.rfind("client-role:", 0) == 0) return ToJs(env, RunClientRoleAttack(*id, kind.substr(12)));
  AttackResult r;
  double server_ms = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; i++, server_ms += r.server_ms) r = RunAttack(*id, OptStr(a, "kind", "legit"), keep.IsBoolean() && keep.As<Napi::Boolean>().Value(), chain);
  Napi::Object o = ToJs(env, r);
  o.Set("serverMsPerHandshake", server_ms / repeat);
  o.Set("msPerHandshake", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / repeat);
  return o;
}

// dtlsAttackHeap({ kind, warmup, n }) -> heap bytes (mallinfo2 uordblks) gained per handshake
// over n handshakes after `warmup` of them, and how many of the n the server failed.
Napi::Value DtlsAttackHeapFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  const std::string kind = OptStr(a, "kind", "other-leaf");
  const int warmup = std::clamp(OptNum(a, "warmup", 50), 0, 5000);
  const int n = std::clamp(OptNum(a, "n", 500), 1, 20000);
  std::string err;
  auto id = DtlsIdentity::Create(&err);
  if (!id) return env.Null();
  for (int i = 0; i < warmup; i++) RunAttack(*id, kind, false);
  malloc_trim(0);
  const size_t before = mallinfo2().uordblks;
  int failed = 0;
  for (int i = 0; i < n; i++) failed += RunAttack(*id, kind, false).server_state == "failed";
  malloc_trim(0);
  const size_t after = mallinfo2().uordblks;
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytesPerHandshake", (static_cast<double>(after) - static_cast<double>(before)) / n);
  o.Set("failed", failed);
  return o;
}

// dtlsAttackThreads({ threads, rounds }) -> { total, asExpected, unexpected: [string] }: each
// thread makes its own identity (the first use of the DTLS library context races) and runs
// every kind in turn; a legitimate peer of any accepted key type must connect with matching
// keys, every other kind must fail.
Napi::Value DtlsAttackThreadsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  const int threads = std::clamp(OptNum(a, "threads", 4), 1, 16);
  const int rounds = std::clamp(OptNum(a, "rounds", 5), 1, 200);
  static const char* kKinds[] = {"legit", "key:rsa", "key:ed25519", "key:p384", "other-leaf", "swap-chain", "none"};
  std::atomic<int> expected{0};
  std::vector<std::string> unexpected(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      std::string err;
      auto id = DtlsIdentity::Create(&err);
      if (!id) {
        unexpected[static_cast<size_t>(t)] = "identity: " + err;
        return;
      }
      for (int r = 0; r < rounds; r++) {
        for (const char* k : kKinds) {
          const bool good = std::strcmp(k, "legit") == 0 || std::strncmp(k, "key:", 4) == 0;
          AttackResult res = RunAttack(*id, k, false);
          const bool as_expected = good ? (res.server_state == "connected" && res.keys_match)
                                        : (res.server_state == "failed" && !res.server_keys);
          if (as_expected) {
            expected++;
          } else if (unexpected[static_cast<size_t>(t)].empty()) {
            unexpected[static_cast<size_t>(t)] = std::string(k) + ": " + res.server_state + " " + res.server_error + res.note;
          }
        }
      }
    });
  }
  for (auto& th : ts) th.join();
  Napi::Object o = Napi::Object::New(env);
  o.Set("total", threads * rounds * static_cast<int>(std::size(kKinds)));
  o.Set("asExpected", expected.load());
  Napi::Array u = Napi::Array::New(env);
  uint32_t n = 0;
  for (auto& s : unexpected) {
    if (!s.empty()) u.Set(n++, s);
  }
  o.Set("unexpected", u);
  return o;
}

}  // namespace

void RegisterDtlsAttackTestExports(Napi::Env env, Napi::Object obj) {
  obj.Set("dtlsAttack", Napi::Function::New(env, DtlsAttackFn, "dtlsAttack"));
  obj.Set("dtlsAttackHeap", Napi::Function::New(env, DtlsAttackHeapFn, "dtlsAttackHeap"));
  obj.Set("dtlsAttackThreads", Napi::Function::New(env, DtlsAttackThreadsFn, "dtlsAttackThreads"));
}

}  // namespace halfsec
