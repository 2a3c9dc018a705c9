#include "rtp/vpx_descriptor.h"

namespace halfsec {

namespace {

// The picture id at p (RFC 7741 / RFC 9628: M bit set -> 15 bits, else 7); 0: does not fit.
size_t ReadPictureId(const uint8_t* p, size_t left, uint16_t* id) {
  if (left < 1) return 0;
  if (p[0] & 0x80) {
    if (left < 2) return 0;
    *id = static_cast<uint16_t>(((p[0] & 0x7f) << 8) | p[1]);
    return 2;
  }
  *id = p[0] & 0x7f;
  return 1;
}

VpxLayers ParseVp8(const uint8_t* p, size_t len) {
  VpxLayers r;
  if (len < 1) return r;
  size_t off = 1;
  const bool x = p[0] & 0x80;
  r.begins = (p[0] & 0x10) && (p[0] & 0x07) == 0;
  if (x) {
    if (len < off + 1) return r;
    const uint8_t ext = p[off++];
    const bool i = ext & 0x80, l = ext & 0x40, t = ext & 0x20, k = ext & 0x10;
    if (i) {
      const size_t n = ReadPictureId(p + off, len - off, &r.picture_id);
      if (n == 0) return r;
      r.has_picture_id = true;
      off += n;
    }
    if (l) {
      if (len < off + 1) return r;
      r.has_tl0picidx = true;
      r.tl0picidx = p[off++];
    }
    if (t || k) {
      if (len < off + 1) return r;
      if (t) {
        r.has_tid = true;
        r.tid = static_cast<uint8_t>(p[off] >> 6);
        r.switch_up = p[off] & 0x20;
      }
      off++;
    }
  }
  if (len <= off) return r;  // a descriptor with no payload after it
  r.descriptor_len = off;
  r.parsed = true;
  return r;
}

VpxLayers ParseVp9(const uint8_t* p, size_t len) {
  VpxLayers r;
  if (len < 1) return r;
  const uint8_t b0 = p[0];
  const bool i = b0 & 0x80, pbit = b0 & 0x40, l = b0 & 0x20, f = b0 & 0x10, v = b0 & 0x02;
  r.inter_predicted = pbit;
  r.begins = b0 & 0x08;
  r.ends = b0 & 0x04;
  size_t off = 1;
  if (i) {
    const size_t n = ReadPictureId(p + off, len - off, &r.picture_id);
    if (n == 0) return r;
    r.has_picture_id = true;
    off += n;
  }
  if (l) {
    if (len < off + 1) return r;
    const uint8_t li = p[off++];
    r.has_tid = true;
    r.tid = static_cast<uint8_t>(li >> 5);
    r.switch_up = li & 0x10;
    r.sid = static_cast<uint8_t>((li >> 1) & 0x07);
    if (!f) {
      if (len < off + 1) return r;
      r.has_tl0picidx = true;
      r.tl0picidx = p[off++];
    }
  }
  if (f && pbit) {
    // Up to three P_DIFF bytes, each with N set when another follows (RFC 9628 §4.2).
    for (int k = 0;; k++) {
      if (k == 3 || len < off + 1) return r;
      const bool more = p[off++] & 0x01;
      if (!more) break;
    }
  }
  if (v) {
    // Scalability structure (RFC 9628 §4.2.1): N_S, Y, G; widths/heights; N_G and the group.
    if (len < off + 1) return r;
    const uint8_t ss = p[off++];
    const size_t ns = static_cast<size_t>(ss >> 5) + 1;
    const bool y = ss & 0x10, g = ss & 0x08;
    if (y) off += 4 * ns;
    if (g) {
      if (len < off + 1) return r;
      const size_t ng = p[off++];
      for (size_t k = 0; k < ng; k++) {
        if (len < off + 1) return r;
        const size_t refs = (p[off] >> 2) & 0x03;
        off += 1 + refs;
      }
    }
    if (len < off) return r;
  }
  if (len <= off) return r;
  r.descriptor_len = off;
  r.parsed = true;
  return r;
}

}  // namespace

VpxLayers ParseVpxDescriptor(Codec codec, const uint8_t* payload, size_t len) {
  if (codec == Codec::kVp8) return ParseVp8(payload, len);
  if (codec == Codec::kVp9) return ParseVp9(payload, len);
  return {};
}

}  // namespace halfsec
