// See dtls_read_key.h.
#include "dtls/dtls_read_key.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>

namespace halfsec {
namespace {
constexpr size_t kRecordHeader = 13;
constexpr size_t kTag = 16;
constexpr uint8_t kContentAlert = 21;
constexpr uint8_t kContentHandshake = 22;
}  // namespace

DtlsReadKey::~DtlsReadKey() {
  OPENSSL_cleanse(key_, sizeof key_);
  OPENSSL_cleanse(iv_, sizeof iv_);
}

bool DtlsReadKey::Derive(SSL* ssl, bool peer_is_client) {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  const SSL_SESSION* sess = SSL_get_session(ssl);
  if (!c || !sess) return false;
  size_t key_len = 0, iv_len = 0;
  switch (SSL_CIPHER_get_cipher_nid(c)) {
    case NID_aes_128_gcm:
      cipher_ = EVP_aes_128_gcm(), key_len = 16, iv_len = 4;
      break;
    case NID_aes_256_gcm:
      cipher_ = EVP_aes_256_gcm(), key_len = 32, iv_len = 4;
      break;
    case NID_chacha20_poly1305:
      cipher_ = EVP_chacha20_poly1305(), key_len = 32, iv_len = 12, chacha_ = true;
      break;
    default:
      return false;  // the identity's cipher list allows only the three above
  }
  const EVP_MD* md = SSL_CIPHER_get_handshake_digest(c);
  uint8_t master[SSL_MAX_MASTER_KEY_LENGTH];
  const size_t master_len = SSL_SESSION_get_master_key(sess, master, sizeof master);
  // seed = "key expansion" + server_random + client_random (RFC 5246 6.3).
  uint8_t seed[13 + 2 * SSL3_RANDOM_SIZE];
  std::memcpy(seed, "key expansion", 13);
  if (!md || master_len == 0 || SSL_get_server_random(ssl, seed + 13, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE ||
      SSL_get_client_random(ssl, seed + 13 + SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE) {
    OPENSSL_cleanse(master, sizeof master);
    return false;
  }
  uint8_t block[2 * 32 + 2 * 12];
  const size_t block_len = 2 * (key_len + iv_len);  // AEAD suites have no MAC keys
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
  EVP_KDF_CTX* kctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, master_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
      OSSL_PARAM_construct_end(),
  };
  const bool ok = kctx && EVP_KDF_derive(kctx, block, block_len, params) == 1;
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  OPENSSL_cleanse(master, sizeof master);
  if (ok) {
    // client_write_key | server_write_key | client_write_IV | server_write_IV.
    std::memcpy(key_, block + (peer_is_client ? 0 : key_len), key_len);
    std::memcpy(iv_, block + 2 * key_len + (peer_is_client ? 0 : iv_len), iv_len);
  } else {
    cipher_ = nullptr;
  }
  OPENSSL_cleanse(block, sizeof block);
  ERR_clear_error();
  return ok;
}

// One epoch-1 alert record: nonce per RFC 5288 3 (implicit salt + explicit 8 bytes) or RFC 7905
// 2 (IV xor sequence number), additional data per RFC 6347 4.1.2.1 (RFC 5246 6.2.3.3).
bool DtlsReadKey::OpenAlert(const uint8_t* rec, size_t frag_len, uint8_t plain[2]) const {
  const size_t explicit_len = chacha_ ? 0 : 8;
  if (!cipher_ || frag_len != explicit_len + 2 + kTag) return false;
  const uint8_t* frag = rec + kRecordHeader;
  uint8_t nonce[12];
  if (chacha_) {
    std::memcpy(nonce, iv_, 12);
    for (int i = 0; i < 8; i++) nonce[4 + i] ^= rec[3 + i];  // epoch | sequence number
  } else {
    std::memcpy(nonce, iv_, 4);
    std::memcpy(nonce + 4, frag, 8);
  }
  // epoch | sequence number | type | version | plaintext length (2)
  const uint8_t aad[13] = {rec[3], rec[4], rec[5], rec[6], rec[7], rec[8], rec[9], rec[10], rec[0], rec[1], rec[2], 0, 2};
  uint8_t tag[kTag];
  std::memcpy(tag, frag + explicit_len + 2, kTag);
  uint8_t out[2 + 16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, fin = 0;
  const bool ok = ctx && EVP_DecryptInit_ex(ctx, cipher_, nullptr, nullptr, nullptr) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1 &&
                  EVP_DecryptInit_ex(ctx, nullptr, nullptr, key_, nonce) == 1 &&
                  EVP_DecryptUpdate(ctx, nullptr, &n, aad, sizeof aad) == 1 &&
                  EVP_DecryptUpdate(ctx, out, &n, frag + explicit_len, 2) == 1 && n == 2 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, tag) == 1 &&
                  EVP_DecryptFinal_ex(ctx, out + n, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  ERR_clear_error();
  if (ok) std::memcpy(plain, out, 2);
  OPENSSL_cleanse(out, sizeof out);
  return ok;
}

DtlsRecordScan DtlsReadKey::Scan(const uint8_t* d, size_t len) const {
  DtlsRecordScan scan;
  for (size_t off = 0; d && off + kRecordHeader <= len;) {
    const uint8_t* rec = d + off;
    const size_t frag_len = (size_t{rec[11]} << 8) | rec[12];
    if (frag_len > len - off - kRecordHeader) break;
    const unsigned epoch = (unsigned{rec[3]} << 8) | rec[4];
    if (rec[0] == kContentHandshake) scan.handshake = true;
    uint8_t plain[2];
    if (rec[0] == kContentAlert && epoch == 1 && OpenAlert(rec, frag_len, plain) &&
        (plain[1] == 0 /* close_notify */ || plain[0] == 2 /* fatal */)) {
      scan.closed = true;
      return scan;
    }
    off += kRecordHeader + frag_len;
  }
  return scan;
}

}  // namespace halfsec
