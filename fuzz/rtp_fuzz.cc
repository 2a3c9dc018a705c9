// libFuzzer target: RTP header parsing and the per-viewer rewrite. The rewritten packet must
// parse again, carry the new SSRC / payload type / sequence number and the same payload bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "rtp/keyframe.h"
#include "rtp/rtp.h"

using namespace halfsec;

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> src(new uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(src.get(), data, size);
  const uint8_t* d = src.get();

  (void)LooksLikeRtp(d, size);
  (void)LooksLikeRtcp(d, size);
  RtpHeader h;
  if (!ParseRtp(d, size, &h)) return 0;
  Check(h.csrc_end >= 12 && h.csrc_end <= h.header_len && h.header_len <= size);
  Check(h.header_len + h.payload_len <= size);

  // The data plane writes into a buffer as large as the source packet: exactly that here, so
  // one byte too many is an ASan report.
  std::unique_ptr<uint8_t[]> dst(new uint8_t[size]);
  const uint32_t ssrc = h.ssrc ^ 0x5a5a5a5au;
  const uint8_t pt = static_cast<uint8_t>((h.payload_type + 1) & 0x7f);
  const uint16_t seq = static_cast<uint16_t>(h.sequence + 7);
  const uint32_t ts = h.timestamp + 3000;
  const size_t n = RewriteRtp(d, size, h, dst.get(), ssrc, pt, seq, ts);
  Check(n <= size);

  RtpHeader r;
  Check(ParseRtp(dst.get(), n, &r));
  Check((dst[0] & 0x10) == 0);  // extension gone
  Check(r.ssrc == ssrc && r.payload_type == pt && r.sequence == seq && r.marker == h.marker &&
        r.timestamp == ts);
  Check(r.payload_len == h.payload_len);
  Check(std::memcmp(dst.get() + r.header_len, d + h.header_len, h.payload_len) == 0);

  // Header extension lookup stays inside the extension block for every id.
  for (int id = 0; id < 256; id += 17) {
    const uint8_t* v = nullptr;
    size_t vlen = 0;
    if (FindRtpExtension(d, h, static_cast<uint8_t>(id), &v, &vlen)) {
      Check(v >= d + h.csrc_end + 4 && v + vlen <= d + h.header_len);
    }
  }
  // An element of the packet (as the AV1 dependency descriptor is) forwarded with a
  // transport-wide number, in the one-byte form (ids 12 and 3) or the two-byte one (id 200): the
  // output stays within the documented bound and both elements read back intact.
  const uint8_t* elem = nullptr;
  size_t elen = 0;
  for (int id = 1; id < 256 && !elem; id++) {
    if (!FindRtpExtension(d, h, static_cast<uint8_t>(id), &elem, &elen)) elem = nullptr;
  }
  if (elem && elen >= 1 && elen <= 255) {
    for (uint8_t dd_id : {uint8_t{12}, uint8_t{200}}) {
      RtpExtensionsOut ext;
      ext.twcc_id = 3;
      ext.twcc_seq = 0xbeef;
      ext.dd_id = dd_id;
      ext.dd = elem;
      ext.dd_len = static_cast<uint8_t>(elen);
      const size_t bound = h.csrc_end + 4 + 4 + 2 + elen + 3 + (size - h.header_len);
      std::unique_ptr<uint8_t[]> out(new uint8_t[bound]);
      size_t header_end = 0;
      const size_t m = RewriteRtp(d, size, h, out.get(), ssrc, pt, seq, ts, ext, &header_end);
      Check(m <= bound);
      RtpHeader o;
      Check(ParseRtp(out.get(), m, &o));
      Check(o.header_len == header_end && o.payload_len == h.payload_len);
      const uint8_t* v = nullptr;
      size_t vlen = 0;
      Check(FindRtpExtension(out.get(), o, dd_id, &v, &vlen) && vlen == elen && std::memcmp(v, elem, elen) == 0);
      Check(FindRtpExtension(out.get(), o, 3, &v, &vlen) && vlen == 2 && Load16(v) == 0xbeef);
    }
  }
  // Keyframe detection reads only the payload, whatever the codec.
  for (int c = 0; c <= 5; c++) (void)IsKeyframeStart(static_cast<Codec>(c), d + h.header_len, h.payload_len);
  return 0;
}
