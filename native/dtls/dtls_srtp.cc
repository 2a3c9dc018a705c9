// See dtls_srtp.h.
#include "dtls/dtls_srtp.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace halfsec {
namespace dtls_detail {
namespace {
constexpr char kExporterLabel[] = "EXTRACTOR-dtls_srtp";
}  // namespace

bool NegotiatedSrtpProfile(SSL* ssl, SrtpProfile* profile, std::string* error) {
  const SRTP_PROTECTION_PROFILE* p = SSL_get_selected_srtp_profile(ssl);
  if (!p) {
    *error = "DTLS: no SRTP protection profile negotiated (use_srtp missing or no common profile)";
    return false;
  }
  if (p->id == static_cast<unsigned long>(SrtpProfile::kAeadAes128Gcm)) {
    *profile = SrtpProfile::kAeadAes128Gcm;
  } else if (p->id == static_cast<unsigned long>(SrtpProfile::kAes128CmSha1_80)) {
    *profile = SrtpProfile::kAes128CmSha1_80;
  } else {
    *error = "DTLS: unsupported SRTP protection profile " + std::to_string(p->id);
    return false;
  }
  return true;
}

bool ExportSrtpKeys(SSL* ssl, DtlsRole role, SrtpProfile profile, SrtpKeyMaterial* out) {
  constexpr size_t key_len = 16;
  const size_t salt_len = profile == SrtpProfile::kAeadAes128Gcm ? 12 : 14;
  const size_t total = 2 * (key_len + salt_len);
  uint8_t km[2 * (16 + 14)];
  ERR_clear_error();
  if (SSL_export_keying_material(ssl, km, total, kExporterLabel, sizeof kExporterLabel - 1, nullptr, 0, 0) != 1) {
    ERR_clear_error();
    return false;
  }
  // client_write_key | server_write_key | client_write_salt | server_write_salt.
  const uint8_t* client_key = km;
  const uint8_t* server_key = km + key_len;
  const uint8_t* client_salt = km + 2 * key_len;
  const uint8_t* server_salt = km + 2 * key_len + salt_len;
  const bool client = role == DtlsRole::kClient;
  *out = SrtpKeyMaterial{};
  out->profile = profile;
  std::copy_n(client ? client_key : server_key, key_len, out->local_key);
  std::copy_n(client ? client_salt : server_salt, salt_len, out->local_salt);
  std::copy_n(client ? server_key : client_key, key_len, out->remote_key);
  std::copy_n(client ? server_salt : client_salt, salt_len, out->remote_salt);
  OPENSSL_cleanse(km, sizeof km);
  return true;
}

}  // namespace dtls_detail
}  // namespace halfsec
