// HMAC-SHA1 (RFC 2104) with precomputed keyed states for SRTP authentication: keeps the two
// SHA-1 states that follow absorbing key^ipad and key^opad and copies them (plain structs) per
// packet, so authentication allocates nothing. Include only from srtp/.
#pragma once
// The low-level SHA1_* API is deprecated in OpenSSL 3.0 but is the only allocation-free way to
// reuse a keyed HMAC state. The define must precede the translation unit's first OpenSSL include.
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstddef>
#include <cstdint>

namespace halfsec {
namespace srtp_internal {

class HmacSha1 {
 public:
  ~HmacSha1() { Clear(); }
  void Clear() {
    OPENSSL_cleanse(&inner_, sizeof(inner_));
    OPENSSL_cleanse(&outer_, sizeof(outer_));
  }
  bool SetKey(const uint8_t* key, size_t len) {
    if (len > SHA_CBLOCK) return false;
    uint8_t pad[SHA_CBLOCK];
    bool ok = SHA1_Init(&inner_) == 1 && SHA1_Init(&outer_) == 1;
    for (size_t i = 0; i < SHA_CBLOCK; ++i)
      pad[i] = static_cast<uint8_t>((i < len ? key[i] : 0) ^ 0x36);
    ok = ok && SHA1_Update(&inner_, pad, SHA_CBLOCK) == 1;
    for (size_t i = 0; i < SHA_CBLOCK; ++i)
      pad[i] = static_cast<uint8_t>((i < len ? key[i] : 0) ^ 0x5c);
    ok = ok && SHA1_Update(&outer_, pad, SHA_CBLOCK) == 1;
    OPENSSL_cleanse(pad, sizeof(pad));
    return ok;
  }
  // HMAC over d1 || d2, full 20-byte output.
  void Compute(const uint8_t* d1, size_t l1, const uint8_t* d2, size_t l2,
               uint8_t out[SHA_DIGEST_LENGTH]) const {
    SHA_CTX c = inner_;
    SHA1_Update(&c, d1, l1);
    if (l2) SHA1_Update(&c, d2, l2);
    uint8_t inner_hash[SHA_DIGEST_LENGTH];
    SHA1_Final(inner_hash, &c);
    c = outer_;
    SHA1_Update(&c, inner_hash, sizeof(inner_hash));
    SHA1_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof(c));
  }

 private:
  SHA_CTX inner_{};
  SHA_CTX outer_{};
};

}  // namespace srtp_internal
}  // namespace halfsec
