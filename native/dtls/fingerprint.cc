// Certificate fingerprints as SDP writes them. See fingerprint.h.
#include "dtls/fingerprint.h"

#include <openssl/crypto.h>

#include <cctype>

#include "dtls/openssl_errors.h"

namespace halfsec {
namespace dtls_detail {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HexColon(const uint8_t* d, size_t n) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(n * 3);
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ':';
    s += kHex[d[i] >> 4];
    s += kHex[d[i] & 15];
  }
  return s;
}

// "AB:cd:..." (colons optional, surrounding blanks ignored) to bytes; false if malformed.
bool ParseFingerprint(const std::string& text, std::vector<uint8_t>* out) {
  out->clear();
  int hi = -1;
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  for (size_t i = b; i < e; ++i) {
    char c = text[i];
    if (c == ':') {
      if (hi >= 0) return false;  // a lone nibble before a colon
      continue;
    }
    int v = HexValue(c);
    if (v < 0) return false;
    if (hi < 0) {
      hi = v;
    } else {
      out->push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0 && !out->empty();
}

// The SDP hash function names (RFC 8122 / RFC 4572) we accept.
const EVP_MD* DigestForSdpName(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "sha-256") return EVP_sha256();
  if (n == "sha-1") return EVP_sha1();
  if (n == "sha-224") return EVP_sha224();
  if (n == "sha-384") return EVP_sha384();
  if (n == "sha-512") return EVP_sha512();
  return nullptr;
}

bool ExpectedFingerprint::Set(const std::string& algorithm, const std::string& value, std::string* error) {
  algorithm_ = algorithm;
  md_ = DigestForSdpName(algorithm);
  if (!md_) {
    *error = "DTLS: unsupported fingerprint algorithm '" + algorithm + "'";
    return false;
  }
  if (!ParseFingerprint(value, &digest_) || digest_.size() != static_cast<size_t>(EVP_MD_get_size(md_))) {
    *error = "DTLS: malformed " + algorithm + " fingerprint '" + value + "'";
    return false;
  }
  return true;
}

bool ExpectedFingerprint::Matches(X509* cert, std::string* why) const {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, md_, d, &n) != 1) {
    *why = WithErrors("DTLS fingerprint check: X509_digest failed");
    return false;
  }
  if (n != digest_.size() || CRYPTO_memcmp(d, digest_.data(), n) != 0) {
    *why = "DTLS fingerprint mismatch: peer certificate " + algorithm_ + " " + HexColon(d, n) +
           " does not match the SDP fingerprint " + HexColon(digest_.data(), digest_.size());
    return false;
  }
  return true;
}

void ExpectedFingerprint::Release() {
  std::vector<uint8_t>().swap(digest_);
  std::string().swap(algorithm_);
}

}  // namespace dtls_detail
}  // namespace halfsec
