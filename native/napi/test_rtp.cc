// Test-only bindings for RTP parsing, header extensions and keyframe detection.
#include <napi.h>

#include "rtp/keyframe.h"
#include "rtp/rtp.h"

namespace halfsec {

namespace {

Napi::Value Fail(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// rtpFindExtension(packet, id) -> Buffer | null (null also for a malformed packet)
Napi::Value FindExtension(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer() || !info[1].IsNumber()) return Fail(env, "rtpFindExtension(packet, id)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  RtpHeader h;
  if (!ParseRtp(buf.Data(), buf.Length(), &h)) return env.Null();
  const uint8_t* v;
  size_t len;
  if (!FindRtpExtension(buf.Data(), h, static_cast<uint8_t>(info[1].As<Napi::Number>().Uint32Value()), &v, &len)) {
    return env.Null();
  }
  return Napi::Buffer<uint8_t>::Copy(env, v, len);
}

// rtpIsKeyframe(codecId, payload) -> boolean
Napi::Value IsKeyframe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsBuffer()) return Fail(env, "rtpIsKeyframe(codecId, payload)");
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  const auto codec = static_cast<Codec>(info[0].As<Napi::Number>().Uint32Value());
  return Napi::Boolean::New(env, IsKeyframeStart(codec, buf.Data(), buf.Length()));
}

// rtpRewrite(packet, ssrc, pt, seq, ts) -> Buffer (extension stripped) | null
Napi::Value Rewrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) return Fail(env, "rtpRewrite(packet, ssrc, pt, seq, ts)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  RtpHeader h;
  if (!ParseRtp(buf.Data(), buf.Length(), &h)) return env.Null();
  std::vector<uint8_t> out(buf.Length());
  const size_t n = RewriteRtp(buf.Data(), buf.Length(), h, out.data(), info[1].As<Napi::Number>().Uint32Value(),
                              static_cast<uint8_t>(info[2].As<Napi::Number>().Uint32Value()),
                              static_cast<uint16_t>(info[3].As<Napi::Number>().Uint32Value()),
                              info[4].As<Napi::Number>().Uint32Value());
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), n);
}

}  // namespace

void RegisterRtpTestExports(Napi::Env env, Napi::Object obj) {
  obj.Set("rtpFindExtension", Napi::Function::New(env, FindExtension));
  obj.Set("rtpIsKeyframe", Napi::Function::New(env, IsKeyframe));
  obj.Set("rtpRewrite", Napi::Function::New(env, Rewrite));
}

}  // namespace halfsec
