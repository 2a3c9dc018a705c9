// Test-only bindings for the srtp module (exposed under addon._test).
#include <napi.h>

namespace halfsec {
void RegisterSrtpTestExports(Napi::Env /*env*/, Napi::Object /*obj*/) {}
}  // namespace halfsec
