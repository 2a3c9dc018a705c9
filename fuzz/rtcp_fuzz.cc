// libFuzzer target: the relay's compound-RTCP parser (PLI/FIR, NACK, reports, REMB) and builders.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "rtp/rtcp.h"
#include "rtp/rtp.h"

using namespace halfsec;

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}

// An independent reading of RFC 3550 §6.1 / RFC 4585 §6.1, to compare the scanner against.
bool Reference(const uint8_t* d, size_t n, bool* pli) {
  *pli = false;
  size_t off = 0;
  while (n - off >= 4) {
    if ((d[off] & 0xc0) != 0x80) return false;
    const size_t words = (static_cast<size_t>(d[off + 2]) << 8) | d[off + 3];
    if ((words + 1) * 4 > n - off) return false;
    if (d[off + 1] == 206 && ((d[off] & 0x1f) == 1 || (d[off] & 0x1f) == 4)) *pli = true;
    off += (words + 1) * 4;
  }
  return off == n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size + 12]);
  if (size != 0) std::memcpy(buf.get(), data, size);

  bool ref_pli = false;
  const bool ref_ok = Reference(buf.get(), size, &ref_pli);

  // The relay's parser (PLI/FIR, NACK, reports, REMB) agrees with the reference walk on
  // well-formedness, and a NACK FCI yields at most 17 sequence numbers per 4 bytes.
  RtcpSummary sum;
  size_t nacks = 0;
  const bool full_ok = ParseRtcp(buf.get(), size, &sum, [&](uint32_t, uint16_t) { nacks++; });
  Check(full_ok == ref_ok);
  Check(nacks <= (size / 4) * 17);
  // It may ignore a PLI/FIR too short to name its SSRC; it never invents one.
  if (full_ok && sum.keyframe_request) Check(ref_pli);

  // What the relay builds parses back to what it meant.
  {
    uint8_t out[128];
    const uint16_t seqs[3] = {static_cast<uint16_t>(size), static_cast<uint16_t>(size + 3), static_cast<uint16_t>(size + 40)};
    size_t len = BuildNack(out, 1, 0xabcdef01u, seqs, 3);
    const uint32_t remb_ssrcs[1] = {0x01020304u};
    len += BuildRemb(out + len, 1, 123456789ull + size, remb_ssrcs, 1);
    RtcpSummary s2;
    std::vector<uint16_t> got;
    Check(ParseRtcp(out, len, &s2, [&](uint32_t media, uint16_t q) {
      Check(media == 0xabcdef01u);
      got.push_back(q);
    }));
    Check(got.size() == 3 && got[0] == seqs[0] && got[1] == seqs[1] && got[2] == seqs[2]);
    Check(s2.has_remb && s2.remb_bps <= 123456789ull + size && s2.remb_bps >= (123456789ull + size) * 99 / 100);
  }

  // A well-formed compound packet with the relay's own PLI appended stays well-formed and
  // now asks for a keyframe.
  if (full_ok) {
    Check(BuildPli(buf.get() + size, 0x01020304u, 0x0a0b0c0du) == 12);
    RtcpSummary with_pli;
    Check(ParseRtcp(buf.get(), size + 12, &with_pli, [](uint32_t, uint16_t) {}) && with_pli.keyframe_request);
  }
  return 0;
}
