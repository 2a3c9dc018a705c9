// The RTCP the relay reads and writes (RFC 3550, RFC 4585, RFC 5104, REMB draft).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace halfsec {

// What one compound packet says, as far as the relay cares.
struct RtcpSummary {
  bool keyframe_request = false;  // PLI or FIR
  uint32_t keyframe_ssrc = 0;
  // Receiver report block about one of our SSRCs: the one about `report_for` when the caller
  // set it (a viewer's RR also has blocks for the RTX stream, often first), else the first.
  uint32_t report_for = 0;
  bool has_report = false;
  uint32_t report_ssrc = 0;
  uint8_t fraction_lost = 0;  // /256
  uint32_t last_sr = 0, delay_since_sr = 0;
  // Sender report (from a publisher).
  bool has_sr = false;
  uint32_t sr_ssrc = 0;
  uint64_t sr_ntp = 0;
  uint32_t sr_rtp = 0;
  // REMB estimate in bits per second.
  bool has_remb = false;
  uint64_t remb_bps = 0;
  // RFC 3550 §6.1: the first packet's type (200 SR, 201 RR for a compound packet) and whether
  // an SDES packet carries a CNAME item.
  uint8_t first_pt = 0;
  bool has_cname = false;
};

// Calls `on_nack(media_ssrc, seq)` for every sequence number a generic NACK asks for.
// False when the compound packet is malformed (nothing after the fault is used).
template <typename OnNack>
bool ParseRtcp(const uint8_t* d, size_t n, RtcpSummary* out, OnNack&& on_nack);

// Builders return the number of bytes written; `out` must have room for the stated maximum.
size_t BuildReceiverReport(uint8_t* out, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t fraction_lost,
                           uint32_t cumulative_lost, uint32_t highest_seq, uint32_t jitter, uint32_t last_sr,
                           uint32_t delay_since_sr);  // 32 bytes
size_t BuildSenderReport(uint8_t* out, uint32_t ssrc, uint64_t ntp, uint32_t rtp, uint32_t packets,
                         uint32_t octets);  // 28 bytes
size_t BuildRemb(uint8_t* out, uint32_t sender_ssrc, uint64_t bps, const uint32_t* ssrcs, int n);  // <= 20+4n
// A receiver report with one report block per entry of `blocks` (at most 31): 8 + 24 * count bytes.
struct ReportBlock {
  uint32_t ssrc;
  uint8_t fraction_lost;
  uint32_t cumulative_lost, highest_seq, jitter, last_sr, delay_since_sr;
};
size_t BuildReceiverReport(uint8_t* out, uint32_t sender_ssrc, const ReportBlock* blocks, int count);
// RFC 3550 §6.5: SDES with one chunk per SSRC in `ssrcs[0..n)`, each a CNAME item (`cname`
// cut to 255 bytes) padded to a word: <= 4 + n * 264 bytes.
size_t BuildSdesCname(uint8_t* out, const uint32_t* ssrcs, int n, std::string_view cname);
// Generic NACK for `count` sequence numbers (sorted ascending), at most 16 FCI entries: <= 76 bytes.
size_t BuildNack(uint8_t* out, uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t* seqs, int count);

uint64_t NtpNow();  // NTP timestamp of CLOCK_REALTIME

}  // namespace halfsec

#include "rtp/rtcp_parse.inl"
