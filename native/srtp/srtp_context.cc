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

#include <cstring>
#include <memory>

#include "srtp/hmac_sha1.h"
#include "srtp/srtp_internal.h"
#include "srtp/ssrc_table.h"

namespace halfsec {
using namespace srtp_internal;
namespace {

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
    OPENSSL_cleanse(rtp_key, sizeof(rtp_key));
  }

  // Keys both directions of this context's crypto; salts are 14 bytes (AES-CM) or 12 (GCM).
  bool Install(SrtpProfile p, const uint8_t* rtp_key_in, const uint8_t* rtp_salt_in,
               const uint8_t* rtp_auth_key, const uint8_t* rtcp_key,
               const uint8_t* rtcp_salt_in, const uint8_t* rtcp_auth_key) {
    profile = p;
    gcm = p == SrtpProfile::kAeadAes128Gcm;
    size_t salt_len = gcm ? kGcmSaltLen : kCmSaltLen;
    std::memcpy(rtp_salt, rtp_salt_in, salt_len);
    std::memcpy(rtcp_salt, rtcp_salt_in, salt_len);
    // The RTP cipher is keyed at its first packet (RtpCipher): a viewer's inbound context only
    // ever sees SRTCP, and an OpenSSL cipher context costs ~1.4 KiB.
    std::memcpy(rtp_key, rtp_key_in, kKeyLen);
    if (gcm) {
      rtcp_cipher = NewGcmContext(rtcp_key);
    } else {
      rtcp_cipher = NewCtrContext(rtcp_key);
      rtp_auth = std::make_unique<HmacSha1>();
      rtcp_auth = std::make_unique<HmacSha1>();
      if (!rtp_auth->SetKey(rtp_auth_key, kAuthKeyLen) ||
          !rtcp_auth->SetKey(rtcp_auth_key, kAuthKeyLen))
        return false;
    }
    ready = rtcp_cipher != nullptr;
    return ready;
  }

  EVP_CIPHER_CTX* RtpCipher() {
    if (!rtp_cipher) rtp_cipher = gcm ? NewGcmContext(rtp_key) : NewCtrContext(rtp_key);
    return rtp_cipher.get();
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
      if (!GcmSeal(RtpCipher(), iv, buf, hdr, nullptr, 0, buf + hdr, len - hdr, buf + len))
        return Malformed();
      return static_cast<int>(len + kGcmTagLen);
    }
    uint8_t iv[16];
    CmIv(rtp_salt, ssrc, index, iv);
    if (!CtrXor(RtpCipher(), iv, buf + hdr, len - hdr)) return Malformed();
    uint8_t roc[4];
    Store32(roc, static_cast<uint32_t>(index >> 16));
    uint8_t mac[SHA_DIGEST_LENGTH];
    rtp_auth->Compute(buf, len, roc, sizeof(roc), mac);
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
      if (!GcmOpen(RtpCipher(), iv, buf, hdr, nullptr, 0, buf + hdr, body_end - hdr,
                   buf + body_end))
        return AuthFail();
    } else {
      uint8_t roc[4];
      Store32(roc, static_cast<uint32_t>(index >> 16));
      uint8_t mac[SHA_DIGEST_LENGTH];
      rtp_auth->Compute(buf, body_end, roc, sizeof(roc), mac);
      if (CRYPTO_memcmp(mac, buf + body_end, kHmacTagLen) != 0) return AuthFail();
      uint8_t iv[16];
      CmIv(rtp_salt, ssrc, index, iv);
      if (!CtrXor(RtpCipher(), iv, buf + hdr, body_end - hdr)) return Malformed();
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
    rtcp_auth->Compute(buf, len + kSrtcpIndexLen, nullptr, 0, mac);
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
      rtcp_auth->Compute(buf, plain_len + kSrtcpIndexLen, nullptr, 0, mac);
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
  CipherCtxPtr rtp_cipher;  // null until the first RTP packet
  uint8_t rtp_key[kKeyLen] = {};
  CipherCtxPtr rtcp_cipher;
  uint8_t rtp_salt[kCmSaltLen] = {};
  uint8_t rtcp_salt[kCmSaltLen] = {};
  // AES-CM only (GCM authenticates with its tag): 384 bytes a context that GCM does not carry.
  std::unique_ptr<HmacSha1> rtp_auth;
  std::unique_ptr<HmacSha1> rtcp_auth;
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
