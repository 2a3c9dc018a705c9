// The OpenSSL library context DTLS runs in: OpenSSL 3.0's default provider, seen through a
// filter that offers only the key decoders a handshake uses. See dtls_libctx.cc for why.
#pragma once
#include <openssl/types.h>

namespace halfsec {
namespace dtls_detail {

// The library context every DtlsIdentity's key, certificate and SSL_CTX are made in, created on
// first use and kept for the life of the process (thread-safe). nullptr if it could not be made:
// callers then use OpenSSL's default context (Node's), which behaves the same, only slower.
// Also nullptr when the default context asks for FIPS ("fips=yes"), so FIPS mode applies to DTLS.
// Node's own context and its defaults are never touched.
OSSL_LIB_CTX* DtlsLibCtx();

// Number of decoders the filtered context offers and the default provider offers (for tests).
struct DtlsLibCtxCounts {
  int decoders_offered = 0;
  int decoders_total = 0;
};
DtlsLibCtxCounts DtlsLibCtxDecoderCounts();

}  // namespace dtls_detail
}  // namespace halfsec
