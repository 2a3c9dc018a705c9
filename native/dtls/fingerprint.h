// Certificate fingerprints as SDP writes them (a=fingerprint, RFC 8122 / RFC 4572): formatting,
// parsing, and the hash function names. Include only from dtls/.
#pragma once
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace halfsec {
namespace dtls_detail {

// Bytes as "AB:CD:...", upper-case hex.
std::string HexColon(const uint8_t* d, size_t n);
// "AB:cd:..." (colons optional, surrounding blanks ignored) to bytes; false if malformed.
bool ParseFingerprint(const std::string& text, std::vector<uint8_t>* out);
// The digest for an SDP hash function name ("sha-256", ...), or nullptr if not accepted.
const EVP_MD* DigestForSdpName(const std::string& name);

}  // namespace dtls_detail
}  // namespace halfsec
