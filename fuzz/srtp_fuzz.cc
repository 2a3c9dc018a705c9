// libFuzzer target: SRTP/SRTCP unprotect (both profiles) with a fixed master key.
//
// Input: one mode byte, then packets, each a 2-byte big-endian length and that many bytes.
// Mode bits: 0 = GCM (else AES-CM), 1 = SRTCP (else SRTP), 2 = round trip (else raw),
// 3 = tamper (round trip only). Several packets per input exercise the replay window and the
// rollover-counter guess, which carry state from one packet to the next.
//   raw:        each packet goes straight to Unprotect (what a hostile peer can send).
//   round trip: a sender context Protects each packet, a receiver Unprotects it. Untampered, the
//               plaintext must come back byte for byte (or be refused as a replay); tampered (one
//               bit flipped), it must be refused.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "srtp/srtp.h"

using namespace halfsec;

namespace {

// Shared with tools/srtp_seeds.cc so the seeds authenticate.
const uint8_t kMasterKey[16] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
                                0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39};
const uint8_t kMasterSalt[14] = {0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe,
                                 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
constexpr size_t kMaxPackets = 64;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Input {
  uint8_t mode = 0;
  std::vector<std::vector<uint8_t>> packets;
};

Input Split(const uint8_t* d, size_t n) {
  Input in;
  if (n == 0) return in;
  in.mode = d[0];
  size_t off = 1;
  while (n - off >= 2 && in.packets.size() < kMaxPackets) {
    size_t len = (size_t{d[off]} << 8) | d[off + 1];
    off += 2;
    if (len > n - off) len = n - off;
    in.packets.emplace_back(d + off, d + off + len);
    off += len;
  }
  return in;
}

int Unprotect(SrtpContext& c, bool rtcp, uint8_t* p, size_t n) {
  return rtcp ? c.UnprotectRtcp(p, n) : c.UnprotectRtp(p, n);
}

bool KnownError(int r) {
  return r == kSrtpMalformed || r == kSrtpAuthFail || r == kSrtpReplay || r == kSrtpTooManySsrcs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in = Split(data, size);
  const SrtpProfile profile = (in.mode & 1) ? SrtpProfile::kAeadAes128Gcm : SrtpProfile::kAes128CmSha1_80;
  const bool rtcp = (in.mode & 2) != 0;
  const bool round_trip = (in.mode & 4) != 0;
  const bool tamper = (in.mode & 8) != 0;

  SrtpContext rx;
  Check(rx.Init(profile, kMasterKey, kMasterSalt));

  if (!round_trip) {
    for (auto& pkt : in.packets) {
      // Exact-size heap copy so ASan sees any access past the datagram.
      std::unique_ptr<uint8_t[]> buf(new uint8_t[pkt.empty() ? 1 : pkt.size()]);
      if (!pkt.empty()) std::memcpy(buf.get(), pkt.data(), pkt.size());
      const int r = Unprotect(rx, rtcp, pkt.empty() ? nullptr : buf.get(), pkt.size());
      Check(r >= 0 ? static_cast<size_t>(r) < pkt.size() : KnownError(r));
    }
    return 0;
  }

  SrtpContext tx;
  Check(tx.Init(profile, kMasterKey, kMasterSalt));
  for (auto& pkt : in.packets) {
    const size_t len = pkt.size();
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len + kSrtpMaxTrailer]);
    if (len != 0) std::memcpy(buf.get(), pkt.data(), len);
    const int p = rtcp ? tx.ProtectRtcp(buf.get(), len) : tx.ProtectRtp(buf.get(), len);
    if (p < 0) {
      Check(KnownError(p));
      continue;
    }
    const size_t plen = static_cast<size_t>(p);
    Check(plen > len && plen <= len + kSrtpMaxTrailer);
    std::unique_ptr<uint8_t[]> wire(new uint8_t[plen]);
    std::memcpy(wire.get(), buf.get(), plen);
    if (tamper) {
      // Which bit: taken from the packet itself so the fuzzer steers it.
      const size_t bit = len >= 2 ? ((size_t{pkt[0]} << 8 | pkt[1]) % (plen * 8)) : 0;
      wire[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      const int u = Unprotect(rx, rtcp, wire.get(), plen);
      Check(u < 0 && KnownError(u));
      continue;
    }
    const int u = Unprotect(rx, rtcp, wire.get(), plen);
    if (u == kSrtpReplay && !rtcp) continue;  // a repeated or very old sequence number
    Check(u >= 0 && static_cast<size_t>(u) == len);
    Check(len == 0 || std::memcmp(wire.get(), pkt.data(), len) == 0);
  }
  return 0;
}
