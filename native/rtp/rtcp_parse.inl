// ParseRtcp is a template so the NACK callback inlines into the caller's loop.
#pragma once
#include "rtp/rtp.h"

namespace halfsec {

template <typename OnNack>
bool ParseRtcp(const uint8_t* d, size_t n, RtcpSummary* out, OnNack&& on_nack) {
  size_t off = 0;
  while (off + 4 <= n) {
    if ((d[off] >> 6) != 2) return false;
    const size_t len = (static_cast<size_t>(Load16(d + off + 2)) + 1) * 4;
    if (off + len > n) return false;
    const uint8_t count = d[off] & 0x1f;
    const uint8_t pt = d[off + 1];
    const uint8_t* p = d + off;
    if (off == 0) out->first_pt = pt;
    if ((pt == 200 || pt == 201) && len >= 8) {
      size_t blocks = pt == 200 ? 28 : 8;  // report blocks start after the SR sender info
      if (pt == 200 && len >= 28) {
        out->has_sr = true;
        out->sr_ssrc = Load32(p + 4);
        out->sr_ntp = (static_cast<uint64_t>(Load32(p + 8)) << 32) | Load32(p + 12);
        out->sr_rtp = Load32(p + 16);
      }
      for (size_t b = 0, q = blocks; b < count && q + 24 <= len; b++, q += 24) {
        const uint32_t about = Load32(p + q);
        const bool wanted = out->report_for != 0 && about == out->report_for;
        if (out->has_report && !(wanted && out->report_ssrc != about)) continue;
        out->has_report = true;
        out->report_ssrc = about;
        out->fraction_lost = p[q + 4];
        out->last_sr = Load32(p + q + 16);
        out->delay_since_sr = Load32(p + q + 20);
      }
    } else if (pt == 202) {
      // SDES: walk the chunks' items for a CNAME.
      size_t q = 4;
      for (int c = 0; c < count && q + 4 <= len; c++) {
        q += 4;
        while (q < len && p[q] != 0) {
          if (q + 2 > len || q + 2 + p[q + 1] > len) break;
          if (p[q] == 1 && p[q + 1] > 0) out->has_cname = true;
          q += 2 + p[q + 1];
        }
        q = (q + 4) & ~size_t{3};  // the null octet(s) up to the next word
      }
    } else if (pt == 205 && count == 1 && len >= 12) {  // generic NACK
      const uint32_t media = Load32(p + 8);
      for (size_t f = 12; f + 4 <= len; f += 4) {
        const uint16_t pid = Load16(p + f);
        const uint16_t blp = Load16(p + f + 2);
        on_nack(media, pid);
        for (int b = 0; b < 16; b++) {
          if (blp & (1u << b)) on_nack(media, static_cast<uint16_t>(pid + b + 1));
        }
      }
    } else if (pt == 206 && len >= 12) {
      if (count == 1) {  // PLI
        out->keyframe_request = true;
        out->keyframe_ssrc = Load32(p + 8);
      } else if (count == 4 && len >= 20) {  // FIR: the SSRC is in the FCI
        out->keyframe_request = true;
        out->keyframe_ssrc = Load32(p + 12);
      } else if (count == 15 && len >= 20 && p[12] == 'R' && p[13] == 'E' && p[14] == 'M' && p[15] == 'B') {
        const uint8_t exp = p[17] >> 2;
        const uint64_t mantissa = (static_cast<uint64_t>(p[17] & 0x03) << 16) | (p[18] << 8) | p[19];
        if (exp <= 46) {
          out->has_remb = true;
          out->remb_bps = mantissa << exp;
        }
      }
    }
    off += len;
  }
  return off == n;
}

}  // namespace halfsec
