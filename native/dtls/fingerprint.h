// Certificate fingerprints as SDP writes them (a=fingerprint, RFC 8122 / RFC 4572): formatting,
// parsing, the hash function names, and the check of a peer's certificate against the one the
// remote SDP gave. Include only from dtls/.
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>

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

// The remote SDP's a=fingerprint, which the peer's certificate must match: that digest, not a
// certificate chain, is what authenticates a WebRTC peer (RFC 8122 5, RFC 8827 6.5).
class ExpectedFingerprint {
 public:
  // `algorithm` and `value` as the a=fingerprint line gives them ("sha-256", "AB:CD:..."). False
  // with *error set if the hash function is not accepted, or the value is malformed or not of
  // that function's length.
  bool Set(const std::string& algorithm, const std::string& value, std::string* error);
  // True if `cert`'s digest is the expected one; otherwise *why says what differed.
  bool Matches(X509* cert, std::string* why) const;
  // Frees what it holds, once no certificate is left to check (after the handshake).
  void Release();

 private:
  const EVP_MD* md_ = nullptr;
  std::string algorithm_;
  std::vector<uint8_t> digest_;
};

}  // namespace dtls_detail
}  // namespace halfsec
