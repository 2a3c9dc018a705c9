// Test-only bindings for the srtp module (exposed under addon._test).
//
//   srtpSession(profile, masterKey, masterSalt)             -> session (RFC 3711 KDF applied)
//   srtpSessionFromSessionKeys(profile, key, salt[, authKey]) -> session (keys used as given)
//   session.protectRtp(buf) / unprotectRtp / protectRtcp / unprotectRtcp
//       -> Buffer with the result, or a negative SrtpError number
//   session.stats() -> { authFailures, replays, malformed }
//   srtpDeriveKey(masterKey, masterSalt, label, length) -> Buffer
//   srtpConstants -> { profiles, errors, maxTrailer }
#include <napi.h>

#include <cstring>
#include <memory>
#include <vector>

#include "srtp/srtp.h"

namespace halfsec {
namespace {

constexpr uint8_t kCanary = 0xA5;
constexpr size_t kCanaryLen = 16;

bool ThrowType(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

bool GetBuffer(const Napi::CallbackInfo& info, size_t i, const char* what,
               Napi::Buffer<uint8_t>* out) {
  if (info.Length() <= i || !info[i].IsBuffer()) return ThrowType(info.Env(), what);
  *out = info[i].As<Napi::Buffer<uint8_t>>();
  return true;
}

bool GetProfile(const Napi::CallbackInfo& info, SrtpProfile* out) {
  if (info.Length() < 1 || !info[0].IsNumber())
    return ThrowType(info.Env(), "profile must be a number");
  uint32_t v = info[0].As<Napi::Number>().Uint32Value();
  if (v != static_cast<uint32_t>(SrtpProfile::kAes128CmSha1_80) &&
      v != static_cast<uint32_t>(SrtpProfile::kAeadAes128Gcm))
    return ThrowType(info.Env(), "unknown SRTP profile");
  *out = static_cast<SrtpProfile>(v);
  return true;
}

using Op = int (SrtpContext::*)(uint8_t*, size_t);

// Runs one in-place operation on a copy of the input with kSrtpMaxTrailer bytes of room, and
// checks that nothing past that room was written.
Napi::Value RunOp(const std::shared_ptr<SrtpContext>& ctx, Op op, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> in;
  if (!GetBuffer(info, 0, "packet must be a Buffer", &in)) return env.Undefined();
  size_t len = in.Length();
  std::vector<uint8_t> buf(len + kSrtpMaxTrailer + kCanaryLen, kCanary);
  if (len) std::memcpy(buf.data(), in.Data(), len);
  int r = ((*ctx).*op)(buf.data(), len);
  for (size_t i = len + kSrtpMaxTrailer; i < buf.size(); ++i) {
    if (buf[i] != kCanary) {
      Napi::Error::New(env, "SRTP wrote past len + kSrtpMaxTrailer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  if (r < 0) return Napi::Number::New(env, r);
  if (static_cast<size_t>(r) > len + kSrtpMaxTrailer) {
    Napi::Error::New(env, "SRTP returned a length past its buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(r));
}

Napi::Object WrapSession(Napi::Env env, std::shared_ptr<SrtpContext> ctx) {
  Napi::Object o = Napi::Object::New(env);
  auto bind = [&](const char* name, Op op) {
    o.Set(name, Napi::Function::New(
                    env, [ctx, op](const Napi::CallbackInfo& info) { return RunOp(ctx, op, info); },
                    name));
  };
  bind("protectRtp", &SrtpContext::ProtectRtp);
  bind("unprotectRtp", &SrtpContext::UnprotectRtp);
  bind("protectRtcp", &SrtpContext::ProtectRtcp);
  bind("unprotectRtcp", &SrtpContext::UnprotectRtcp);
  o.Set("stats", Napi::Function::New(
                     env,
                     [ctx](const Napi::CallbackInfo& info) -> Napi::Value {
                       Napi::Env e = info.Env();
                       const SrtpStats& s = ctx->stats();
                       Napi::Object r = Napi::Object::New(e);
                       r.Set("authFailures",
                             Napi::Number::New(e, static_cast<double>(s.auth_failures)));
                       r.Set("replays", Napi::Number::New(e, static_cast<double>(s.replays)));
                       r.Set("malformed", Napi::Number::New(e, static_cast<double>(s.malformed)));
                       return r;
                     },
                     "stats"));
  o.Set("ready", Napi::Boolean::New(env, ctx->ready()));
  o.Set("setRtcpSendIndex", Napi::Function::New(
                                env,
                                [ctx](const Napi::CallbackInfo& info) -> Napi::Value {
                                  Napi::Env e = info.Env();
                                  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
                                    Napi::TypeError::New(e, "setRtcpSendIndex(ssrc, index)").ThrowAsJavaScriptException();
                                    return e.Undefined();
                                  }
                                  return Napi::Boolean::New(e, srtp_test::SetRtcpSendIndex(*ctx, info[0].As<Napi::Number>().Uint32Value(),
                                                                                         info[1].As<Napi::Number>().Uint32Value()));
                                },
                                "setRtcpSendIndex"));
  return o;
}

Napi::Value SrtpSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SrtpProfile profile;
  Napi::Buffer<uint8_t> key, salt;
  if (!GetProfile(info, &profile) || !GetBuffer(info, 1, "masterKey must be a Buffer", &key) ||
      !GetBuffer(info, 2, "masterSalt must be a Buffer", &salt))
    return env.Undefined();
  if (key.Length() != SrtpMasterKeyLen(profile) || salt.Length() != SrtpMasterSaltLen(profile)) {
    ThrowType(env, "bad master key or salt length");
    return env.Undefined();
  }
  auto ctx = std::make_shared<SrtpContext>();
  if (!ctx->Init(profile, key.Data(), salt.Data())) {
    Napi::Error::New(env, "SrtpContext::Init failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return WrapSession(env, std::move(ctx));
}

Napi::Value SrtpSessionFromSessionKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SrtpProfile profile;
  Napi::Buffer<uint8_t> key, salt, auth;
  if (!GetProfile(info, &profile) || !GetBuffer(info, 1, "key must be a Buffer", &key) ||
      !GetBuffer(info, 2, "salt must be a Buffer", &salt))
    return env.Undefined();
  bool has_auth = info.Length() > 3 && !info[3].IsUndefined();
  if (has_auth && !GetBuffer(info, 3, "authKey must be a Buffer", &auth)) return env.Undefined();
  bool gcm = profile == SrtpProfile::kAeadAes128Gcm;
  if (key.Length() != 16 || salt.Length() != (gcm ? 12u : 14u) ||
      (has_auth && auth.Length() != 20)) {
    ThrowType(env, "bad session key, salt or auth key length");
    return env.Undefined();
  }
  auto ctx = std::make_shared<SrtpContext>();
  if (!srtp_test::InitWithSessionKeys(*ctx, profile, key.Data(), salt.Data(),
                                      has_auth ? auth.Data() : nullptr)) {
    Napi::Error::New(env, "InitWithSessionKeys failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return WrapSession(env, std::move(ctx));
}

Napi::Value SrtpDeriveKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> key, salt;
  if (!GetBuffer(info, 0, "masterKey must be a Buffer", &key) ||
      !GetBuffer(info, 1, "masterSalt must be a Buffer", &salt))
    return env.Undefined();
  if (info.Length() < 4 || !info[2].IsNumber() || !info[3].IsNumber()) {
    ThrowType(env, "label and length must be numbers");
    return env.Undefined();
  }
  uint32_t label = info[2].As<Napi::Number>().Uint32Value();
  uint32_t length = info[3].As<Napi::Number>().Uint32Value();
  if (key.Length() != 16 || (salt.Length() != 14 && salt.Length() != 12) || label > 5 ||
      length == 0 || length > 1024) {
    ThrowType(env, "bad KDF arguments");
    return env.Undefined();
  }
  std::vector<uint8_t> out(length);
  if (!srtp_test::DeriveKey(key.Data(), salt.Data(), salt.Length(), static_cast<uint8_t>(label),
                            out.data(), out.size())) {
    Napi::Error::New(env, "DeriveKey failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

}  // namespace

void RegisterSrtpTestExports(Napi::Env env, Napi::Object obj) {
  obj.Set("srtpSession", Napi::Function::New(env, SrtpSession, "srtpSession"));
  obj.Set("srtpSessionFromSessionKeys",
          Napi::Function::New(env, SrtpSessionFromSessionKeys, "srtpSessionFromSessionKeys"));
  obj.Set("srtpDeriveKey", Napi::Function::New(env, SrtpDeriveKey, "srtpDeriveKey"));

  Napi::Object profiles = Napi::Object::New(env);
  profiles.Set("aesCm128HmacSha1_80",
               Napi::Number::New(env, static_cast<double>(SrtpProfile::kAes128CmSha1_80)));
  profiles.Set("aeadAes128Gcm",
               Napi::Number::New(env, static_cast<double>(SrtpProfile::kAeadAes128Gcm)));
  Napi::Object errors = Napi::Object::New(env);
  errors.Set("malformed", Napi::Number::New(env, kSrtpMalformed));
  errors.Set("authFail", Napi::Number::New(env, kSrtpAuthFail));
  errors.Set("replay", Napi::Number::New(env, kSrtpReplay));
  errors.Set("tooManySsrcs", Napi::Number::New(env, kSrtpTooManySsrcs));
  errors.Set("indexExhausted", Napi::Number::New(env, kSrtpIndexExhausted));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("profiles", profiles);
  constants.Set("errors", errors);
  constants.Set("maxTrailer", Napi::Number::New(env, static_cast<double>(kSrtpMaxTrailer)));
  obj.Set("srtpConstants", constants);
}

}  // namespace halfsec
