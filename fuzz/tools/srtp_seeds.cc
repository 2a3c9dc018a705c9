// Writes SRTP fuzz seeds (see ../srtp_fuzz.cc for the input format): for each profile and for
// SRTP and SRTCP, a raw seed holding packets protected with the fuzzer's fixed key, and a
// round-trip seed holding plaintext. Usage: srtp_seeds <output dir>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "srtp/srtp.h"

using namespace halfsec;

namespace {
const uint8_t kMasterKey[16] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
                                0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39};
const uint8_t kMasterSalt[14] = {0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe,
                                 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};

std::vector<uint8_t> RtpPacket(uint16_t seq, bool ext, size_t payload) {
  std::vector<uint8_t> p = {static_cast<uint8_t>(0x80 | (ext ? 0x10 : 0)), 0x66, static_cast<uint8_t>(seq >> 8),
                            static_cast<uint8_t>(seq), 0, 0, 0x0b, 0xb8, 0, 0, 0x04, 0x57};
  if (ext) p.insert(p.end(), {0xbe, 0xde, 0, 1, 0x10, 0x30, 0, 0});
  for (size_t i = 0; i < payload; ++i) p.push_back(static_cast<uint8_t>(i * 7));
  return p;
}

std::vector<uint8_t> RtcpPacket() {
  // Receiver report (no blocks) + PLI.
  return {0x80, 201, 0, 1, 0, 0, 0x08, 0xae, 0x81, 206, 0, 2, 0, 0, 0x08, 0xae, 0, 0, 0x04, 0x57};
}

void Append(std::vector<uint8_t>& out, const uint8_t* p, size_t n) {
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), p, p + n);
}

bool Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  for (int gcm = 0; gcm < 2; ++gcm) {
    for (int rtcp = 0; rtcp < 2; ++rtcp) {
      const SrtpProfile profile = gcm ? SrtpProfile::kAeadAes128Gcm : SrtpProfile::kAes128CmSha1_80;
      SrtpContext tx;
      if (!tx.Init(profile, kMasterKey, kMasterSalt)) return 1;
      std::vector<uint8_t> raw = {static_cast<uint8_t>(gcm | (rtcp << 1))};
      std::vector<uint8_t> plain = {static_cast<uint8_t>(gcm | (rtcp << 1) | 4)};
      for (uint16_t i = 0; i < 3; ++i) {
        std::vector<uint8_t> p = rtcp ? RtcpPacket() : RtpPacket(static_cast<uint16_t>(65534 + i), i == 1, 40 + i);
        Append(plain, p.data(), p.size());
        p.resize(p.size() + kSrtpMaxTrailer);
        const int n = rtcp ? tx.ProtectRtcp(p.data(), p.size() - kSrtpMaxTrailer)
                           : tx.ProtectRtp(p.data(), p.size() - kSrtpMaxTrailer);
        if (n < 0) return 1;
        Append(raw, p.data(), static_cast<size_t>(n));
      }
      const std::string name = std::string(gcm ? "gcm" : "cm") + (rtcp ? "-srtcp" : "-srtp");
      if (!Write(dir + "/" + name + "-protected", raw) || !Write(dir + "/" + name + "-plain", plain)) return 1;
    }
  }
  return 0;
}
