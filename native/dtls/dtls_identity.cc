// DtlsIdentity: the process-wide ECDSA P-256 key, its self-signed certificate and SHA-256
// fingerprint, and the SSL_CTX every DtlsTransport's SSL is made from. See dtls.h.
#include "dtls/dtls.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "dtls/dtls_libctx.h"
#include "dtls/fingerprint.h"
#include "dtls/openssl_errors.h"

namespace halfsec {
using dtls_detail::HexColon;
using dtls_detail::WithErrors;
namespace {

constexpr char kSrtpProfiles[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
constexpr char kCipherList[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";
// Key-exchange groups. (SSL_CTX_set_ecdh_auto is a no-op since OpenSSL 1.1: automatic curve
// selection is always on; this only states the preference order.)
constexpr char kGroups[] = "X25519:P-256:P-384";
// Largest Certificate message accepted from a peer (OpenSSL's default is 100 KiB). libssl
// decodes every certificate in it (~0.3 ms each for P-256 here), so a peer that sent ~100 KiB
// of chain behind its own leaf cost the relay ~50 ms per handshake, 80 times a normal one.
// WebRTC endpoints send one self-signed certificate (0.4-1.5 KiB); 8 KiB leaves room for a leaf
// with an intermediate or two. (DTLS still buffers up to ~18 KiB of a handshake message before
// the size is checked: OpenSSL's floor for any message.)
constexpr long kMaxPeerCertificateBytes = 8 * 1024;

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct X509NameFree {
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// DtlsCertificate

std::unique_ptr<DtlsCertificate> DtlsCertificate::Create(std::string* error) {
  auto fail = [error](const char* what) -> std::unique_ptr<DtlsCertificate> {
    std::string msg = WithErrors(what);
    if (error) *error = msg;
    return nullptr;
  };
  ERR_clear_error();
  // Made in the DTLS library context (dtls_libctx.h), where the SSL_CTX lives too.
  OSSL_LIB_CTX* libctx = dtls_detail::DtlsLibCtx();

  // ECDSA P-256 key.
  EVP_PKEY* raw_key = EVP_PKEY_Q_keygen(libctx, nullptr, "EC", "P-256");
  if (!raw_key) return fail("DTLS identity: EC key generation failed");
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> key(raw_key);

  // Self-signed certificate.
  std::unique_ptr<X509, X509Free> cert(X509_new_ex(libctx, nullptr));
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return fail("DTLS identity: X509_new failed");
  }
  uint8_t serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return fail("DTLS identity: RAND_bytes failed");
  serial_bytes[0] &= 0x7f;  // positive, at most 16 octets
  serial_bytes[0] |= 0x01;  // non-zero top byte: a full 16-octet serial
  std::unique_ptr<BIGNUM, BnFree> serial_bn(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial_bn || !BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert.get()))) {
    return fail("DTLS identity: serial number");
  }
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600)) {
    return fail("DTLS identity: validity");
  }
  std::unique_ptr<X509_NAME, X509NameFree> name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("halfsec"), -1, -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), name.get()) != 1) {
    return fail("DTLS identity: subject name");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return fail("DTLS identity: X509_set_pubkey");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return fail("DTLS identity: X509_sign");

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1 || md_len != 32) {
    return fail("DTLS identity: X509_digest");
  }
  std::unique_ptr<DtlsCertificate> c(new DtlsCertificate());
  c->key_ = key.release();
  c->cert_ = cert.release();
  c->fingerprint_ = HexColon(md, md_len);
  return c;
}

DtlsCertificate::~DtlsCertificate() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

// ---------------------------------------------------------------------------------------------
// DtlsIdentity

std::unique_ptr<DtlsIdentity> DtlsIdentity::Create(std::string* error) {
  auto fail = [error](const char* what) -> std::unique_ptr<DtlsIdentity> {
    std::string msg = WithErrors(what);
    if (error) *error = msg;
    return nullptr;
  };
  std::unique_ptr<DtlsCertificate> own = DtlsCertificate::Create(error);
  if (!own) return nullptr;
  EVP_PKEY* key = own->key();
  X509* cert = own->cert();
  OSSL_LIB_CTX* libctx = dtls_detail::DtlsLibCtx();

  // The SSL_CTX every transport's SSL is made from.
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new_ex(libctx, nullptr, DTLS_method()));
  if (!ctx) return fail("DTLS identity: SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION) != 1) {
    return fail("DTLS identity: protocol version");
  }
  if (SSL_CTX_use_certificate(ctx.get(), cert) != 1 || SSL_CTX_use_PrivateKey(ctx.get(), key) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return fail("DTLS identity: installing certificate and key");
  }
  // Note the inverted convention: 0 means success here.
  if (SSL_CTX_set_tlsext_use_srtp(ctx.get(), kSrtpProfiles) != 0) return fail("DTLS identity: use_srtp");
  if (SSL_CTX_set_cipher_list(ctx.get(), kCipherList) != 1) return fail("DTLS identity: cipher list");
  if (SSL_CTX_set1_groups_list(ctx.get(), kGroups) != 1) return fail("DTLS identity: groups");
  // The peer must present a certificate, and it is checked against the SDP fingerprint only
  // (DtlsTransport::VerifyCertificate): self-signed chains carry no other trust.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx.get(), DtlsTransport::VerifyCertificate, nullptr);
  SSL_CTX_set_max_cert_list(ctx.get(), kMaxPeerCertificateBytes);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_read_ahead(ctx.get(), 0);
  ERR_clear_error();

  std::unique_ptr<DtlsIdentity> id(new DtlsIdentity());
  id->ctx_ = ctx.release();
  id->fingerprint_ = own->fingerprint();
  id->own_ = std::move(own);
  return id;
}

DtlsIdentity::~DtlsIdentity() { SSL_CTX_free(ctx_); }

}  // namespace halfsec
