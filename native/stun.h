// STUN (RFC 5389) as ICE needs it (RFC 8445): parsing, integrity, fingerprint, builders.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace halfsec {

constexpr uint32_t kStunMagicCookie = 0x2112A442;
constexpr uint16_t kStunBindingRequest = 0x0001;
constexpr uint16_t kStunBindingSuccess = 0x0101;
constexpr uint16_t kStunBindingError = 0x0111;
constexpr uint16_t kStunBindingIndication = 0x0011;

// Cheap demultiplexing test (RFC 7983): first byte 0..3, magic cookie, length multiple of 4.
bool LooksLikeStun(const uint8_t* data, size_t len);

struct StunMessage {
  uint16_t type = 0;
  uint8_t transaction_id[12] = {};
  std::string_view username;  // points into the parsed buffer
  bool has_integrity = false;
  bool has_fingerprint = false;
  bool use_candidate = false;
  bool has_ice_controlling = false;
  bool has_ice_controlled = false;
  uint64_t tie_breaker = 0;
  uint32_t priority = 0;
  uint16_t error_code = 0;  // from ERROR-CODE in error responses (e.g. 487)
  bool has_xor_mapped = false;
  sockaddr_storage xor_mapped = {};  // XOR-MAPPED-ADDRESS in responses
  size_t integrity_offset = 0;        // offset of the MESSAGE-INTEGRITY attribute header
  size_t fingerprint_offset = 0;      // offset of the FINGERPRINT attribute header
};

// Bounds-checked parse of a whole datagram. False on anything malformed.
bool ParseStun(const uint8_t* data, size_t len, StunMessage* out);
// MESSAGE-INTEGRITY (HMAC-SHA1) with a short-term credential key (the password).
bool VerifyStunIntegrity(const uint8_t* data, size_t len, const StunMessage& msg, std::string_view key);
// FINGERPRINT (CRC-32 XOR 0x5354554e). True when present and right.
bool VerifyStunFingerprint(const uint8_t* data, size_t len, const StunMessage& msg);

// Builders write into `out` and return the length, or 0 when `cap` is too small.
// Each adds MESSAGE-INTEGRITY (keyed with `key`) and FINGERPRINT.
size_t BuildStunBindingSuccess(uint8_t* out, size_t cap, const uint8_t transaction_id[12],
                               const sockaddr* mapped, std::string_view key);
size_t BuildStunBindingError(uint8_t* out, size_t cap, const uint8_t transaction_id[12], uint16_t code,
                             std::string_view reason, std::string_view key);
size_t BuildStunBindingRequest(uint8_t* out, size_t cap, const uint8_t transaction_id[12],
                               std::string_view username, std::string_view key, uint32_t priority,
                               bool controlling, uint64_t tie_breaker, bool use_candidate);

}  // namespace halfsec
