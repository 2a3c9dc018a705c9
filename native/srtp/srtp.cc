// SRTP/SRTCP (RFC 3711, RFC 7714) for one direction of one DTLS-SRTP association.
//
// Hot-path design: every cipher key has ONE EVP_CIPHER_CTX, keyed once in Init; a packet only
// resets the IV. HMAC-SHA1 keeps the two SHA-1 states that follow absorbing key^ipad and key^opad
// (RFC 2104) and copies them (plain structs) per packet, so authentication allocates nothing
// (OpenSSL 3.0's HMAC_CTX / EVP_MAC reset duplicates provider digest contexts on the heap).
// No heap allocation per packet; per-SSRC state is allocated only when a new SSRC is accepted
// (at most kMaxSsrcs per table).

// The low-level SHA1_* API is deprecated in OpenSSL 3.0 but is the only allocation-free way to
// reuse a keyed HMAC state.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "srtp/srtp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <climits>
#include <cstring>
#include <memory>
#include <vector>

namespace halfsec {
namespace {

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

// ---- AES primitives over a reused, already keyed context ----

// AES-CTR: XORs the keystream starting at counter block `iv` into data (in place).
bool CtrXor(EVP_CIPHER_CTX* c, const uint8_t iv[16], uint8_t* data, size_t len) {
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, iv) != 1) return false;
  if (len == 0) return true;
  int outl = 0;
  return EVP_EncryptUpdate(c, data, &outl, data, static_cast<int>(len)) == 1 &&
         outl == static_cast<int>(len);
}

// AES-GCM encryption in place with AAD = aad1 || aad2; writes the 16-byte tag.
bool GcmSeal(EVP_CIPHER_CTX* c, const uint8_t iv[12], const uint8_t* aad1, size_t aad1_len,
             const uint8_t* aad2, size_t aad2_len, uint8_t* data, size_t len, uint8_t* tag) {
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

// ---- HMAC-SHA1 with precomputed keyed states ----

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

// ---- Replay windows and per-SSRC state ----

// Sliding window over packet indices as a ring bitmap: bit (i mod kBits) marks index i, valid for
// highest - kBits < i <= highest.
template <size_t kBits>
class ReplayWindow {
  static_assert(kBits % 64 == 0, "window must be whole words");

 public:
  uint64_t highest() const { return highest_; }
  void Reset(uint64_t index) {
    highest_ = index;
    std::memset(bits_, 0, sizeof(bits_));
    Set(index);
  }
  // True if the index must be rejected (already seen, or too old to tell).
  bool Rejects(uint64_t index) const {
    if (index > highest_) return false;
    if (highest_ - index >= kBits) return true;
    return (bits_[(index % kBits) / 64] >> (index % 64)) & 1u;
  }
  // Records an authenticated index (Rejects(index) was false).
  void Accept(uint64_t index) {
    if (index > highest_) {
      uint64_t delta = index - highest_;
      if (delta >= kBits) {
        std::memset(bits_, 0, sizeof(bits_));
      } else {
        for (uint64_t i = highest_ + 1; i <= index; ++i)
          bits_[(i % kBits) / 64] &= ~(uint64_t{1} << (i % 64));
      }
      highest_ = index;
    }
    Set(index);
  }

 private:
  void Set(uint64_t index) { bits_[(index % kBits) / 64] |= uint64_t{1} << (index % 64); }
  uint64_t highest_ = 0;
  uint64_t bits_[kBits / 64] = {};
};

struct RtpSendState {
  uint32_t ssrc = 0;
  uint64_t highest = 0;  // highest 48-bit packet index sent (ROC << 16 | SEQ)
};
struct RtcpSendState {
  uint32_t ssrc = 0;
  uint32_t next_index = 0;
};
struct RtpRecvState {
  uint32_t ssrc = 0;
  ReplayWindow<kRtpWindow> window;
};
struct RtcpRecvState {
  uint32_t ssrc = 0;
  ReplayWindow<kRtcpWindow> window;
};

// At most kMaxSsrcs entries; linear search with a last-hit shortcut (a context normally carries
// one to four SSRCs).
template <typename T>
class SsrcTable {
 public:
  T* Find(uint32_t ssrc) {
    if (last_ < entries_.size() && entries_[last_].ssrc == ssrc) return &entries_[last_];
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].ssrc == ssrc) {
        last_ = i;
        return &entries_[i];
      }
    }
    return nullptr;
  }
  bool full() const { return entries_.size() >= kMaxSsrcs; }
  T* Add(uint32_t ssrc) {
    if (full()) return nullptr;
    if (entries_.capacity() == 0) entries_.reserve(4);
    entries_.emplace_back();
    entries_.back().ssrc = ssrc;
    last_ = entries_.size() - 1;
    return &entries_.back();
  }

 private:
  std::vector<T> entries_;
  size_t last_ = 0;
};

// RFC 3711 3.3.1 / Appendix A: the index of `seq` closest to the highest index seen so far.
// False when that guess would be negative or past 2^48 (ROC exhausted).
bool EstimateIndex(uint64_t highest, uint16_t seq, uint64_t* index) {
  uint64_t roc = highest >> 16;
  uint32_t s_l = static_cast<uint32_t>(highest & 0xffff);
  uint64_t v = roc;
  if (s_l < 32768) {
    if (seq > s_l && seq - s_l > 32768) {
      if (roc == 0) return false;
      v = roc - 1;
    }
  } else if (s_l - 32768 > seq) {
    if (roc == kMaxRoc) return false;
    v = roc + 1;
  }
  *index = (v << 16) | seq;
  return true;
}

// Length of the RTP header including CSRCs and the header extension, or 0 if malformed.
size_t RtpHeaderLength(const uint8_t* buf, size_t len) {
  if (len < kRtpHeaderLen || (buf[0] >> 6) != 2) return 0;
  size_t hdr = kRtpHeaderLen + 4 * static_cast<size_t>(buf[0] & 0x0f);
  if (hdr > len) return 0;
  if (buf[0] & 0x10) {
    if (hdr + 4 > len) return 0;
    hdr += 4 + 4 * static_cast<size_t>(Load16(buf + hdr + 2));
    if (hdr > len) return 0;
  }
  return hdr;
}

}  // namespace

// ---- Public API ----

size_t SrtpMasterKeyLen(SrtpProfile) { return kKeyLen; }
size_t SrtpMasterSaltLen(SrtpProfile p) {
  return p == SrtpProfile::kAeadAes128Gcm ? kGcmSaltLen : kCmSaltLen;
}

struct SrtpContext::Impl {
  ~Impl() {
    OPENSSL_cleanse(rtp_salt, sizeof(rtp_salt));
    OPENSSL_cleanse(rtcp_salt, sizeof(rtcp_salt));
  }

  // Keys both directions of this context's crypto; salts are 14 bytes (AES-CM) or 12 (GCM).
  bool Install(SrtpProfile p, const uint8_t* rtp_key, const uint8_t* rtp_salt_in,
               const uint8_t* rtp_auth_key, const uint8_t* rtcp_key,
               const uint8_t* rtcp_salt_in, const uint8_t* rtcp_auth_key) {
    profile = p;
    gcm = p == SrtpProfile::kAeadAes128Gcm;
    size_t salt_len = gcm ? kGcmSaltLen : kCmSaltLen;
    std::memcpy(rtp_salt, rtp_salt_in, salt_len);
    std::memcpy(rtcp_salt, rtcp_salt_in, salt_len);
    if (gcm) {
      rtp_cipher = NewGcmContext(rtp_key);
      rtcp_cipher = NewGcmContext(rtcp_key);
    } else {
      rtp_cipher = NewCtrContext(rtp_key);
      rtcp_cipher = NewCtrContext(rtcp_key);
      if (!rtp_auth.SetKey(rtp_auth_key, kAuthKeyLen) ||
          !rtcp_auth.SetKey(rtcp_auth_key, kAuthKeyLen))
        return false;
    }
    ready = rtp_cipher && rtcp_cipher;
    return ready;
  }

  // AES-CM IV (RFC 3711 4.1.1): salt*2^16 XOR ssrc*2^64 XOR index*2^16.
  void CmIv(const uint8_t* salt, uint32_t ssrc, uint64_t index, uint8_t iv[16]) const {
    std::memcpy(iv, salt, kCmSaltLen);
    iv[14] = iv[15] = 0;
    iv[4] ^= static_cast<uint8_t>(ssrc >> 24);
    iv[5] ^= static_cast<uint8_t>(ssrc >> 16);
    iv[6] ^= static_cast<uint8_t>(ssrc >> 8);
    iv[7] ^= static_cast<uint8_t>(ssrc);
    for (int i = 0; i < 6; ++i) iv[13 - i] ^= static_cast<uint8_t>(index >> (8 * i));
  }
  // GCM IV (RFC 7714 8.1 / 9.1): 00 00 || SSRC || ROC || SEQ  (or 00 00 || SSRC || 00 00 ||
  // 0|SRTCP index) XOR the 12-byte salt. Both are ssrc at bytes 2..5 and a 48-bit value at 6..11.
  void GcmIv(const uint8_t* salt, uint32_t ssrc, uint64_t low48, uint8_t iv[12]) const {
    std::memcpy(iv, salt, kGcmSaltLen);
    iv[2] ^= static_cast<uint8_t>(ssrc >> 24);
    iv[3] ^= static_cast<uint8_t>(ssrc >> 16);
    iv[4] ^= static_cast<uint8_t>(ssrc >> 8);
    iv[5] ^= static_cast<uint8_t>(ssrc);
    for (int i = 0; i < 6; ++i) iv[11 - i] ^= static_cast<uint8_t>(low48 >> (8 * i));
  }

  int Malformed() {
    ++stats.malformed;
    return kSrtpMalformed;
  }
  int Replay() {
    ++stats.replays;
    return kSrtpReplay;
  }
  int AuthFail() {
    ++stats.auth_failures;
    return kSrtpAuthFail;
  }

  int ProtectRtp(uint8_t* buf, size_t len) {
    if (len > kMaxPacketLen) return Malformed();
    size_t hdr = RtpHeaderLength(buf, len);
    if (hdr == 0) return Malformed();
    uint16_t seq = Load16(buf + 2);
    uint32_t ssrc = Load32(buf + 8);
    uint64_t index = seq;
    RtpSendState* st = rtp_out.Find(ssrc);
    if (st == nullptr) {
      st = rtp_out.Add(ssrc);
      if (st == nullptr) return kSrtpTooManySsrcs;
      st->highest = index;
    } else {
      // Detects the 65535 -> 0 wrap (ROC + 1) and keeps late retransmissions on their old ROC.
      if (!EstimateIndex(st->highest, seq, &index)) return Replay();
      if (index > st->highest) st->highest = index;
    }
    if (gcm) {
      uint8_t iv[12];
      GcmIv(rtp_salt, ssrc, index, iv);
      if (!GcmSeal(rtp_cipher.get(), iv, buf, hdr, nullptr, 0, buf + hdr, len - hdr, buf + len))
        return Malformed();
      return static_cast<int>(len + kGcmTagLen);
    }
    uint8_t iv[16];
    CmIv(rtp_salt, ssrc, index, iv);
    if (!CtrXor(rtp_cipher.get(), iv, buf + hdr, len - hdr)) return Malformed();
    uint8_t roc[4];
    Store32(roc, static_cast<uint32_t>(index >> 16));
    uint8_t mac[SHA_DIGEST_LENGTH];
    rtp_auth.Compute(buf, len, roc, sizeof(roc), mac);
    std::memcpy(buf + len, mac, kHmacTagLen);
    return static_cast<int>(len + kHmacTagLen);
  }

  int UnprotectRtp(uint8_t* buf, size_t len) {
    if (len > kMaxPacketLen) return Malformed();
    size_t tag_len = gcm ? kGcmTagLen : kHmacTagLen;
    if (len < kRtpHeaderLen + tag_len) return Malformed();
    size_t body_end = len - tag_len;  // header + (encrypted) payload
    size_t hdr = RtpHeaderLength(buf, body_end);
    if (hdr == 0) return Malformed();
    uint16_t seq = Load16(buf + 2);
    uint32_t ssrc = Load32(buf + 8);
    uint64_t index = seq;
    RtpRecvState* st = rtp_in.Find(ssrc);
    if (st == nullptr) {
      if (rtp_in.full()) return kSrtpTooManySsrcs;
    } else {
      if (!EstimateIndex(st->window.highest(), seq, &index)) return Replay();
      if (st->window.Rejects(index)) return Replay();
    }
    if (gcm) {
      uint8_t iv[12];
      GcmIv(rtp_salt, ssrc, index, iv);
      if (!GcmOpen(rtp_cipher.get(), iv, buf, hdr, nullptr, 0, buf + hdr, body_end - hdr,
                   buf + body_end))
        return AuthFail();
    } else {
      uint8_t roc[4];
      Store32(roc, static_cast<uint32_t>(index >> 16));
      uint8_t mac[SHA_DIGEST_LENGTH];
      rtp_auth.Compute(buf, body_end, roc, sizeof(roc), mac);
      if (CRYPTO_memcmp(mac, buf + body_end, kHmacTagLen) != 0) return AuthFail();
      uint8_t iv[16];
      CmIv(rtp_salt, ssrc, index, iv);
      if (!CtrXor(rtp_cipher.get(), iv, buf + hdr, body_end - hdr)) return Malformed();
    }
    if (st == nullptr) {
      st = rtp_in.Add(ssrc);
      if (st == nullptr) return kSrtpTooManySsrcs;
      st->window.Reset(index);
    } else {
      st->window.Accept(index);
    }
    return static_cast<int>(body_end);
  }

  int ProtectRtcp(uint8_t* buf, size_t len) {
    if (len > kMaxPacketLen || len < kRtcpHeaderLen || (buf[0] >> 6) != 2) return Malformed();
    uint32_t ssrc = Load32(buf + 4);
    RtcpSendState* st = rtcp_out.Find(ssrc);
    if (st == nullptr) {
      st = rtcp_out.Add(ssrc);
      if (st == nullptr) return kSrtpTooManySsrcs;
    }
    const uint32_t index = st->next_index;
    if (index > kSrtcpIndexMask) return kSrtpIndexExhausted;
    st->next_index = index + 1;
    uint8_t e_index[4];
    Store32(e_index, kEFlag | index);
    if (gcm) {
      uint8_t iv[12];
      GcmIv(rtcp_salt, ssrc, index, iv);
      if (!GcmSeal(rtcp_cipher.get(), iv, buf, kRtcpHeaderLen, e_index, sizeof(e_index),
                   buf + kRtcpHeaderLen, len - kRtcpHeaderLen, buf + len))
        return Malformed();
      std::memcpy(buf + len + kGcmTagLen, e_index, sizeof(e_index));
      return static_cast<int>(len + kGcmTagLen + kSrtcpIndexLen);
    }
    uint8_t iv[16];
    CmIv(rtcp_salt, ssrc, index, iv);
    if (!CtrXor(rtcp_cipher.get(), iv, buf + kRtcpHeaderLen, len - kRtcpHeaderLen))
      return Malformed();
    std::memcpy(buf + len, e_index, sizeof(e_index));
    uint8_t mac[SHA_DIGEST_LENGTH];
    rtcp_auth.Compute(buf, len + kSrtcpIndexLen, nullptr, 0, mac);
    std::memcpy(buf + len + kSrtcpIndexLen, mac, kHmacTagLen);
    return static_cast<int>(len + kSrtcpIndexLen + kHmacTagLen);
  }

  int UnprotectRtcp(uint8_t* buf, size_t len) {
    if (len > kMaxPacketLen) return Malformed();
    size_t tag_len = gcm ? kGcmTagLen : kHmacTagLen;
    if (len < kRtcpHeaderLen + kSrtcpIndexLen + tag_len || (buf[0] >> 6) != 2)
      return Malformed();
    size_t plain_len = len - kSrtcpIndexLen - tag_len;
    // Trailer: AES-CM puts E|index before the tag, GCM after it.
    const uint8_t* e_index = gcm ? buf + len - kSrtcpIndexLen : buf + plain_len;
    uint32_t word = Load32(e_index);
    uint32_t index = word & kSrtcpIndexMask;
    bool encrypted = (word & kEFlag) != 0;
    uint32_t ssrc = Load32(buf + 4);
    RtcpRecvState* st = rtcp_in.Find(ssrc);
    if (st == nullptr) {
      if (rtcp_in.full()) return kSrtpTooManySsrcs;
    } else if (st->window.Rejects(index)) {
      return Replay();
    }
    if (gcm) {
      uint8_t iv[12];
      GcmIv(rtcp_salt, ssrc, index, iv);
      const uint8_t* tag = buf + plain_len;
      bool ok = encrypted
                    ? GcmOpen(rtcp_cipher.get(), iv, buf, kRtcpHeaderLen, e_index,
                              kSrtcpIndexLen, buf + kRtcpHeaderLen,
                              plain_len - kRtcpHeaderLen, tag)
                    // E = 0: authenticated only, the whole packet is AAD (RFC 7714 9.2).
                    : GcmOpen(rtcp_cipher.get(), iv, buf, plain_len, e_index, kSrtcpIndexLen,
                              nullptr, 0, tag);
      if (!ok) return AuthFail();
    } else {
      uint8_t mac[SHA_DIGEST_LENGTH];
      rtcp_auth.Compute(buf, plain_len + kSrtcpIndexLen, nullptr, 0, mac);
      if (CRYPTO_memcmp(mac, buf + plain_len + kSrtcpIndexLen, kHmacTagLen) != 0)
        return AuthFail();
      if (encrypted) {
        uint8_t iv[16];
        CmIv(rtcp_salt, ssrc, index, iv);
        if (!CtrXor(rtcp_cipher.get(), iv, buf + kRtcpHeaderLen, plain_len - kRtcpHeaderLen))
          return Malformed();
      }
    }
    if (st == nullptr) {
      st = rtcp_in.Add(ssrc);
      if (st == nullptr) return kSrtpTooManySsrcs;
      st->window.Reset(index);
    } else {
      st->window.Accept(index);
    }
    return static_cast<int>(plain_len);
  }

  SrtpProfile profile = SrtpProfile::kAes128CmSha1_80;
  bool ready = false;
  bool gcm = false;
  CipherCtxPtr rtp_cipher;
  CipherCtxPtr rtcp_cipher;
  uint8_t rtp_salt[kCmSaltLen] = {};
  uint8_t rtcp_salt[kCmSaltLen] = {};
  HmacSha1 rtp_auth;
  HmacSha1 rtcp_auth;
  SrtpStats stats;
  SsrcTable<RtpSendState> rtp_out;
  SsrcTable<RtcpSendState> rtcp_out;
  SsrcTable<RtpRecvState> rtp_in;
  SsrcTable<RtcpRecvState> rtcp_in;
};

SrtpContext::SrtpContext() : impl_(new Impl()) {}
SrtpContext::~SrtpContext() { delete impl_; }

bool SrtpContext::Init(SrtpProfile profile, const uint8_t* master_key,
                       const uint8_t* master_salt) {
  delete impl_;
  impl_ = new Impl();
  if (master_key == nullptr || master_salt == nullptr) return false;
  if (profile != SrtpProfile::kAes128CmSha1_80 && profile != SrtpProfile::kAeadAes128Gcm)
    return false;
  size_t msalt_len = SrtpMasterSaltLen(profile);
  size_t ssalt_len = profile == SrtpProfile::kAeadAes128Gcm ? kGcmSaltLen : kCmSaltLen;
  uint8_t rtp_key[kKeyLen], rtp_salt[kCmSaltLen], rtp_auth[kAuthKeyLen];
  uint8_t rtcp_key[kKeyLen], rtcp_salt[kCmSaltLen], rtcp_auth[kAuthKeyLen];
  bool ok = Kdf(master_key, master_salt, msalt_len, kLabelRtpEncryption, rtp_key, kKeyLen) &&
            Kdf(master_key, master_salt, msalt_len, kLabelRtpSalt, rtp_salt, ssalt_len) &&
            Kdf(master_key, master_salt, msalt_len, kLabelRtcpEncryption, rtcp_key, kKeyLen) &&
            Kdf(master_key, master_salt, msalt_len, kLabelRtcpSalt, rtcp_salt, ssalt_len);
  if (ok && profile == SrtpProfile::kAes128CmSha1_80) {
    ok = Kdf(master_key, master_salt, msalt_len, kLabelRtpAuth, rtp_auth, kAuthKeyLen) &&
         Kdf(master_key, master_salt, msalt_len, kLabelRtcpAuth, rtcp_auth, kAuthKeyLen);
  }
  ok = ok && impl_->Install(profile, rtp_key, rtp_salt, rtp_auth, rtcp_key, rtcp_salt, rtcp_auth);
  OPENSSL_cleanse(rtp_key, sizeof(rtp_key));
  OPENSSL_cleanse(rtp_salt, sizeof(rtp_salt));
  OPENSSL_cleanse(rtp_auth, sizeof(rtp_auth));
  OPENSSL_cleanse(rtcp_key, sizeof(rtcp_key));
  OPENSSL_cleanse(rtcp_salt, sizeof(rtcp_salt));
  OPENSSL_cleanse(rtcp_auth, sizeof(rtcp_auth));
  if (!ok) impl_->ready = false;
  return ok;
}

bool SrtpContext::ready() const { return impl_->ready; }

int SrtpContext::ProtectRtp(uint8_t* buf, size_t len) {
  if (!impl_->ready || buf == nullptr) return kSrtpMalformed;
  return impl_->ProtectRtp(buf, len);
}
int SrtpContext::ProtectRtcp(uint8_t* buf, size_t len) {
  if (!impl_->ready || buf == nullptr) return kSrtpMalformed;
  return impl_->ProtectRtcp(buf, len);
}
int SrtpContext::UnprotectRtp(uint8_t* buf, size_t len) {
  if (!impl_->ready || buf == nullptr) return kSrtpMalformed;
  return impl_->UnprotectRtp(buf, len);
}
int SrtpContext::UnprotectRtcp(uint8_t* buf, size_t len) {
  if (!impl_->ready || buf == nullptr) return kSrtpMalformed;
  return impl_->UnprotectRtcp(buf, len);
}

const SrtpStats& SrtpContext::stats() const { return impl_->stats; }

// ---- Test-only hooks ----

namespace srtp_test {

bool DeriveKey(const uint8_t* master_key, const uint8_t* master_salt, size_t salt_len,
               uint8_t label, uint8_t* out, size_t out_len) {
  return Kdf(master_key, master_salt, salt_len, label, out, out_len);
}

bool InitWithSessionKeys(SrtpContext& ctx, SrtpProfile profile, const uint8_t* key,
                         const uint8_t* salt, const uint8_t* auth_key) {
  delete ctx.impl_;
  ctx.impl_ = new SrtpContext::Impl();
  if (profile != SrtpProfile::kAes128CmSha1_80 && profile != SrtpProfile::kAeadAes128Gcm)
    return false;
  uint8_t no_auth[kAuthKeyLen] = {};
  if (auth_key == nullptr) auth_key = no_auth;
  return ctx.impl_->Install(profile, key, salt, auth_key, key, salt, auth_key);
}

bool SetRtcpSendIndex(SrtpContext& ctx, uint32_t ssrc, uint32_t next_index) {
  auto* st = ctx.impl_->rtcp_out.Find(ssrc);
  if (st == nullptr) return false;
  st->next_index = next_index;
  return true;
}

}  // namespace srtp_test
}  // namespace halfsec
