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

enum SrtpError : int { kSrtpMalformed = -1, kSrtpAuthFail = -2, kSrtpReplay = -3, kSrtpTooManySsrcs = -4 };

struct SrtpStats {
  uint64_t auth_failures = 0;
  uint64_t replays = 0;
  uint64_t malformed = 0;
};

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
  struct Impl;
  Impl* impl_;
};

}  // namespace halfsec
