// OpenSSL's error queue as readable text, for DtlsIdentity and DtlsTransport error messages.
// Include only from dtls/.
#pragma once
#include <string>

namespace halfsec {
namespace dtls_detail {

// Drains this thread's OpenSSL error queue into one readable string.
std::string DrainErrors();
// `what`, then ": " and the drained queue when it was not empty.
std::string WithErrors(const char* what);

}  // namespace dtls_detail
}  // namespace halfsec
