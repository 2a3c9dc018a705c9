// SRTP/SRTCP (RFC 3711, RFC 7714) for one direction of one DTLS-SRTP association.
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

// Values are the DTLS-SRTP protection profile ids (RFC 5764, RFC 7714).
enum class SrtpProfile : uint16_t { kAes128CmSha1_80 = 0x0001, kAeadAes128Gcm = 0x0007 };

// Most bytes Protect* may add: SRTCP with GCM adds a 16-byte tag and a 4-byte index.
constexpr size_t kSrtpMaxTrailer = 20;

size_t SrtpMasterKeyLen(SrtpProfile p);   // 16 for both
size_t SrtpMasterSaltLen(SrtpProfile p);  // 14 for AES-CM, 12 for GCM

// kSrtpIndexExhausted: the send side ran out of SRTCP indexes (2^31 per SSRC, RFC 3711 §9.2):
// an index is never reused under one key, so the session has to end (or rekey).
enum SrtpError : int { kSrtpMalformed = -1, kSrtpAuthFail = -2, kSrtpReplay = -3, kSrtpTooManySsrcs = -4, kSrtpIndexExhausted = -5 };

struct SrtpStats {
  uint64_t auth_failures = 0;
  uint64_t replays = 0;
  uint64_t malformed = 0;
};

class SrtpContext;

// Test-only hooks (defined in srtp_context.cc and srtp_kdf.cc, used by test_srtp.cc for the
// published test vectors). Not part of the data-plane API.
namespace srtp_test {
// RFC 3711 4.3 AES-CM PRF with key derivation rate 0: `out_len` bytes for `label`. `salt_len` is
// 14, or 12 for a GCM master salt (used as salt * 2^16, RFC 7714 errata 4938).
bool DeriveKey(const uint8_t* master_key, const uint8_t* master_salt, size_t salt_len,
               uint8_t label, uint8_t* out, size_t out_len);
// Installs session keys directly (no KDF), the same for SRTP and SRTCP. `salt` is 14 bytes for
// AES-CM (then `auth_key` is 20 bytes) or 12 for GCM (then `auth_key` is ignored).
bool InitWithSessionKeys(SrtpContext& ctx, SrtpProfile profile, const uint8_t* key,
                         const uint8_t* salt, const uint8_t* auth_key);
// Moves the SRTCP send index of `ssrc` (sending one packet first creates its state).
bool SetRtcpSendIndex(SrtpContext& ctx, uint32_t ssrc, uint32_t next_index);
}  // namespace srtp_test

class SrtpContext {
 public:
  SrtpContext();
  ~SrtpContext();
  SrtpContext(const SrtpContext&) = delete;
  SrtpContext& operator=(const SrtpContext&) = delete;

  // Derives the session keys (RFC 3711 4.3, key derivation rate 0). False on a bad profile or
  // an OpenSSL failure.
  bool Init(SrtpProfile profile, const uint8_t* master_key, const uint8_t* master_salt);
  bool ready() const;

  // In place; `buf` must have room for len + kSrtpMaxTrailer bytes. New length, or SrtpError.
  int ProtectRtp(uint8_t* buf, size_t len);
  int ProtectRtcp(uint8_t* buf, size_t len);
  // In place. Plaintext length, or SrtpError. Replayed and unauthenticated packets are rejected.
  int UnprotectRtp(uint8_t* buf, size_t len);
  int UnprotectRtcp(uint8_t* buf, size_t len);

  const SrtpStats& stats() const;

 private:
  friend bool srtp_test::InitWithSessionKeys(SrtpContext&, SrtpProfile, const uint8_t*,
                                             const uint8_t*, const uint8_t*);
  friend bool srtp_test::SetRtcpSendIndex(SrtpContext&, uint32_t, uint32_t);
  struct Impl;
  Impl* impl_;
};

}  // namespace halfsec
