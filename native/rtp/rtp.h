// RTP/RTCP header parsing and the few rewrites the relay does (RFC 3550, RFC 4585).
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

inline uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Load32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// RFC 5761 demultiplexing: RTCP packet types 192..223 sit where RTP has marker+PT 64..95.
inline bool LooksLikeRtcp(const uint8_t* d, size_t n) { return n >= 8 && (d[0] >> 6) == 2 && d[1] >= 192 && d[1] <= 223; }
inline bool LooksLikeRtp(const uint8_t* d, size_t n) { return n >= 12 && (d[0] >> 6) == 2 && !LooksLikeRtcp(d, n); }

struct RtpHeader {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  size_t csrc_end = 0;     // offset after the CSRC list (where an extension would start)
  size_t header_len = 0;   // offset of the payload
  size_t payload_len = 0;  // without padding
};

// Bounds-checked. False when the packet is not a well-formed RTP packet.
bool ParseRtp(const uint8_t* d, size_t n, RtpHeader* out);

// The header extension elements the relay writes toward one peer (RFC 8285): its own
// transport-wide sequence number and, for AV1, the publisher's dependency descriptor as is.
struct RtpExtensionsOut {
  uint8_t twcc_id = 0;  // 0: none
  uint16_t twcc_seq = 0;
  uint8_t dd_id = 0;  // 0: none
  const uint8_t* dd = nullptr;
  uint8_t dd_len = 0;  // 1..255
};

// Writes the packet `src` to `dst` with the header extension removed and the SSRC, payload type,
// sequence number and timestamp replaced. Returns the new length; `header_end` (if given) gets
// the payload's offset. `ext`: the elements written in the publisher's place, in the one-byte
// form (RFC 8285 §4.2) when every id is 1..14 and every element 1..16 bytes, else the two-byte
// form (§4.3: ids 1..255, up to 255 bytes; the peer must accept it, a=extmap-allow-mixed). At most
// 12 + 4 + 4 + 2 + 255 + 3 bytes replace the publisher's header and extension block.
size_t RewriteRtp(const uint8_t* src, size_t n, const RtpHeader& h, uint8_t* dst, uint32_t ssrc,
                  uint8_t payload_type, uint16_t sequence, uint32_t timestamp, const RtpExtensionsOut& ext,
                  size_t* header_end = nullptr);
// The same with the transport-wide sequence number only: `twcc_id` 1..14, one element in the
// one-byte form (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2), 8 bytes more; the
// header then ends at RtpHeaderEnd(h, twcc_id).
inline size_t RewriteRtp(const uint8_t* src, size_t n, const RtpHeader& h, uint8_t* dst, uint32_t ssrc,
                         uint8_t payload_type, uint16_t sequence, uint32_t timestamp, uint8_t twcc_id = 0,
                         uint16_t twcc_seq = 0) {
  RtpExtensionsOut ext;
  if (twcc_id >= 1 && twcc_id <= 14) {
    ext.twcc_id = twcc_id;
    ext.twcc_seq = twcc_seq;
  }
  return RewriteRtp(src, n, h, dst, ssrc, payload_type, sequence, timestamp, ext);
}
constexpr size_t kTwccExtensionBytes = 8;
inline size_t RtpHeaderEnd(const RtpHeader& h, uint8_t twcc_id) {
  return h.csrc_end + (twcc_id != 0 ? kTwccExtensionBytes : 0);
}
// Writes the one-byte-form extension block carrying only the transport-wide sequence number.
inline void WriteTwccExtension(uint8_t* p, uint8_t twcc_id, uint16_t twcc_seq) {
  p[0] = 0xBE;
  p[1] = 0xDE;
  p[2] = 0;
  p[3] = 1;  // one 32-bit word follows
  p[4] = static_cast<uint8_t>((twcc_id << 4) | 1);  // L = 1: two bytes of data
  Store16(p + 5, twcc_seq);
  p[7] = 0;  // padding
}

// A padding-only RTP packet (RFC 3550 §5.1 P bit) of `total` bytes (header, extension and
// padding; 12 + 8 + 1 .. 12 + 8 + 255), e.g. a bandwidth probe on an RTX stream (RFC 4588 §4).
size_t BuildPaddingRtp(uint8_t* out, size_t total, uint32_t ssrc, uint8_t payload_type, uint16_t sequence,
                       uint32_t timestamp, uint8_t twcc_id, uint16_t twcc_seq);

// Finds header extension element `id` (RFC 8285, one- or two-byte form). False when absent.
bool FindRtpExtension(const uint8_t* d, const RtpHeader& h, uint8_t id, const uint8_t** value, size_t* len);

// A PLI from `sender_ssrc` about `media_ssrc`; writes 12 bytes.
size_t BuildPli(uint8_t* out, uint32_t sender_ssrc, uint32_t media_ssrc);

}  // namespace halfsec
