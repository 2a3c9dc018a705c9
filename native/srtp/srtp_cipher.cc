// AES primitives for SRTP over a reused, already keyed EVP_CIPHER_CTX: AES-CTR keystream XOR
// (AES-CM, RFC 3711 4.1.1) and AES-GCM seal/open (RFC 7714). A packet only resets the IV.
#include <openssl/evp.h>

#include <cstring>

#include "srtp/srtp_internal.h"

namespace halfsec {
namespace srtp_internal {

// AES-CTR: XORs the keystream starting at counter block `iv` into data (in place).
bool CtrXor(EVP_CIPHER_CTX* c, const uint8_t iv[16], uint8_t* data, size_t len) {
  if (c == nullptr) return false;  // a lazily keyed context that could not be made
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, iv) != 1) return false;
  if (len == 0) return true;
  int outl = 0;
  return EVP_EncryptUpdate(c, data, &outl, data, static_cast<int>(len)) == 1 &&
         outl == static_cast<int>(len);
}

// AES-GCM encryption in place with AAD = aad1 || aad2; writes the 16-byte tag.
bool GcmSeal(EVP_CIPHER_CTX* c, const uint8_t iv[12], const uint8_t* aad1, size_t aad1_len,
             const uint8_t* aad2, size_t aad2_len, uint8_t* data, size_t len, uint8_t* tag) {
  if (c == nullptr) return false;
  int outl = 0;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv, 1) != 1) return false;
  if (aad1_len && EVP_EncryptUpdate(c, nullptr, &outl, aad1, static_cast<int>(aad1_len)) != 1)
    return false;
  if (aad2_len && EVP_EncryptUpdate(c, nullptr, &outl, aad2, static_cast<int>(aad2_len)) != 1)
    return false;
  if (len && (EVP_EncryptUpdate(c, data, &outl, data, static_cast<int>(len)) != 1 ||
              outl != static_cast<int>(len)))
    return false;
  uint8_t scratch[16];
  if (EVP_EncryptFinal_ex(c, scratch, &outl) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagLen), tag) == 1;
}

// AES-GCM decryption in place; false if the tag does not verify (OpenSSL compares it in
// constant time). On failure the data bytes are left decrypted-but-unauthenticated garbage.
bool GcmOpen(EVP_CIPHER_CTX* c, const uint8_t iv[12], const uint8_t* aad1, size_t aad1_len,
             const uint8_t* aad2, size_t aad2_len, uint8_t* data, size_t len,
             const uint8_t* tag) {
  if (c == nullptr) return false;
  int outl = 0;
  uint8_t tag_copy[kGcmTagLen];
  std::memcpy(tag_copy, tag, kGcmTagLen);
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv, 0) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagLen), tag_copy) != 1)
    return false;
  if (aad1_len && EVP_DecryptUpdate(c, nullptr, &outl, aad1, static_cast<int>(aad1_len)) != 1)
    return false;
  if (aad2_len && EVP_DecryptUpdate(c, nullptr, &outl, aad2, static_cast<int>(aad2_len)) != 1)
    return false;
  if (len && (EVP_DecryptUpdate(c, data, &outl, data, static_cast<int>(len)) != 1 ||
              outl != static_cast<int>(len)))
    return false;
  uint8_t scratch[16];
  return EVP_DecryptFinal_ex(c, scratch, &outl) == 1;
}

CipherCtxPtr NewCtrContext(const uint8_t key[kKeyLen]) {
  CipherCtxPtr c(EVP_CIPHER_CTX_new());
  if (!c) return nullptr;
  static const uint8_t kZeroIv[16] = {};
  if (EVP_EncryptInit_ex(c.get(), EVP_aes_128_ctr(), nullptr, key, kZeroIv) != 1) return nullptr;
  return c;
}

CipherCtxPtr NewGcmContext(const uint8_t key[kKeyLen]) {
  CipherCtxPtr c(EVP_CIPHER_CTX_new());
  if (!c) return nullptr;
  if (EVP_EncryptInit_ex(c.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1)
    return nullptr;
  if (EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmSaltLen),
                          nullptr) != 1)
    return nullptr;
  if (EVP_EncryptInit_ex(c.get(), nullptr, nullptr, key, nullptr) != 1) return nullptr;
  return c;
}

}  // namespace srtp_internal
}  // namespace halfsec
