// STUN (RFC 5389) for ICE (RFC 8445): parse, MESSAGE-INTEGRITY, FINGERPRINT, Binding builders.
//
// Everything here works on caller-owned buffers, allocates nothing (apart from one OpenSSL HMAC
// context per thread) and never reads or writes outside [data, data + len) / [out, out + cap).
#include "ice/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstring>
#include <memory>

namespace halfsec {
namespace {

constexpr uint32_t kFingerprintXor = 0x5354554e;
constexpr size_t kIntegrityAttrSize = 4 + 20;  // header + HMAC-SHA1
constexpr size_t kFingerprintAttrSize = 4 + 4;  // header + CRC-32

inline uint16_t Rd16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Rd32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint64_t Rd64(const uint8_t* p) { return (uint64_t{Rd32(p)} << 32) | Rd32(p + 4); }
inline void Wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Wr32(uint8_t* p, uint32_t v) {
  Wr16(p, static_cast<uint16_t>(v >> 16));
  Wr16(p + 2, static_cast<uint16_t>(v));
}
inline void Wr64(uint8_t* p, uint64_t v) {
  Wr32(p, static_cast<uint32_t>(v >> 32));
  Wr32(p + 4, static_cast<uint32_t>(v));
}
inline size_t Padded(size_t n) { return (n + 3) & ~size_t{3}; }

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

// The 20-byte header with its length field set to `msg_len` (RFC 5389 §15.4 / §15.5: the
// length covers everything up to and including the attribute being computed).
inline void PatchedHeader(const uint8_t* data, size_t msg_len, uint8_t hdr[kStunHeaderSize]) {
  std::memcpy(hdr, data, kStunHeaderSize);
  Wr16(hdr + 2, static_cast<uint16_t>(msg_len));
}

// FINGERPRINT value for an attribute whose header starts at `fp_off`.
uint32_t FingerprintValue(const uint8_t* data, size_t fp_off) {
  uint8_t hdr[kStunHeaderSize];
  PatchedHeader(data, fp_off + kFingerprintAttrSize - kStunHeaderSize, hdr);
  uint32_t crc = StunCrc32(hdr, sizeof hdr);
  crc = StunCrc32(data + kStunHeaderSize, fp_off - kStunHeaderSize, crc);
  return crc ^ kFingerprintXor;
}

EVP_MAC* HmacAlgorithm() {
  // Fetched once; shared read-only by every thread (EVP_MAC objects are immutable).
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// One HMAC-SHA1 context per thread, its digest set once: a context made per message fetched
// SHA-1 from the provider store each time (a lock and a name lookup), which was a fifth of a
// relay worker's CPU in a flash crowd of connectivity checks. Re-keying keeps the digest.
struct HmacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
EVP_MAC_CTX* ThreadHmacSha1() {
  thread_local std::unique_ptr<EVP_MAC_CTX, HmacCtxFree> ctx = [] {
    std::unique_ptr<EVP_MAC_CTX, HmacCtxFree> c;
    EVP_MAC* alg = HmacAlgorithm();
    if (alg == nullptr) return c;
    c.reset(EVP_MAC_CTX_new(alg));
    char digest[] = "SHA1";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    if (c && EVP_MAC_CTX_set_params(c.get(), params) != 1) c.reset();
    return c;
  }();
  return ctx.get();
}

// HMAC-SHA1 for a MESSAGE-INTEGRITY attribute whose header starts at `mi_off`. `key` non-empty.
bool IntegrityValue(const uint8_t* data, size_t mi_off, std::string_view key, uint8_t mac[20]) {
  EVP_MAC_CTX* ctx = ThreadHmacSha1();
  if (ctx == nullptr || key.empty()) return false;
  uint8_t hdr[kStunHeaderSize];
  PatchedHeader(data, mi_off + kIntegrityAttrSize - kStunHeaderSize, hdr);
  size_t out_len = 0;
  return EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr) == 1 &&
         EVP_MAC_update(ctx, hdr, sizeof hdr) == 1 &&
         EVP_MAC_update(ctx, data + kStunHeaderSize, mi_off - kStunHeaderSize) == 1 &&
         EVP_MAC_final(ctx, mac, &out_len, 20) == 1 && out_len == 20;
}

// Bounds-checked appender. Once anything fails to fit, every later call fails too.
class Writer {
 public:
  Writer(uint8_t* out, size_t cap) : out_(out), cap_(out != nullptr ? cap : 0) {}

  uint8_t* Reserve(size_t n) {
    if (failed_ || n > cap_ - len_) {
      failed_ = true;
      return nullptr;
    }
    uint8_t* p = out_ + len_;
    len_ += n;
    return p;
  }
  // Header; zero padding to a multiple of 4. Returns the value pointer (nullptr if no room).
  uint8_t* Attr(uint16_t type, size_t value_len) {
    if (value_len > 0xFFFF) {
      failed_ = true;
      return nullptr;
    }
    uint8_t* p = Reserve(4 + Padded(value_len));
    if (p == nullptr) return nullptr;
    Wr16(p, type);
    Wr16(p + 2, static_cast<uint16_t>(value_len));
    std::memset(p + 4 + value_len, 0, Padded(value_len) - value_len);
    return p + 4;
  }
  bool AttrBytes(uint16_t type, const void* value, size_t value_len) {
    uint8_t* p = Attr(type, value_len);
    if (p == nullptr) return false;
    if (value_len != 0) std::memcpy(p, value, value_len);
    return true;
  }

  uint8_t* data() const { return out_; }
  size_t size() const { return len_; }
  bool failed() const { return failed_; }

 private:
  uint8_t* out_;
  size_t cap_;
  size_t len_ = 0;
  bool failed_ = false;
};

bool WriteHeader(Writer& w, uint16_t type, const uint8_t txid[12]) {
  uint8_t* p = w.Reserve(kStunHeaderSize);
  if (p == nullptr) return false;
  Wr16(p, type);
  Wr16(p + 2, 0);
  Wr32(p + 4, kStunMagicCookie);
  std::memcpy(p + 8, txid, 12);
  return true;
}

// Appends MESSAGE-INTEGRITY (unless `key` is empty) and FINGERPRINT; the final length or 0.
size_t Finish(Writer& w, std::string_view key) {
  if (w.failed()) return 0;
  uint8_t* base = w.data();
  if (!key.empty()) {
    const size_t mi_off = w.size();
    uint8_t* p = w.Attr(kStunAttrMessageIntegrity, 20);
    if (p == nullptr) return 0;
    Wr16(base + 2, static_cast<uint16_t>(w.size() - kStunHeaderSize));
    if (!IntegrityValue(base, mi_off, key, p)) return 0;
  }
  const size_t fp_off = w.size();
  uint8_t* p = w.Attr(kStunAttrFingerprint, 4);
  if (p == nullptr) return 0;
  Wr16(base + 2, static_cast<uint16_t>(w.size() - kStunHeaderSize));
  Wr32(p, FingerprintValue(base, fp_off));
  return w.size();
}

// XOR-MAPPED-ADDRESS value (RFC 5389 §15.2) into `val`; its length, or 0 for an unusable address.
size_t EncodeXorAddress(const sockaddr* sa, const uint8_t txid[12], uint8_t val[20]) {
  uint8_t addr[16];
  size_t addr_len = 0;
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof sin);
    std::memcpy(addr, &sin.sin_addr, 4);
    addr_len = 4;
    port = ntohs(sin.sin_port);
  } else if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof sin6);
    port = ntohs(sin6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {  // a dual-stack socket's view of an IPv4 peer
      std::memcpy(addr, sin6.sin6_addr.s6_addr + 12, 4);
      addr_len = 4;
    } else {
      std::memcpy(addr, sin6.sin6_addr.s6_addr, 16);
      addr_len = 16;
    }
  } else {
    return 0;
  }
  uint8_t mask[16];
  Wr32(mask, kStunMagicCookie);
  std::memcpy(mask + 4, txid, 12);
  val[0] = 0;
  val[1] = addr_len == 4 ? 0x01 : 0x02;
  Wr16(val + 2, static_cast<uint16_t>(port ^ (kStunMagicCookie >> 16)));
  for (size_t i = 0; i < addr_len; ++i) val[4 + i] = addr[i] ^ mask[i];
  return 4 + addr_len;
}

bool DecodeXorAddress(const uint8_t* v, size_t n, const uint8_t txid[12], sockaddr_storage* out) {
  if (n < 4) return false;
  uint8_t mask[16];
  Wr32(mask, kStunMagicCookie);
  std::memcpy(mask + 4, txid, 12);
  const uint16_t port = static_cast<uint16_t>(Rd16(v + 2) ^ (kStunMagicCookie >> 16));
  *out = sockaddr_storage{};
  if (v[1] == 0x01 && n == 8) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    uint8_t a[4];
    for (size_t i = 0; i < 4; ++i) a[i] = v[4 + i] ^ mask[i];
    std::memcpy(&sin.sin_addr, a, 4);
    std::memcpy(out, &sin, sizeof sin);
    return true;
  }
  if (v[1] == 0x02 && n == 20) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    for (size_t i = 0; i < 16; ++i) sin6.sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
    std::memcpy(out, &sin6, sizeof sin6);
    return true;
  }
  return false;
}

}  // namespace

uint32_t StunCrc32(const uint8_t* data, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) crc = kCrcTable[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

bool LooksLikeStun(const uint8_t* data, size_t len) {
  if (data == nullptr || len < kStunHeaderSize) return false;
  // RFC 7983: 0..3 is STUN (which also keeps the two top bits zero); 20..63 would be DTLS.
  if (data[0] > 3) return false;
  if (Rd32(data + 4) != kStunMagicCookie) return false;
  const size_t msg_len = Rd16(data + 2);
  return msg_len % 4 == 0 && msg_len == len - kStunHeaderSize;
}

bool ParseStun(const uint8_t* data, size_t len, StunMessage* out) {
  if (out == nullptr || !LooksLikeStun(data, len)) return false;
  StunMessage m;
  m.type = Rd16(data);
  std::memcpy(m.transaction_id, data + 8, 12);

  bool seen_username = false, seen_priority = false, seen_control = false, seen_error = false;
  size_t off = kStunHeaderSize;
  while (off < len) {
    if (m.has_fingerprint) return false;  // FINGERPRINT must be the last attribute
    if (len - off < 4) return false;
    const uint16_t type = Rd16(data + off);
    const size_t alen = Rd16(data + off + 2);
    if (Padded(alen) > len - off - 4) return false;  // overruns the message
    const uint8_t* v = data + off + 4;

    if (type == kStunAttrFingerprint) {
      if (alen != 4) return false;
      m.has_fingerprint = true;
      m.fingerprint_offset = off;
    } else if (m.has_integrity) {
      // RFC 5389 §15.4: anything after MESSAGE-INTEGRITY but FINGERPRINT is ignored.
    } else {
      switch (type) {
        case kStunAttrMessageIntegrity:
          if (alen != 20) return false;
          m.has_integrity = true;
          m.integrity_offset = off;
          break;
        case kStunAttrUsername:
          if (alen > kStunMaxUsername) return false;
          if (!seen_username) m.username = std::string_view(reinterpret_cast<const char*>(v), alen);
          seen_username = true;
          break;
        case kStunAttrPriority:
          if (alen != 4) return false;
          if (!seen_priority) m.priority = Rd32(v);
          seen_priority = true;
          break;
        case kStunAttrUseCandidate:
          if (alen != 0) return false;
          m.use_candidate = true;
          break;
        case kStunAttrIceControlling:
        case kStunAttrIceControlled:
          if (alen != 8) return false;
          if (type == kStunAttrIceControlling) {
            m.has_ice_controlling = true;
          } else {
            m.has_ice_controlled = true;
          }
          if (!seen_control) m.tie_breaker = Rd64(v);
          seen_control = true;
          break;
        case kStunAttrErrorCode: {
          if (alen < 4 || alen > 4 + kStunMaxReasonPhrase) return false;
          const unsigned cls = v[2] & 0x07, number = v[3];
          if (cls < 3 || cls > 6 || number > 99) return false;
          if (!seen_error) m.error_code = static_cast<uint16_t>(cls * 100 + number);
          seen_error = true;
          break;
        }
        case kStunAttrXorMappedAddress: {
          sockaddr_storage ss;
          if (!DecodeXorAddress(v, alen, m.transaction_id, &ss)) return false;
          if (!m.has_xor_mapped) m.xor_mapped = ss;
          m.has_xor_mapped = true;
          break;
        }
        default:
          break;  // unknown or uninteresting (SOFTWARE, REALM, NONCE, ...)
      }
    }
    off += 4 + Padded(alen);
  }
  *out = m;
  return true;
}

bool VerifyStunIntegrity(const uint8_t* data, size_t len, const StunMessage& msg, std::string_view key) {
  if (data == nullptr || !msg.has_integrity || key.empty()) return false;
  const size_t off = msg.integrity_offset;
  if (off < kStunHeaderSize || off % 4 != 0 || off > len || len - off < kIntegrityAttrSize) return false;
  if (Rd16(data + off) != kStunAttrMessageIntegrity || Rd16(data + off + 2) != 20) return false;
  uint8_t mac[20];
  if (!IntegrityValue(data, off, key, mac)) return false;
  return CRYPTO_memcmp(mac, data + off + 4, sizeof mac) == 0;
}

bool VerifyStunFingerprint(const uint8_t* data, size_t len, const StunMessage& msg) {
  if (data == nullptr || !msg.has_fingerprint) return false;
  const size_t off = msg.fingerprint_offset;
  if (off < kStunHeaderSize || off % 4 != 0 || off > len || len - off != kFingerprintAttrSize) return false;
  if (Rd16(data + off) != kStunAttrFingerprint || Rd16(data + off + 2) != 4) return false;
  return FingerprintValue(data, off) == Rd32(data + off + 4);
}

size_t BuildStunBindingSuccess(uint8_t* out, size_t cap, const uint8_t transaction_id[12],
                               const sockaddr* mapped, std::string_view key) {
  if (transaction_id == nullptr || mapped == nullptr) return 0;
  uint8_t val[20];
  const size_t val_len = EncodeXorAddress(mapped, transaction_id, val);
  if (val_len == 0) return 0;
  Writer w(out, cap);
  if (!WriteHeader(w, kStunBindingSuccess, transaction_id)) return 0;
  if (!w.AttrBytes(kStunAttrXorMappedAddress, val, val_len)) return 0;
  return Finish(w, key);
}

size_t BuildStunBindingError(uint8_t* out, size_t cap, const uint8_t transaction_id[12], uint16_t code,
                             std::string_view reason, std::string_view key) {
  if (transaction_id == nullptr || code < 300 || code > 699 || reason.size() > kStunMaxReasonPhrase) return 0;
  Writer w(out, cap);
  if (!WriteHeader(w, kStunBindingError, transaction_id)) return 0;
  uint8_t* v = w.Attr(kStunAttrErrorCode, 4 + reason.size());
  if (v == nullptr) return 0;
  v[0] = 0;
  v[1] = 0;
  v[2] = static_cast<uint8_t>(code / 100);
  v[3] = static_cast<uint8_t>(code % 100);
  if (!reason.empty()) std::memcpy(v + 4, reason.data(), reason.size());
  return Finish(w, key);
}

size_t BuildStunBindingRequest(uint8_t* out, size_t cap, const uint8_t transaction_id[12],
                               std::string_view username, std::string_view key, uint32_t priority,
                               bool controlling, uint64_t tie_breaker, bool use_candidate) {
  if (transaction_id == nullptr || username.size() > kStunMaxUsername) return 0;
  Writer w(out, cap);
  if (!WriteHeader(w, kStunBindingRequest, transaction_id)) return 0;
  if (!username.empty() && !w.AttrBytes(kStunAttrUsername, username.data(), username.size())) return 0;
  if (uint8_t* v = w.Attr(kStunAttrPriority, 4)) {
    Wr32(v, priority);
  } else {
    return 0;
  }
  if (uint8_t* v = w.Attr(controlling ? kStunAttrIceControlling : kStunAttrIceControlled, 8)) {
    Wr64(v, tie_breaker);
  } else {
    return 0;
  }
  if (use_candidate && w.Attr(kStunAttrUseCandidate, 0) == nullptr) return 0;
  return Finish(w, key);
}

}  // namespace halfsec
