// The library context DTLS runs in. See dtls_libctx.h.
//
// Why: every handshake parses the peer's certificate (d2i_X509 in libssl), and OpenSSL 3.0 turns
// its SubjectPublicKeyInfo into a key through OSSL_DECODER_CTX_new_for_pkey, which has no cache in
// 3.0: for every certificate it walks every key manager and, several times over (the decoder
// chain is built level by level), every decoder the library context offers, comparing names
// under the name map's lock. With the default provider's ~80 decoders that was 8 % of the
// relay's CPU per join (and as much of the load generator's). A handshake only ever decodes a
// DER SubjectPublicKeyInfo, so DTLS gets its own library context whose one provider forwards
// every operation to the default provider (same code, same provider context, nothing
// reimplemented) except the decoders, of which it offers only those whose input is a DER
// SubjectPublicKeyInfo (of any key type: browsers send ECDSA, some peers RSA or Ed25519), and
// only the key managers of the key types a DTLS 1.2 handshake can meet (the decoder setup walks
// all of them too, for every certificate): certificate keys (RSA, RSA-PSS, EC, Ed25519, Ed448),
// key exchange (X25519, X448, EC, DH) and HMAC; not DSA, SM2, or the MAC and KDF wrappers.
// Certificates are still decoded in full for every handshake, so each peer's fresh certificate
// is checked as before; only the search through decoders that could never apply is gone.
//
// Node's own OpenSSL context (the default one) keeps its providers and settings: this context
// is separate, made once and kept for the life of the process (it is never freed: OpenSSL's own
// exit handler may run before static destructors, and a handshake may still run on a worker
// while the process exits).
#include "dtls/dtls_libctx.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <cstring>
#include <mutex>
#include <vector>

namespace halfsec {
namespace dtls_detail {
namespace {

constexpr char kProviderName[] = "halfsec-dtls";

struct State {
  OSSL_LIB_CTX* backing = nullptr;    // holds the real default provider
  OSSL_PROVIDER* fallback = nullptr;  // the default provider in `backing`
  OSSL_LIB_CTX* dtls = nullptr;       // holds only the filtering provider
  std::vector<OSSL_ALGORITHM> decoders;  // the kept decoders, ends with an all-null entry
  std::vector<OSSL_ALGORITHM> keymgmt;   // the kept key managers, likewise
  int decoders_total = 0;
};
State g_state;
std::once_flag g_once;

// A decoder is kept if it reads DER (input=der) and its structure is SubjectPublicKeyInfo: the
// type-specific key decoders and the generic SubjectPublicKeyInfo-to-type step are both so.
bool Keep(const OSSL_ALGORITHM& a) {
  const char* p = a.property_definition;
  return p && std::strstr(p, "input=der") && std::strstr(p, "structure=SubjectPublicKeyInfo");
}

// A key manager is kept if its first name is one of these.
bool KeepKeyManager(const OSSL_ALGORITHM& a) {
  static constexpr const char* kKept[] = {"RSA", "RSA-PSS", "EC", "X25519", "X448", "ED25519", "ED448", "DH", "HMAC"};
  const char* names = a.algorithm_names;
  if (!names) return false;
  const char* end = std::strchr(names, ':');
  const size_t len = end ? static_cast<size_t>(end - names) : std::strlen(names);
  for (const char* k : kKept) {
    if (std::strlen(k) == len && std::strncmp(k, names, len) == 0) return true;
  }
  return false;
}

// The entries of the default provider's table for `operation_id` that `keep` accepts, ending with
// an all-null entry; *total counts them all. (The tables are static in the default provider.)
std::vector<OSSL_ALGORITHM> Filtered(OSSL_PROVIDER* prov, int operation_id, bool (*keep)(const OSSL_ALGORITHM&),
                                     int* total) {
  std::vector<OSSL_ALGORITHM> out;
  int no_cache = 0;
  const OSSL_ALGORITHM* all = OSSL_PROVIDER_query_operation(prov, operation_id, &no_cache);
  for (const OSSL_ALGORITHM* a = all; a && a->algorithm_names; ++a) {
    if (total) ++*total;
    if (keep(*a)) out.push_back(*a);
  }
  out.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
  if (all) OSSL_PROVIDER_unquery_operation(prov, operation_id, all);
  return out;
}

// ---- the filtering provider: every entry point forwards to the default provider ----

const OSSL_ALGORITHM* Query(void* /*provctx*/, int operation_id, int* no_cache) {
  if (operation_id == OSSL_OP_DECODER) {
    *no_cache = 0;
    return g_state.decoders.data();
  }
  if (operation_id == OSSL_OP_KEYMGMT) {
    *no_cache = 0;
    return g_state.keymgmt.data();
  }
  return OSSL_PROVIDER_query_operation(g_state.fallback, operation_id, no_cache);
}
void Unquery(void* /*provctx*/, int operation_id, const OSSL_ALGORITHM* algs) {
  if (operation_id != OSSL_OP_DECODER && operation_id != OSSL_OP_KEYMGMT) {
    OSSL_PROVIDER_unquery_operation(g_state.fallback, operation_id, algs);
  }
}
const OSSL_PARAM* GettableParams(void* /*provctx*/) { return OSSL_PROVIDER_gettable_params(g_state.fallback); }
int GetParams(void* /*provctx*/, OSSL_PARAM params[]) { return OSSL_PROVIDER_get_params(g_state.fallback, params); }
// libssl learns the key-exchange groups (TLS-GROUP) from here.
int GetCapabilities(void* /*provctx*/, const char* capability, OSSL_CALLBACK* cb, void* arg) {
  return OSSL_PROVIDER_get_capabilities(g_state.fallback, capability, cb, arg);
}
void Teardown(void* /*provctx*/) {}  // the default provider's context belongs to `backing`

using Fn = void (*)();
const OSSL_DISPATCH kDispatch[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<Fn>(Teardown)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<Fn>(GettableParams)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<Fn>(GetParams)},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<Fn>(Query)},
    {OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, reinterpret_cast<Fn>(Unquery)},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, reinterpret_cast<Fn>(GetCapabilities)},
    {0, nullptr},
};

// The provider's context is the default provider's own: the algorithms it hands out are the
// default provider's, and they expect that context (its library context for nested fetches,
// its entropy and BIO up-calls).
int Init(const OSSL_CORE_HANDLE* /*handle*/, const OSSL_DISPATCH* /*in*/, const OSSL_DISPATCH** out,
         void** provctx) {
  *provctx = OSSL_PROVIDER_get0_provider_ctx(g_state.fallback);
  *out = kDispatch;
  return 1;
}

void Create() {
  // A process in FIPS mode (node --enable-fips / --force-fips: "fips=yes" in the default
  // context's properties) keeps DTLS in that context, so its crypto stays the FIPS provider's;
  // this context would load the default provider without saying so.
  if (EVP_default_properties_is_fips_enabled(nullptr)) return;
  State s;
  s.backing = OSSL_LIB_CTX_new();
  if (!s.backing) return;
  s.fallback = OSSL_PROVIDER_load(s.backing, "default");
  if (!s.fallback) {
    OSSL_LIB_CTX_free(s.backing);
    return;
  }
  s.decoders = Filtered(s.fallback, OSSL_OP_DECODER, Keep, &s.decoders_total);
  s.keymgmt = Filtered(s.fallback, OSSL_OP_KEYMGMT, KeepKeyManager, nullptr);
  if (s.decoders.size() < 2 || s.keymgmt.size() < 2) {  // not the provider we know
    OSSL_PROVIDER_unload(s.fallback);
    OSSL_LIB_CTX_free(s.backing);
    return;
  }
  g_state = std::move(s);  // Init reads g_state.fallback
  OSSL_LIB_CTX* dtls = OSSL_LIB_CTX_new();
  if (!dtls || OSSL_PROVIDER_add_builtin(dtls, kProviderName, Init) != 1 ||
      !OSSL_PROVIDER_load(dtls, kProviderName)) {
    if (dtls) OSSL_LIB_CTX_free(dtls);
    ERR_clear_error();
    return;  // g_state.dtls stays null: callers use the default context
  }
  g_state.dtls = dtls;
  ERR_clear_error();
}

}  // namespace

OSSL_LIB_CTX* DtlsLibCtx() {
  std::call_once(g_once, Create);
  return g_state.dtls;
}

DtlsLibCtxCounts DtlsLibCtxDecoderCounts() {
  DtlsLibCtxCounts c;
  OSSL_LIB_CTX* ctx = DtlsLibCtx();
  if (!ctx) return c;
  c.decoders_total = g_state.decoders_total;
  OSSL_DECODER_do_all_provided(
      ctx, [](OSSL_DECODER*, void* arg) { ++*static_cast<int*>(arg); }, &c.decoders_offered);
  return c;
}

}  // namespace dtls_detail
}  // namespace halfsec
