// Test-only bindings for the stun module (exposed under addon._test).
#include <napi.h>

namespace halfsec {
void RegisterStunTestExports(Napi::Env /*env*/, Napi::Object /*obj*/) {}
}  // namespace halfsec
