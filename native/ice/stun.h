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
// (Malformed includes: an attribute overrunning the message, anything after FINGERPRINT, a
// USERNAME over 513 bytes, and a wrong-size MESSAGE-INTEGRITY, FINGERPRINT, PRIORITY,
// USE-CANDIDATE, ICE-CONTROLLING/-CONTROLLED, ERROR-CODE or XOR-MAPPED-ADDRESS. Attributes after
// MESSAGE-INTEGRITY other than FINGERPRINT are skipped unread; of repeated attributes the first
// counts. Unknown attributes are skipped.)
bool ParseStun(const uint8_t* data, size_t len, StunMessage* out);
// MESSAGE-INTEGRITY (HMAC-SHA1) with a short-term credential key (the password). False for an
// empty key.
bool VerifyStunIntegrity(const uint8_t* data, size_t len, const StunMessage& msg, std::string_view key);
// FINGERPRINT (CRC-32 XOR 0x5354554e). True when present and right.
bool VerifyStunFingerprint(const uint8_t* data, size_t len, const StunMessage& msg);

// Builders write into `out` and return the length, or 0 when `cap` is too small.
// Each adds MESSAGE-INTEGRITY (keyed with `key`) and FINGERPRINT.
// (Also 0 for arguments they cannot encode: a family other than AF_INET/AF_INET6, an error code
// outside 300..699, a reason phrase over 763 bytes, a username over 513 bytes. An IPv4-mapped
// IPv6 address is written as IPv4. An empty `key` leaves MESSAGE-INTEGRITY out, as RFC 5389
// §10.1.2 wants for 400/401 errors to unauthenticated requests; an empty `username` leaves
// USERNAME out.)
size_t BuildStunBindingSuccess(uint8_t* out, size_t cap, const uint8_t transaction_id[12],
                               const sockaddr* mapped, std::string_view key);
size_t BuildStunBindingError(uint8_t* out, size_t cap, const uint8_t transaction_id[12], uint16_t code,
                             std::string_view reason, std::string_view key);
size_t BuildStunBindingRequest(uint8_t* out, size_t cap, const uint8_t transaction_id[12],
                               std::string_view username, std::string_view key, uint32_t priority,
                               bool controlling, uint64_t tie_breaker, bool use_candidate);

// ---- Helpers (added by the stun module; nothing above depends on them) ----

// Attribute types used here (RFC 5389 §18.2, RFC 8445 §16.1).
constexpr uint16_t kStunAttrUsername = 0x0006;
constexpr uint16_t kStunAttrMessageIntegrity = 0x0008;
constexpr uint16_t kStunAttrErrorCode = 0x0009;
constexpr uint16_t kStunAttrXorMappedAddress = 0x0020;
constexpr uint16_t kStunAttrPriority = 0x0024;
constexpr uint16_t kStunAttrUseCandidate = 0x0025;
constexpr uint16_t kStunAttrFingerprint = 0x8028;
constexpr uint16_t kStunAttrIceControlled = 0x8029;
constexpr uint16_t kStunAttrIceControlling = 0x802A;

constexpr size_t kStunHeaderSize = 20;
constexpr size_t kStunMaxUsername = 513;      // RFC 5389 §15.3
constexpr size_t kStunMaxReasonPhrase = 763;  // RFC 5389 §15.6

// CRC-32 (ISO-HDLC: reflected 0x04C11DB7, init and final XOR 0xFFFFFFFF), as FINGERPRINT uses
// before its XOR with 0x5354554e. `crc` continues an earlier call (0 to start).
uint32_t StunCrc32(const uint8_t* data, size_t len, uint32_t crc = 0);

}  // namespace halfsec
