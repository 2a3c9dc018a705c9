#include "rtp/keyframe.h"

namespace halfsec {

namespace {

bool H264NalIsKey(uint8_t type) { return type == 5 || type == 7; }  // IDR slice or SPS

bool H264(const uint8_t* p, size_t n) {
  if (n < 1) return false;
  const uint8_t type = p[0] & 0x1f;
  if (type >= 1 && type <= 23) return H264NalIsKey(type);
  if (type == 24) {  // STAP-A: 16-bit size, then the NAL unit
    size_t off = 1;
    while (off + 3 <= n) {
      const size_t size = (static_cast<size_t>(p[off]) << 8) | p[off + 1];
      if (size == 0 || off + 2 + size > n) return false;
      if (H264NalIsKey(p[off + 2] & 0x1f)) return true;
      off += 2 + size;
    }
    return false;
  }
  if (type == 28) return n >= 2 && (p[1] & 0x80) && H264NalIsKey(p[1] & 0x1f);  // FU-A start
  return false;
}

bool Vp8(const uint8_t* p, size_t n) {
  if (n < 1) return false;
  const bool x = p[0] & 0x80, s = p[0] & 0x10;
  const uint8_t pid = p[0] & 0x07;
  if (!s || pid != 0) return false;
  size_t off = 1;
  if (x) {
    if (off >= n) return false;
    const uint8_t ext = p[off++];
    if (ext & 0x80) {  // I: picture id, 7 or 15 bits
      if (off >= n) return false;
      off += (p[off] & 0x80) ? 2 : 1;
    }
    if (ext & 0x40) off++;           // L: TL0PICIDX
    if (ext & 0x30) off++;           // T or K: TID/KEYIDX byte
  }
  if (off >= n) return false;
  return (p[off] & 0x01) == 0;  // P bit of the VP8 frame header: 0 = key frame
}

bool Vp9(const uint8_t* p, size_t n) {
  if (n < 1) return false;
  const bool inter = p[0] & 0x40, begin = p[0] & 0x08;
  return begin && !inter;
}

bool Av1(const uint8_t* p, size_t n) { return n >= 1 && (p[0] & 0x08); }  // N: new coded video sequence

}  // namespace

bool IsKeyframeStart(Codec codec, const uint8_t* payload, size_t len) {
  switch (codec) {
    case Codec::kH264:
      return H264(payload, len);
    case Codec::kVp8:
      return Vp8(payload, len);
    case Codec::kVp9:
      return Vp9(payload, len);
    case Codec::kAv1:
      return Av1(payload, len);
    default:
      return false;
  }
}

}  // namespace halfsec
