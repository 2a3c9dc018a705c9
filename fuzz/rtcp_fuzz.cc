// libFuzzer target: the compound-RTCP walk that looks for PLI/FIR from viewers.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "rtp.h"

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

  bool pli = false, ref_pli = false;
  const bool ok = ScanRtcpForKeyframeRequest(buf.get(), size, &pli);
  const bool ref_ok = Reference(buf.get(), size, &ref_pli);
  Check(ok == ref_ok);
  if (ok) Check(pli == ref_pli);

  // A well-formed compound packet with the relay's own PLI appended stays well-formed and
  // now asks for a keyframe.
  if (ok) {
    Check(BuildPli(buf.get() + size, 0x01020304u, 0x0a0b0c0du) == 12);
    Check(ScanRtcpForKeyframeRequest(buf.get(), size + 12, &pli) && pli);
  }
  return 0;
}
