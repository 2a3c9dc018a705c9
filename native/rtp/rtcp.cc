#include "rtp/rtcp.h"

#include <time.h>

#include <cstring>

namespace halfsec {

namespace {
void Header(uint8_t* out, uint8_t count, uint8_t pt, size_t len_bytes) {
  out[0] = static_cast<uint8_t>(0x80 | count);
  out[1] = pt;
  Store16(out + 2, static_cast<uint16_t>(len_bytes / 4 - 1));
}
}  // namespace

uint64_t NtpNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  constexpr uint64_t kEpochOffset = 2208988800ull;  // 1900 -> 1970
  const uint64_t secs = static_cast<uint64_t>(ts.tv_sec) + kEpochOffset;
  const uint64_t frac = (static_cast<uint64_t>(ts.tv_nsec) << 32) / 1000000000ull;
  return (secs << 32) | frac;
}

size_t BuildReceiverReport(uint8_t* out, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t fraction_lost,
                           uint32_t cumulative_lost, uint32_t highest_seq, uint32_t jitter, uint32_t last_sr,
                           uint32_t delay_since_sr) {
  Header(out, 1, 201, 32);
  Store32(out + 4, sender_ssrc);
  Store32(out + 8, media_ssrc);
  Store32(out + 12, (static_cast<uint32_t>(fraction_lost) << 24) | (cumulative_lost & 0xffffff));
  Store32(out + 16, highest_seq);
  Store32(out + 20, jitter);
  Store32(out + 24, last_sr);
  Store32(out + 28, delay_since_sr);
  return 32;
}

size_t BuildReceiverReport(uint8_t* out, uint32_t sender_ssrc, const ReportBlock* blocks, int count) {
  if (count > 31) count = 31;
  const size_t len = 8 + 24 * static_cast<size_t>(count);
  Header(out, static_cast<uint8_t>(count), 201, len);
  Store32(out + 4, sender_ssrc);
  for (int i = 0; i < count; i++) {
    const ReportBlock& b = blocks[i];
    uint8_t* p = out + 8 + 24 * i;
    Store32(p, b.ssrc);
    Store32(p + 4, (static_cast<uint32_t>(b.fraction_lost) << 24) | (b.cumulative_lost & 0xffffff));
    Store32(p + 8, b.highest_seq);
    Store32(p + 12, b.jitter);
    Store32(p + 16, b.last_sr);
    Store32(p + 20, b.delay_since_sr);
  }
  return len;
}

size_t BuildSdesCname(uint8_t* out, const uint32_t* ssrcs, int n, std::string_view cname) {
  if (cname.size() > 255) cname = cname.substr(0, 255);
  if (n > 31) n = 31;
  size_t off = 4;
  for (int i = 0; i < n; i++) {
    Store32(out + off, ssrcs[i]);
    out[off + 4] = 1;  // CNAME
    out[off + 5] = static_cast<uint8_t>(cname.size());
    std::memcpy(out + off + 6, cname.data(), cname.size());
    size_t end = off + 6 + cname.size();
    // The item list ends with at least one null octet, padded to the next word.
    do out[end++] = 0;
    while (end % 4 != 0);
    off = end;
  }
  Header(out, static_cast<uint8_t>(n), 202, off);
  return off;
}

size_t BuildSenderReport(uint8_t* out, uint32_t ssrc, uint64_t ntp, uint32_t rtp, uint32_t packets,
                         uint32_t octets) {
  Header(out, 0, 200, 28);
  Store32(out + 4, ssrc);
  Store32(out + 8, static_cast<uint32_t>(ntp >> 32));
  Store32(out + 12, static_cast<uint32_t>(ntp));
  Store32(out + 16, rtp);
  Store32(out + 20, packets);
  Store32(out + 24, octets);
  return 28;
}

size_t BuildRemb(uint8_t* out, uint32_t sender_ssrc, uint64_t bps, const uint32_t* ssrcs, int n) {
  const size_t len = 20 + 4 * static_cast<size_t>(n);
  Header(out, 15, 206, len);
  Store32(out + 4, sender_ssrc);
  Store32(out + 8, 0);
  out[12] = 'R';
  out[13] = 'E';
  out[14] = 'M';
  out[15] = 'B';
  uint8_t exp = 0;
  while ((bps >> exp) > 0x3ffff) exp++;
  const uint32_t mantissa = static_cast<uint32_t>(bps >> exp);
  out[16] = static_cast<uint8_t>(n);
  out[17] = static_cast<uint8_t>((exp << 2) | (mantissa >> 16));
  out[18] = static_cast<uint8_t>(mantissa >> 8);
  out[19] = static_cast<uint8_t>(mantissa);
  for (int i = 0; i < n; i++) Store32(out + 20 + 4 * i, ssrcs[i]);
  return len;
}

size_t BuildNack(uint8_t* out, uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t* seqs, int count) {
  size_t off = 12;
  int i = 0, entries = 0;
  while (i < count && entries < 16) {
    const uint16_t pid = seqs[i++];
    uint16_t blp = 0;
    while (i < count) {
      const uint16_t diff = static_cast<uint16_t>(seqs[i] - pid);
      if (diff == 0) {
        i++;
        continue;
      }
      if (diff > 16) break;
      blp |= static_cast<uint16_t>(1u << (diff - 1));
      i++;
    }
    Store16(out + off, pid);
    Store16(out + off + 2, blp);
    off += 4;
    entries++;
  }
  Header(out, 1, 205, off);
  Store32(out + 4, sender_ssrc);
  Store32(out + 8, media_ssrc);
  return off;
}

}  // namespace halfsec
