#include "rtp/transport_cc_reader.h"

#include "rtp/rtp.h"

namespace halfsec {

namespace {

constexpr size_t kHeaderBytes = 20;  // RTCP header, sender and media SSRC, base, count, ref, fb count

// Walks the packet status chunks (§3.1.2-3.1.4) from `off`, calling on(symbol, run) for each
// run of one status symbol, until `total` symbols were produced. Returns the offset after the
// last chunk, or 0 when a chunk is missing or a symbol is reserved.
template <typename On>
size_t WalkChunks(const uint8_t* p, size_t off, size_t end, uint32_t total, On&& on) {
  uint32_t done = 0;
  while (done < total) {
    if (off + 2 > end) return 0;
    const uint16_t chunk = Load16(p + off);
    off += 2;
    const uint32_t left = total - done;
    if ((chunk & 0x8000) == 0) {  // run length: 2-bit symbol, 13-bit run
      const uint8_t symbol = static_cast<uint8_t>((chunk >> 13) & 3);
      uint32_t run = chunk & 0x1fff;
      if (symbol == 3 || run == 0) return 0;
      if (run > left) run = left;
      if (!on(symbol, run)) return 0;
      done += run;
    } else if ((chunk & 0x4000) == 0) {  // status vector, 14 one-bit symbols
      for (int i = 13; i >= 0 && done < total; i--, done++) {
        if (!on(static_cast<uint8_t>((chunk >> i) & 1), 1)) return 0;
      }
    } else {  // status vector, 7 two-bit symbols
      for (int i = 6; i >= 0 && done < total; i--, done++) {
        const uint8_t symbol = static_cast<uint8_t>((chunk >> (2 * i)) & 3);
        if (symbol == 3 || !on(symbol, 1)) return 0;
      }
    }
  }
  return off;
}

}  // namespace

bool ParseTransportCc(const uint8_t* p, size_t n, TransportCcFeedback* fb, TransportCcArrival* out, size_t max,
                      size_t* count) {
  *count = 0;
  if (n < kHeaderBytes || (p[0] >> 6) != 2 || (p[0] & 0x1f) != 15 || p[1] != 205) return false;
  const size_t len = (static_cast<size_t>(Load16(p + 2)) + 1) * 4;
  if (len > n || len < kHeaderBytes) return false;
  size_t end = len;
  if (p[0] & 0x20) {  // RTCP padding: its last octet counts the padding octets
    const size_t pad = p[len - 1];
    if (pad == 0 || pad > len - kHeaderBytes) return false;
    end -= pad;
  }
  fb->sender_ssrc = Load32(p + 4);
  fb->media_ssrc = Load32(p + 8);
  fb->base_seq = Load16(p + 12);
  fb->status_count = Load16(p + 14);
  int32_t ref = static_cast<int32_t>((static_cast<uint32_t>(p[16]) << 16) | (p[17] << 8) | p[18]);
  if (ref & 0x800000) ref -= 0x1000000;
  fb->reference_ticks = ref;
  fb->feedback_count = p[19];
  fb->received = fb->lost = 0;
  if (fb->status_count == 0) return false;

  // First pass: where the deltas start and how many bytes they take.
  uint32_t small = 0, large = 0, lost = 0;
  const size_t deltas = WalkChunks(p, kHeaderBytes, end, fb->status_count, [&](uint8_t s, uint32_t run) {
    if (s == 0) lost += run;
    else if (s == 1) small += run;
    else large += run;
    return true;
  });
  if (deltas == 0) return false;
  if (small + large > max) return false;
  if (deltas + small + 2 * static_cast<size_t>(large) > end) return false;

  // Second pass: the arrival times, each delta (250 µs units) from the one before.
  size_t d = deltas;
  int64_t t = static_cast<int64_t>(ref) * 64000;
  uint16_t seq = fb->base_seq;
  size_t k = 0;
  WalkChunks(p, kHeaderBytes, end, fb->status_count, [&](uint8_t s, uint32_t run) {
    if (s == 0) {
      seq = static_cast<uint16_t>(seq + run);
      return true;
    }
    for (uint32_t i = 0; i < run; i++, seq++) {
      int64_t delta;
      if (s == 1) {
        delta = p[d];
        d += 1;
      } else {
        delta = static_cast<int16_t>(Load16(p + d));
        d += 2;
      }
      t += delta * 250;
      out[k].seq = seq;
      out[k].arrival_us = t;
      k++;
    }
    return true;
  });
  fb->received = small + large;
  fb->lost = lost;
  *count = k;
  return true;
}

}  // namespace halfsec
