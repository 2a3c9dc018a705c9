// The peer's DTLS 1.2 epoch-1 read key, kept after the SSL is freed (see dtls_released.h) so that
// a later alert is believed only if it authenticates.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>

namespace halfsec {

// What one received datagram held, records scanned in order (RFC 6347 4.1).
struct DtlsRecordScan {
  bool handshake = false;  // a handshake record: the peer retransmits its last flight
  bool closed = false;     // an authenticated close_notify or fatal alert
};

class DtlsReadKey {
 public:
  DtlsReadKey() = default;
  ~DtlsReadKey();
  DtlsReadKey(const DtlsReadKey&) = delete;
  DtlsReadKey& operator=(const DtlsReadKey&) = delete;

  // From a connected SSL: the TLS 1.2 key block (RFC 5246 6.3) cut for the negotiated AEAD suite
  // (AES-128/256-GCM, RFC 5288; ChaCha20-Poly1305, RFC 7905), keeping the peer's write key and
  // IV. `peer_is_client`: we are the DTLS server. False for any other suite or on failure.
  bool Derive(SSL* ssl, bool peer_is_client);
  // Walks the records of one datagram (bounded by its length). Alerts count only in epoch 1,
  // with a valid AEAD tag; plaintext and forged ones are ignored.
  DtlsRecordScan Scan(const uint8_t* d, size_t len) const;

 private:
  bool OpenAlert(const uint8_t* rec, size_t frag_len, uint8_t plain[2]) const;

  const EVP_CIPHER* cipher_ = nullptr;
  bool chacha_ = false;
  uint8_t key_[32] = {};
  uint8_t iv_[12] = {};  // GCM: the 4-byte implicit part; ChaCha20-Poly1305: all 12 bytes
};

}  // namespace halfsec
