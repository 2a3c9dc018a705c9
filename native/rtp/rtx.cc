#include "rtp/rtx.h"

#include <cstring>

namespace halfsec {

bool UnwrapRtx(uint8_t* d, int* len, RtpHeader* h, uint8_t apt) {
  if (h->payload_len < 2) return false;
  const uint16_t osn = Load16(d + h->header_len);
  std::memmove(d + h->header_len, d + h->header_len + 2, static_cast<size_t>(*len) - h->header_len - 2);
  *len -= 2;
  d[1] = static_cast<uint8_t>((d[1] & 0x80) | apt);
  Store16(d + 2, osn);
  return ParseRtp(d, static_cast<size_t>(*len), h);
}

size_t InsertRtxOsn(uint8_t* d, size_t len, size_t header_end, uint16_t osn) {
  std::memmove(d + header_end + 2, d + header_end, len - header_end);
  Store16(d + header_end, osn);
  return len + 2;
}

}  // namespace halfsec
