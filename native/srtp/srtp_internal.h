// SRTP internals shared by srtp_context.cc (SrtpContext), srtp_cipher.cc (AES primitives) and
// srtp_kdf.cc (RFC 3711 4.3 key derivation): sizes, labels, byte loads, the cipher helpers.
// Not part of the data-plane API; include only from srtp/.
#pragma once
#include <openssl/evp.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "srtp/srtp.h"

namespace halfsec {
namespace srtp_internal {

constexpr size_t kKeyLen = 16;
constexpr size_t kCmSaltLen = 14;
constexpr size_t kGcmSaltLen = 12;
constexpr size_t kAuthKeyLen = 20;
constexpr size_t kHmacTagLen = 10;
constexpr size_t kGcmTagLen = 16;
constexpr size_t kRtpHeaderLen = 12;
constexpr size_t kRtcpHeaderLen = 8;
constexpr size_t kSrtcpIndexLen = 4;
constexpr size_t kMaxSsrcs = 64;
constexpr uint32_t kEFlag = 0x80000000u;
constexpr uint32_t kSrtcpIndexMask = 0x7fffffffu;
constexpr uint64_t kMaxRoc = 0xffffffffu;
// Replay windows, in packets. 1024 for RTP (video retransmissions arrive late), 128 for SRTCP.
constexpr size_t kRtpWindow = 1024;
constexpr size_t kRtcpWindow = 128;
// Largest input length accepted, so that length + trailer always fits an int.
constexpr size_t kMaxPacketLen = static_cast<size_t>(INT_MAX) - kSrtpMaxTrailer;

enum Label : uint8_t {
  kLabelRtpEncryption = 0,
  kLabelRtpAuth = 1,
  kLabelRtpSalt = 2,
  kLabelRtcpEncryption = 3,
  kLabelRtcpAuth = 4,
  kLabelRtcpSalt = 5,
};

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

inline uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Load32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}
inline void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// ---- AES primitives over a reused, already keyed context (srtp_cipher.cc) ----

// AES-CTR: XORs the keystream starting at counter block `iv` into data (in place).
bool CtrXor(EVP_CIPHER_CTX* c, const uint8_t iv[16], uint8_t* data, size_t len);
// AES-GCM encryption in place with AAD = aad1 || aad2; writes the 16-byte tag.
bool GcmSeal(EVP_CIPHER_CTX* c, const uint8_t iv[12], const uint8_t* aad1, size_t aad1_len,
             const uint8_t* aad2, size_t aad2_len, uint8_t* data, size_t len, uint8_t* tag);
// AES-GCM decryption in place; false if the tag does not verify.
bool GcmOpen(EVP_CIPHER_CTX* c, const uint8_t iv[12], const uint8_t* aad1, size_t aad1_len,
             const uint8_t* aad2, size_t aad2_len, uint8_t* data, size_t len,
             const uint8_t* tag);
CipherCtxPtr NewCtrContext(const uint8_t key[kKeyLen]);
CipherCtxPtr NewGcmContext(const uint8_t key[kKeyLen]);

// ---- Key derivation (srtp_kdf.cc) ----

// RFC 3711 4.3 AES-CM PRF, key derivation rate 0.
bool Kdf(const uint8_t* master_key, const uint8_t* master_salt, size_t salt_len, uint8_t label,
         uint8_t* out, size_t out_len);

}  // namespace srtp_internal
}  // namespace halfsec
