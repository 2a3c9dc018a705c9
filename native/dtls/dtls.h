// DTLS 1.2 with the use_srtp extension (RFC 5764) over memory I/O, on Node's own OpenSSL.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "srtp/srtp.h"

namespace halfsec {

// RFC 7983 demultiplexing: a DTLS record starts with a content type in 20..63.
inline bool LooksLikeDtls(const uint8_t* d, size_t n) { return n >= 13 && d[0] >= 20 && d[0] <= 63; }

// An ECDSA P-256 key and a self-signed certificate for it (made in the DTLS library context),
// with its SHA-256 fingerprint. A DtlsIdentity presents one; a transport may present its own
// instead (DtlsTransport::UseCertificate), as each browser peer connection brings a fresh one.
class DtlsCertificate {
 public:
  static std::unique_ptr<DtlsCertificate> Create(std::string* error);
  ~DtlsCertificate();
  DtlsCertificate(const DtlsCertificate&) = delete;
  DtlsCertificate& operator=(const DtlsCertificate&) = delete;
  // "AB:CD:...", upper-case hex, as SDP writes it.
  const std::string& fingerprint() const { return fingerprint_; }
  EVP_PKEY* key() const { return key_; }
  X509* cert() const { return cert_; }

 private:
  DtlsCertificate() = default;
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string fingerprint_;
};

// Process-wide identity: an ECDSA P-256 key, a self-signed certificate made at start, and the
// SSL_CTX every peer's SSL is made from (shared by all workers; OpenSSL allows that). All three
// live in the DTLS library context (dtls_libctx.h), not Node's default one.
class DtlsIdentity {
 public:
  static std::unique_ptr<DtlsIdentity> Create(std::string* error);
  ~DtlsIdentity();
  // SHA-256 fingerprint of the certificate as SDP writes it: "AB:CD:...", upper-case hex.
  const std::string& fingerprint() const { return fingerprint_; }
  SSL_CTX* ctx() const { return ctx_; }

 private:
  DtlsIdentity() = default;
  SSL_CTX* ctx_ = nullptr;
  std::unique_ptr<DtlsCertificate> own_;  // the key and certificate ctx_ presents
  std::string fingerprint_;
};

enum class DtlsRole { kServer, kClient };
enum class DtlsState { kNew, kConnecting, kConnected, kFailed, kClosed };

struct SrtpKeyMaterial {
  SrtpProfile profile = SrtpProfile::kAes128CmSha1_80;
  uint8_t local_key[16] = {};
  uint8_t local_salt[14] = {};
  uint8_t remote_key[16] = {};
  uint8_t remote_salt[14] = {};
};

class DtlsTransport {
 public:
  // Called for every datagram DTLS wants sent (one call, one datagram).
  using SendFn = std::function<void(const uint8_t* data, size_t len)>;

  // `fingerprint_algorithm` and `fingerprint` come from the remote SDP's a=fingerprint line
  // ("sha-256", "AB:CD:..."); the peer's certificate must match or the transport fails.
  DtlsTransport(const DtlsIdentity& identity, DtlsRole role, std::string fingerprint_algorithm,
                std::string fingerprint, SendFn send);
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // Client: sends the ClientHello. Server: waits for one.
  void Start();
  // One received DTLS datagram. Returns the state after it.
  DtlsState OnDatagram(const uint8_t* data, size_t len);
  // Retransmission timers; call when TimeoutMs() has elapsed (or more often).
  void OnTimer();
  // Milliseconds until OnTimer is due, or -1 when no timer runs.
  int TimeoutMs() const;
  // Sends close_notify and moves to kClosed.
  void Close();

  DtlsState state() const { return state_; }
  const std::string& error() const { return error_; }
  // Valid once connected: the negotiated profile and keys from SSL_export_keying_material.
  bool GetSrtpKeys(SrtpKeyMaterial* out) const;
  // True once the SSL was freed after the handshake (the default): from then on the transport
  // keeps only the SRTP keys, its last flight (resent when the peer retransmits, RFC 6347
  // 4.2.4), its own close_notify, and the peer's AEAD read key to authenticate alerts.
  bool released() const;
  // Keeps the whole SSL for the session instead (call before Start; for memory comparisons).
  void KeepSslAfterHandshake();
  // Presents `certificate` (and proves its key) instead of the identity's; call before Start.
  // The transport keeps its own references. False if OpenSSL refuses it (do not Start then).
  bool UseCertificate(const DtlsCertificate& certificate);

  // The SSL_CTX's certificate-verification callback (SSL_CTX_set_cert_verify_callback, set by
  // DtlsIdentity): accepts the peer's certificate iff its digest is the SDP fingerprint the
  // transport was given; 1 = accept, 0 = reject (bad_certificate alert).
  static int VerifyCertificate(X509_STORE_CTX* store, void* arg);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DtlsState state_ = DtlsState::kNew;
  std::string error_;
};

}  // namespace halfsec
