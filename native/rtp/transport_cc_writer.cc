#include "rtp/transport_cc_writer.h"

#include <algorithm>
#include <iterator>

#include "rtp/rtp.h"

namespace halfsec {

namespace {
constexpr size_t kHeader = 20;          // common header, two SSRCs, base, count, reference, fb count
constexpr int64_t kDeltaUs = 250;       // receive delta unit (§3.1.5)
constexpr int64_t kReferenceUs = 64000;  // reference time unit (§3.1)
constexpr int kRunMax = 8191;           // 13-bit run length (§3.1.3)

// Packet status symbols (§3.1.1).
constexpr uint8_t kLost = 0, kSmall = 1, kLarge = 2;

// Rounds a microsecond interval to the nearest 250 µs tick, half away from zero.
int64_t Ticks(int64_t us) { return us >= 0 ? (us + kDeltaUs / 2) / kDeltaUs : -((-us + kDeltaUs / 2) / kDeltaUs); }

// Packet status chunks for `sym[0..n)`, greedily: a run-length chunk (§3.1.3) for runs of 14 or
// more (or of 7 or more when a two-bit vector would be needed anyway), else a one-bit status
// vector of 14 symbols when none of them is a large delta, else a two-bit vector of 7 (§3.1.4).
// Vectors past the end are padded with "not received", which the status count cuts off.
size_t WriteChunks(const uint8_t* sym, int n, uint8_t* out) {
  size_t off = 0;
  int i = 0;
  while (i < n) {
    int run = 1;
    while (i + run < n && run < kRunMax && sym[i + run] == sym[i]) run++;
    const int span14 = std::min(14, n - i);
    const bool has_large = std::any_of(sym + i, sym + i + span14, [](uint8_t s) { return s == kLarge; });
    uint16_t chunk;
    if (run >= 14 || (has_large && run >= 7)) {
      chunk = static_cast<uint16_t>((sym[i] << 13) | run);
      i += run;
    } else if (!has_large) {
      chunk = 0x8000;
      for (int k = 0; k < span14; k++) chunk |= static_cast<uint16_t>(sym[i + k] << (13 - k));
      i += span14;
    } else {
      const int span7 = std::min(7, n - i);
      chunk = 0xc000;
      for (int k = 0; k < span7; k++) chunk |= static_cast<uint16_t>(sym[i + k] << (2 * (6 - k)));
      i += span7;
    }
    Store16(out + off, chunk);
    off += 2;
  }
  return off;
}
}  // namespace

TransportCcWriter::TransportCcWriter() { std::fill(std::begin(arrival_), std::end(arrival_), -1); }

int64_t TransportCcWriter::Unwrap(uint16_t seq) const {
  const int64_t newest = end_ - 1;
  return newest + static_cast<int16_t>(static_cast<uint16_t>(seq - External(newest)));
}

void TransportCcWriter::OnPacket(uint16_t seq, int64_t arrival_us, uint32_t media_ssrc) {
  if (media_ssrc != 0) media_ssrc_ = media_ssrc;
  if (arrival_us < 0) arrival_us = 0;
  if (!started_) {
    started_ = true;
    next_ = end_ = seq;
  }
  const int64_t s = Unwrap(seq);
  if (s - end_ < kWindow && end_ - s <= kWindow) {
    held_ = false;  // back among the current numbers: a held jump was a stray
    if (s >= seg_start_) Record(s, arrival_us);  // (before the latest jump: its line is gone)
    return;
  }
  // Far from the newest: hold it until the next packet follows it.
  const uint16_t after = static_cast<uint16_t>(seq - held_seq_);
  if (!held_ || after == 0 || after > kJumpFollow) {
    held_ = true;
    held_seq_ = seq;
    held_arrival_ = arrival_us;
    return;
  }
  // Confirmed: the held number continues right after the newest. What is pending before it
  // stays (in its own feedback); a segment still pending from an earlier jump is dropped, so
  // only one boundary is ever kept.
  held_ = false;
  jumps_++;
  if (next_ < seg_start_) next_ = seg_start_;
  prev_offset_ = offset_;
  seg_start_ = end_;
  offset_ = end_ - held_seq_;
  Record(end_, held_arrival_);
  Record(Unwrap(seq), arrival_us);
}

void TransportCcWriter::Record(int64_t s, int64_t arrival_us) {
  if (s >= end_) {
    for (int64_t x = std::max(end_, s - kWindow); x < s; x++) Slot(x) = -1;
    end_ = s + 1;
    // The oldest unreported numbers fall out of the ring: they are never reported.
    next_ = std::max(next_, end_ - kWindow);
    Slot(s) = arrival_us;
    return;
  }
  int64_t& slot = Slot(s);
  if (slot >= 0) return;  // a duplicate: the first arrival stands
  slot = arrival_us;
  next_ = std::min(next_, s);  // reordered: report from here again so the sender hears of it
}

size_t TransportCcWriter::Build(uint8_t* out, size_t cap, uint32_t sender_ssrc) {
  if (!pending() || cap < kMinPacket) return 0;
  // One feedback covers consecutive wire numbers: it stops where a jump was closed up.
  const int64_t stop = next_ < seg_start_ ? seg_start_ : end_;
  int64_t first = next_;
  while (first < stop && Slot(first) < 0) first++;
  if (first == stop) {
    // Nothing received before the boundary: on to the numbers after it (the newest number was
    // received, so this recurses at most once).
    next_ = stop;
    return stop < end_ ? Build(out, cap, sender_ssrc) : 0;
  }
  const int64_t reference = Slot(first) / kReferenceUs;
  int64_t at = reference * (kReferenceUs / kDeltaUs);  // running time in 250 µs ticks

  // Decide what fits: a bound on the chunks (one per 7 statuses, the worst case) keeps the
  // packet within `cap` whatever encoding WriteChunks then picks.
  static_assert(kWindow <= 0xffff, "one packet must be able to cover the window");
  uint8_t sym[kWindow];
  int16_t delta[kWindow];
  int n = 0, received = 0;
  size_t delta_bytes = 0;
  for (int64_t x = next_; x < stop; x++) {
    uint8_t s = kLost;
    int64_t d = 0;
    if (Slot(x) >= 0) {
      d = Ticks(Slot(x) - at * kDeltaUs);
      if (d < INT16_MIN || d > INT16_MAX) break;  // a new packet with its own reference time
      s = d >= 0 && d <= 0xff ? kSmall : kLarge;
    }
    const size_t chunk_bound = 2 * static_cast<size_t>((n + 1 + 6) / 7);
    if (kHeader + chunk_bound + delta_bytes + s + 3 > cap) break;
    sym[n++] = s;
    if (s != kLost) {
      delta[received++] = static_cast<int16_t>(d);
      delta_bytes += s;
      at += d;
    }
  }
  if (n == 0) return 0;

  out[0] = 0x80 | 15;  // V=2, no padding bit: the draft pads with zeros inside the length
  out[1] = 205;        // RTPFB
  Store32(out + 4, sender_ssrc);
  Store32(out + 8, media_ssrc_);
  Store16(out + 12, External(next_));
  Store16(out + 14, static_cast<uint16_t>(n));
  const uint32_t ref24 = static_cast<uint32_t>(reference) & 0xffffff;
  out[16] = static_cast<uint8_t>(ref24 >> 16);
  out[17] = static_cast<uint8_t>(ref24 >> 8);
  out[18] = static_cast<uint8_t>(ref24);
  out[19] = static_cast<uint8_t>(fb_count_++);
  size_t off = kHeader + WriteChunks(sym, n, out + kHeader);
  for (int k = 0, r = 0; k < n; k++) {
    if (sym[k] == kSmall) {
      out[off++] = static_cast<uint8_t>(delta[r++]);
    } else if (sym[k] == kLarge) {
      Store16(out + off, static_cast<uint16_t>(delta[r++]));
      off += 2;
    }
  }
  while (off % 4 != 0) out[off++] = 0;
  Store16(out + 2, static_cast<uint16_t>(off / 4 - 1));
  next_ += n;
  return off;
}

}  // namespace halfsec
