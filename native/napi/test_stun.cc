// Test-only bindings for the stun module (exposed under addon._test).
#include <arpa/inet.h>
#include <napi.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "ice/stun.h"

namespace halfsec {
namespace {

constexpr size_t kDefaultCap = 4096;
constexpr size_t kCanarySize = 64;
constexpr uint8_t kCanary = 0xA5;

Napi::Value TypeError(Napi::Env env, const char* what) {
  Napi::TypeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value RangeError(Napi::Env env, const char* what) {
  Napi::RangeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

// A Buffer or Uint8Array argument.
bool BytesArg(const Napi::Value& v, const uint8_t** data, size_t* len) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<uint8_t>>();
    *data = b.Data();
    *len = b.Length();
    return true;
  }
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto u = v.As<Napi::Uint8Array>();
    *data = u.Data();
    *len = u.ElementLength();
    return true;
  }
  return false;
}

// A string (UTF-8) or bytes argument.
bool StringOrBytesArg(const Napi::Value& v, std::string* out) {
  if (v.IsString()) {
    *out = v.As<Napi::String>().Utf8Value();
    return true;
  }
  const uint8_t* d = nullptr;
  size_t n = 0;
  if (!BytesArg(v, &d, &n)) return false;
  out->assign(reinterpret_cast<const char*>(d), n);
  return true;
}

bool TxidArg(const Napi::Value& v, uint8_t txid[12]) {
  const uint8_t* d = nullptr;
  size_t n = 0;
  if (!BytesArg(v, &d, &n) || n != 12) return false;
  std::memcpy(txid, d, 12);
  return true;
}

// Optional trailing `cap`: undefined means kDefaultCap. False on a bad value.
bool CapArg(const Napi::CallbackInfo& info, size_t index, size_t* cap) {
  if (info.Length() <= index || info[index].IsUndefined()) {
    *cap = kDefaultCap;
    return true;
  }
  if (!info[index].IsNumber()) return false;
  const double d = info[index].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 65536) || d != static_cast<double>(static_cast<size_t>(d))) return false;
  *cap = static_cast<size_t>(d);
  return true;
}

// Runs a builder on a `cap`-byte window followed by a canary, so a write past `cap` is caught.
// Returns a Buffer, null when the builder returned 0, or throws when it broke its contract.
template <typename F>
Napi::Value RunBuilder(Napi::Env env, size_t cap, F build) {
  std::vector<uint8_t> buf(cap + kCanarySize, kCanary);
  const size_t n = build(buf.data(), cap);
  for (size_t i = cap; i < buf.size(); ++i) {
    if (buf[i] != kCanary) {
      Napi::Error::New(env, "stun builder wrote past cap").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  if (n > cap) {
    Napi::Error::New(env, "stun builder returned a length past cap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (n == 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), n);
}

Napi::Value AddressObject(Napi::Env env, const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  Napi::Object o = Napi::Object::New(env);
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, &ss, sizeof sin);
    inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
    o.Set("family", "IPv4");
    o.Set("port", Napi::Number::New(env, ntohs(sin.sin_port)));
  } else if (ss.ss_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &ss, sizeof sin6);
    inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
    o.Set("family", "IPv6");
    o.Set("port", Napi::Number::New(env, ntohs(sin6.sin6_port)));
  } else {
    return env.Null();
  }
  o.Set("address", Napi::String::New(env, text));
  return o;
}

// stunLooksLike(buf) -> bool
Napi::Value LooksLike(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d = nullptr;
  size_t n = 0;
  if (info.Length() < 1 || !BytesArg(info[0], &d, &n)) return TypeError(env, "buf must be a Buffer");
  return Napi::Boolean::New(env, LooksLikeStun(d, n));
}

// stunParse(buf) -> object | null
Napi::Value Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d = nullptr;
  size_t n = 0;
  if (info.Length() < 1 || !BytesArg(info[0], &d, &n)) return TypeError(env, "buf must be a Buffer");
  StunMessage m;
  if (!ParseStun(d, n, &m)) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::Number::New(env, m.type));
  o.Set("transactionId", Napi::Buffer<uint8_t>::Copy(env, m.transaction_id, sizeof m.transaction_id));
  if (m.username.data() != nullptr) {
    o.Set("username", Napi::String::New(env, m.username.data(), m.username.size()));
    o.Set("usernameLength", Napi::Number::New(env, static_cast<double>(m.username.size())));
  } else {
    o.Set("username", env.Null());
    o.Set("usernameLength", Napi::Number::New(env, 0));
  }
  o.Set("hasIntegrity", Napi::Boolean::New(env, m.has_integrity));
  o.Set("hasFingerprint", Napi::Boolean::New(env, m.has_fingerprint));
  o.Set("useCandidate", Napi::Boolean::New(env, m.use_candidate));
  o.Set("iceControlling", Napi::Boolean::New(env, m.has_ice_controlling));
  o.Set("iceControlled", Napi::Boolean::New(env, m.has_ice_controlled));
  o.Set("tieBreaker", Napi::BigInt::New(env, m.tie_breaker));
  o.Set("priority", Napi::Number::New(env, m.priority));
  o.Set("errorCode", Napi::Number::New(env, m.error_code));
  o.Set("mapped", m.has_xor_mapped ? AddressObject(env, m.xor_mapped) : env.Null());
  o.Set("integrityOffset", Napi::Number::New(env, static_cast<double>(m.integrity_offset)));
  o.Set("fingerprintOffset", Napi::Number::New(env, static_cast<double>(m.fingerprint_offset)));
  return o;
}

// stunVerifyIntegrity(buf, key: string | Buffer) -> bool (false when buf does not parse)
Napi::Value VerifyIntegrity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d = nullptr;
  size_t n = 0;
  std::string key;
  if (info.Length() < 2 || !BytesArg(info[0], &d, &n)) return TypeError(env, "buf must be a Buffer");
  if (!StringOrBytesArg(info[1], &key)) return TypeError(env, "key must be a string or a Buffer");
  StunMessage m;
  return Napi::Boolean::New(env, ParseStun(d, n, &m) && VerifyStunIntegrity(d, n, m, key));
}

// stunVerifyFingerprint(buf) -> bool (false when buf does not parse)
Napi::Value VerifyFingerprint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d = nullptr;
  size_t n = 0;
  if (info.Length() < 1 || !BytesArg(info[0], &d, &n)) return TypeError(env, "buf must be a Buffer");
  StunMessage m;
  return Napi::Boolean::New(env, ParseStun(d, n, &m) && VerifyStunFingerprint(d, n, m));
}

// stunCrc32(buf) -> number
Napi::Value Crc32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d = nullptr;
  size_t n = 0;
  if (info.Length() < 1 || !BytesArg(info[0], &d, &n)) return TypeError(env, "buf must be a Buffer");
  return Napi::Number::New(env, StunCrc32(d, n));
}

// stunBuildSuccess(txid: Buffer(12), ip: string, port: number, key: string | Buffer, cap?) -> Buffer | null
Napi::Value BuildSuccess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t txid[12];
  std::string key;
  size_t cap = 0;
  if (info.Length() < 4) return TypeError(env, "expected (txid, ip, port, key[, cap])");
  if (!TxidArg(info[0], txid)) return TypeError(env, "txid must be a 12-byte Buffer");
  if (!info[1].IsString()) return TypeError(env, "ip must be a string");
  if (!info[2].IsNumber()) return TypeError(env, "port must be a number");
  if (!StringOrBytesArg(info[3], &key)) return TypeError(env, "key must be a string or a Buffer");
  if (!CapArg(info, 4, &cap)) return TypeError(env, "cap must be an integer in 0..65536");
  const double port = info[2].As<Napi::Number>().DoubleValue();
  if (!(port >= 0 && port <= 65535) || port != static_cast<double>(static_cast<uint16_t>(port))) {
    return RangeError(env, "port must be an integer in 0..65535");
  }
  const std::string ip = info[1].As<Napi::String>().Utf8Value();
  sockaddr_storage ss{};
  if (ip.find(':') != std::string::npos) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, ip.c_str(), &sin6.sin6_addr) != 1) return TypeError(env, "ip is not an address");
    std::memcpy(&ss, &sin6, sizeof sin6);
  } else {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, ip.c_str(), &sin.sin_addr) != 1) return TypeError(env, "ip is not an address");
    std::memcpy(&ss, &sin, sizeof sin);
  }
  return RunBuilder(env, cap, [&](uint8_t* out, size_t c) {
    return BuildStunBindingSuccess(out, c, txid, reinterpret_cast<const sockaddr*>(&ss), key);
  });
}

// stunBuildError(txid: Buffer(12), code: number, reason: string, key: string | Buffer, cap?) -> Buffer | null
Napi::Value BuildError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t txid[12];
  std::string key;
  size_t cap = 0;
  if (info.Length() < 4) return TypeError(env, "expected (txid, code, reason, key[, cap])");
  if (!TxidArg(info[0], txid)) return TypeError(env, "txid must be a 12-byte Buffer");
  if (!info[1].IsNumber()) return TypeError(env, "code must be a number");
  if (!info[2].IsString()) return TypeError(env, "reason must be a string");
  if (!StringOrBytesArg(info[3], &key)) return TypeError(env, "key must be a string or a Buffer");
  if (!CapArg(info, 4, &cap)) return TypeError(env, "cap must be an integer in 0..65536");
  const double code = info[1].As<Napi::Number>().DoubleValue();
  if (!(code >= 0 && code <= 65535) || code != static_cast<double>(static_cast<uint16_t>(code))) {
    return RangeError(env, "code must be an integer in 0..65535");
  }
  const std::string reason = info[2].As<Napi::String>().Utf8Value();
  return RunBuilder(env, cap, [&](uint8_t* out, size_t c) {
    return BuildStunBindingError(out, c, txid, static_cast<uint16_t>(code), reason, key);
  });
}

// stunBuildRequest(txid: Buffer(12), username: string, key: string | Buffer, priority: number,
//                  controlling: bool, tieBreaker: bigint, useCandidate: bool, cap?) -> Buffer | null
Napi::Value BuildRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t txid[12];
  std::string username, key;
  size_t cap = 0;
  if (info.Length() < 7) {
    return TypeError(env, "expected (txid, username, key, priority, controlling, tieBreaker, useCandidate[, cap])");
  }
  if (!TxidArg(info[0], txid)) return TypeError(env, "txid must be a 12-byte Buffer");
  if (!StringOrBytesArg(info[1], &username)) return TypeError(env, "username must be a string or a Buffer");
  if (!StringOrBytesArg(info[2], &key)) return TypeError(env, "key must be a string or a Buffer");
  if (!info[3].IsNumber()) return TypeError(env, "priority must be a number");
  if (!info[4].IsBoolean()) return TypeError(env, "controlling must be a boolean");
  if (!info[5].IsBigInt()) return TypeError(env, "tieBreaker must be a bigint");
  if (!info[6].IsBoolean()) return TypeError(env, "useCandidate must be a boolean");
  if (!CapArg(info, 7, &cap)) return TypeError(env, "cap must be an integer in 0..65536");
  const double priority = info[3].As<Napi::Number>().DoubleValue();
  if (!(priority >= 0 && priority <= 4294967295.0) ||
      priority != static_cast<double>(static_cast<uint32_t>(priority))) {
    return RangeError(env, "priority must be an integer in 0..2^32-1");
  }
  bool lossless = false;
  const uint64_t tie_breaker = info[5].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) return RangeError(env, "tieBreaker must fit in 64 unsigned bits");
  const bool controlling = info[4].As<Napi::Boolean>().Value();
  const bool use_candidate = info[6].As<Napi::Boolean>().Value();
  return RunBuilder(env, cap, [&](uint8_t* out, size_t c) {
    return BuildStunBindingRequest(out, c, txid, username, key, static_cast<uint32_t>(priority), controlling,
                                   tie_breaker, use_candidate);
  });
}

}  // namespace

void RegisterStunTestExports(Napi::Env env, Napi::Object obj) {
  obj.Set("stunLooksLike", Napi::Function::New(env, LooksLike, "stunLooksLike"));
  obj.Set("stunParse", Napi::Function::New(env, Parse, "stunParse"));
  obj.Set("stunVerifyIntegrity", Napi::Function::New(env, VerifyIntegrity, "stunVerifyIntegrity"));
  obj.Set("stunVerifyFingerprint", Napi::Function::New(env, VerifyFingerprint, "stunVerifyFingerprint"));
  obj.Set("stunCrc32", Napi::Function::New(env, Crc32, "stunCrc32"));
  obj.Set("stunBuildSuccess", Napi::Function::New(env, BuildSuccess, "stunBuildSuccess"));
  obj.Set("stunBuildError", Napi::Function::New(env, BuildError, "stunBuildError"));
  obj.Set("stunBuildRequest", Napi::Function::New(env, BuildRequest, "stunBuildRequest"));
}

}  // namespace halfsec
