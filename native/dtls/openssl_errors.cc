// OpenSSL's error queue as readable text. See openssl_errors.h.
#include "dtls/openssl_errors.h"

#include <openssl/err.h>

namespace halfsec {
namespace dtls_detail {

// Drains this thread's OpenSSL error queue into one readable string.
std::string DrainErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string WithErrors(const char* what) {
  std::string detail = DrainErrors();
  std::string msg = what;
  if (!detail.empty()) msg += ": " + detail;
  return msg;
}

}  // namespace dtls_detail
}  // namespace halfsec
