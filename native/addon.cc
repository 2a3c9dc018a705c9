// Module entry: the Engine class and the test-only exports.
#include <napi.h>

namespace halfsec {
void RegisterSrtpTestExports(Napi::Env env, Napi::Object obj);
void RegisterStunTestExports(Napi::Env env, Napi::Object obj);
void RegisterDtlsTestExports(Napi::Env env, Napi::Object obj);
}  // namespace halfsec

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Object test = Napi::Object::New(env);
  halfsec::RegisterSrtpTestExports(env, test);
  halfsec::RegisterStunTestExports(env, test);
  halfsec::RegisterDtlsTestExports(env, test);
  exports.Set("_test", test);
  return exports;
}

NODE_API_MODULE(halfsec, Init)
