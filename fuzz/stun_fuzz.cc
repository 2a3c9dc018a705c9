// libFuzzer target: STUN parsing, MESSAGE-INTEGRITY / FINGERPRINT verification, and the
// builders fed with whatever the parser extracted (their output must parse and verify again).
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "ice/stun.h"

using namespace halfsec;

namespace {

// RFC 5769's password, so the seed vectors reach the "integrity verifies" branch.
constexpr std::string_view kKey = "VOkJxbRl1RmTxUk/WvJxBt";

void Check(bool ok) {
  if (!ok) std::abort();
}

// A message the builders wrote must round-trip through the parser and both checks.
void CheckBuilt(const uint8_t* out, size_t n, std::string_view key) {
  if (n == 0) return;
  StunMessage m;
  Check(ParseStun(out, n, &m));
  Check(VerifyStunFingerprint(out, n, m));
  if (!key.empty()) Check(VerifyStunIntegrity(out, n, m, key));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy: any read past the datagram is an ASan report, not a silent read
  // of the fuzzer's larger buffer.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  const uint8_t* p = size == 0 ? nullptr : buf.get();

  (void)LooksLikeStun(p, size);
  StunMessage m;
  if (!ParseStun(p, size, &m)) return 0;

  // What the parser hands out must point inside the datagram.
  if (!m.username.empty()) {
    const auto* u = reinterpret_cast<const uint8_t*>(m.username.data());
    Check(u >= p && u + m.username.size() <= p + size);
  }
  if (m.has_integrity) Check(m.integrity_offset + 24 <= size);
  if (m.has_fingerprint) Check(m.fingerprint_offset + 8 == size);

  (void)VerifyStunIntegrity(p, size, m, kKey);
  (void)VerifyStunIntegrity(p, size, m, std::string_view());
  (void)VerifyStunFingerprint(p, size, m);
  StunCrc32(p, size);

  // The relay answers with what it parsed: feed the parsed fields to every builder, into a
  // buffer whose capacity the input also picks (builders must refuse, not overrun).
  const size_t cap = 1 + (size > 20 ? p[size - 1] * 4u : 600u);
  std::unique_ptr<uint8_t[]> out(new uint8_t[cap]);
  const std::string_view key = (m.priority & 1) ? kKey : std::string_view();

  if (m.has_xor_mapped) {
    CheckBuilt(out.get(), BuildStunBindingSuccess(out.get(), cap, m.transaction_id,
                                                  reinterpret_cast<const sockaddr*>(&m.xor_mapped), key),
               key);
  }
  if (m.error_code != 0) {
    CheckBuilt(out.get(), BuildStunBindingError(out.get(), cap, m.transaction_id, m.error_code, m.username, key), key);
  }
  const size_t n = BuildStunBindingRequest(out.get(), cap, m.transaction_id, m.username, key, m.priority,
                                           m.has_ice_controlling, m.tie_breaker, m.use_candidate);
  CheckBuilt(out.get(), n, key);
  if (n != 0) {
    StunMessage r;
    Check(ParseStun(out.get(), n, &r));
    Check(r.username == m.username && r.priority == m.priority && r.tie_breaker == m.tie_breaker &&
          r.use_candidate == m.use_candidate && r.has_ice_controlling == m.has_ice_controlling &&
          std::memcmp(r.transaction_id, m.transaction_id, 12) == 0);
  }
  return 0;
}
