// What DTLS-SRTP (RFC 5764) hands over from a connected SSL: the protection profile use_srtp
// negotiated and the SRTP keys. Include only from dtls/.
#pragma once
#include <openssl/ssl.h>

#include <string>

#include "dtls/dtls.h"

namespace halfsec {
namespace dtls_detail {

// The profile use_srtp settled on (RFC 5764 4.1.2), if it is one SrtpProfile has. False with
// *error set when none was negotiated or it is another one.
bool NegotiatedSrtpProfile(SSL* ssl, SrtpProfile* profile, std::string* error);

// RFC 5764 4.2 keys for `profile` via SSL_export_keying_material, in our local/remote terms
// (`role` is ours). False (and *out untouched) if OpenSSL refuses.
bool ExportSrtpKeys(SSL* ssl, DtlsRole role, SrtpProfile profile, SrtpKeyMaterial* out);

}  // namespace dtls_detail
}  // namespace halfsec
