#include "rtp/rtp.h"

#include <cstring>

namespace halfsec {

bool ParseRtp(const uint8_t* d, size_t n, RtpHeader* out) {
  if (n < 12 || (d[0] >> 6) != 2) return false;
  const size_t csrc_count = d[0] & 0x0f;
  size_t off = 12 + 4 * csrc_count;
  if (off > n) return false;
  out->csrc_end = off;
  if (d[0] & 0x10) {
    if (off + 4 > n) return false;
    const size_t words = Load16(d + off + 2);
    off += 4 + 4 * words;
    if (off > n) return false;
  }
  size_t end = n;
  if (d[0] & 0x20) {
    const size_t pad = d[n - 1];
    if (pad == 0 || pad > n - off) return false;
    end -= pad;
  }
  out->marker = (d[1] & 0x80) != 0;
  out->payload_type = d[1] & 0x7f;
  out->sequence = Load16(d + 2);
  out->timestamp = Load32(d + 4);
  out->ssrc = Load32(d + 8);
  out->header_len = off;
  out->payload_len = end - off;
  return true;
}

size_t RewriteRtp(const uint8_t* src, size_t n, const RtpHeader& h, uint8_t* dst, uint32_t ssrc,
                  uint8_t payload_type, uint16_t sequence, uint32_t timestamp, const RtpExtensionsOut& ext,
                  size_t* header_end) {
  std::memcpy(dst, src, h.csrc_end);
  dst[0] &= static_cast<uint8_t>(~0x10);  // extension dropped: ids are negotiated per peer
  dst[1] = static_cast<uint8_t>((src[1] & 0x80) | (payload_type & 0x7f));
  Store16(dst + 2, sequence);
  Store32(dst + 4, timestamp);
  Store32(dst + 8, ssrc);
  size_t off = h.csrc_end;
  const bool twcc = ext.twcc_id != 0;
  const bool dd = ext.dd_id != 0 && ext.dd_len != 0 && ext.dd != nullptr;
  if (twcc && !dd && ext.twcc_id <= 14) {
    dst[0] |= 0x10;
    WriteTwccExtension(dst + off, ext.twcc_id, ext.twcc_seq);
    off += kTwccExtensionBytes;
  } else if (twcc || dd) {
    const bool one_byte = (!twcc || ext.twcc_id <= 14) && (!dd || (ext.dd_id <= 14 && ext.dd_len <= 16));
    uint8_t* block = dst + off;
    size_t at = off + 4;
    if (twcc) {
      if (one_byte) {
        dst[at++] = static_cast<uint8_t>((ext.twcc_id << 4) | 1);
      } else {
        dst[at++] = ext.twcc_id;
        dst[at++] = 2;
      }
      Store16(dst + at, ext.twcc_seq);
      at += 2;
    }
    if (dd) {
      if (one_byte) {
        dst[at++] = static_cast<uint8_t>((ext.dd_id << 4) | (ext.dd_len - 1));
      } else {
        dst[at++] = ext.dd_id;
        dst[at++] = ext.dd_len;
      }
      std::memcpy(dst + at, ext.dd, ext.dd_len);
      at += ext.dd_len;
    }
    while ((at - off) % 4 != 0) dst[at++] = 0;  // padding bytes (RFC 8285 §4.1)
    Store16(block, one_byte ? 0xBEDE : 0x1000);
    Store16(block + 2, static_cast<uint16_t>((at - off - 4) / 4));
    dst[0] |= 0x10;
    off = at;
  }
  if (header_end) *header_end = off;
  const size_t rest = n - h.header_len;  // payload and padding
  std::memcpy(dst + off, src + h.header_len, rest);
  return off + rest;
}

size_t BuildPaddingRtp(uint8_t* out, size_t total, uint32_t ssrc, uint8_t payload_type, uint16_t sequence,
                       uint32_t timestamp, uint8_t twcc_id, uint16_t twcc_seq) {
  const bool ext = twcc_id >= 1 && twcc_id <= 14;
  const size_t head = 12 + (ext ? kTwccExtensionBytes : 0);
  if (total < head + 1) total = head + 1;
  if (total > head + 255) total = head + 255;
  out[0] = static_cast<uint8_t>(0x80 | 0x20 | (ext ? 0x10 : 0));  // V=2, P=1
  out[1] = payload_type & 0x7f;
  Store16(out + 2, sequence);
  Store32(out + 4, timestamp);
  Store32(out + 8, ssrc);
  if (ext) WriteTwccExtension(out + 12, twcc_id, twcc_seq);
  const size_t pad = total - head;
  std::memset(out + head, 0, pad - 1);
  out[total - 1] = static_cast<uint8_t>(pad);
  return total;
}

bool FindRtpExtension(const uint8_t* d, const RtpHeader& h, uint8_t id, const uint8_t** value, size_t* len) {
  if (id == 0 || h.header_len <= h.csrc_end + 4) return false;
  const uint16_t profile = Load16(d + h.csrc_end);
  size_t off = h.csrc_end + 4;
  const size_t end = h.header_len;
  if (profile == 0xBEDE) {  // one-byte headers: 4-bit id, 4-bit length-1
    while (off < end) {
      const uint8_t b = d[off];
      if (b == 0) {  // padding
        off++;
        continue;
      }
      const uint8_t eid = b >> 4;
      const size_t elen = (b & 0x0f) + 1u;
      if (eid == 15) return false;
      if (off + 1 + elen > end) return false;
      if (eid == id) {
        *value = d + off + 1;
        *len = elen;
        return true;
      }
      off += 1 + elen;
    }
    return false;
  }
  if ((profile & 0xfff0) == 0x1000) {  // two-byte headers: 8-bit id, 8-bit length
    while (off < end) {
      const uint8_t eid = d[off];
      if (eid == 0) {
        off++;
        continue;
      }
      if (off + 2 > end) return false;
      const size_t elen = d[off + 1];
      if (off + 2 + elen > end) return false;
      if (eid == id) {
        *value = d + off + 2;
        *len = elen;
        return true;
      }
      off += 2 + elen;
    }
  }
  return false;
}

size_t BuildPli(uint8_t* out, uint32_t sender_ssrc, uint32_t media_ssrc) {
  out[0] = 0x80 | 1;  // V=2, FMT=1 (PLI)
  out[1] = 206;       // PSFB
  Store16(out + 2, 2);
  Store32(out + 4, sender_ssrc);
  Store32(out + 8, media_ssrc);
  return 12;
}

}  // namespace halfsec
