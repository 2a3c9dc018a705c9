// SRTP key derivation (RFC 3711 4.3, key derivation rate 0; RFC 7714 11 for GCM salts).
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "srtp/srtp_internal.h"

namespace halfsec {
namespace srtp_internal {

// RFC 3711 4.3.1/4.3.3 with kdr = 0: x = label<<48 XOR master_salt, keystream of AES-CM(x*2^16).
// A 12-byte GCM master salt is first multiplied by 2^16 (RFC 7714 11, errata 4938).
bool Kdf(const uint8_t* master_key, const uint8_t* master_salt, size_t salt_len, uint8_t label,
         uint8_t* out, size_t out_len) {
  if (salt_len > kCmSaltLen || out_len > 1024) return false;
  uint8_t iv[16] = {};
  std::memcpy(iv, master_salt, salt_len);
  iv[7] ^= label;
  CipherCtxPtr c = NewCtrContext(master_key);
  if (!c) return false;
  std::memset(out, 0, out_len);
  bool ok = CtrXor(c.get(), iv, out, out_len);
  OPENSSL_cleanse(iv, sizeof(iv));
  return ok;
}

}  // namespace srtp_internal

using srtp_internal::Kdf;

// ---- Test-only hook ----

namespace srtp_test {

bool DeriveKey(const uint8_t* master_key, const uint8_t* master_salt, size_t salt_len,
               uint8_t label, uint8_t* out, size_t out_len) {
  return Kdf(master_key, master_salt, salt_len, label, out, out_len);
}

}  // namespace srtp_test
}  // namespace halfsec
