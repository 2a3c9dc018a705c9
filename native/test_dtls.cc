// Test-only bindings for the dtls module (exposed under addon._test).
#include <napi.h>

namespace halfsec {
void RegisterDtlsTestExports(Napi::Env /*env*/, Napi::Object /*obj*/) {}
}  // namespace halfsec
