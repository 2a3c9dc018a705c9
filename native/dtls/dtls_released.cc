// See dtls_released.h.
#include "dtls/dtls_released.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <utility>

#include "dtls/dtls_srtp.h"

namespace halfsec {
namespace dtls_detail {
namespace {

// Our last flight is resent at most this many times when the peer retransmits its own (RFC 6347
// 4.2.4: a peer retransmits with backoff until it hears us, so a handful covers any real loss,
// and a cap bounds what a forged handshake record can make us send).
constexpr int kMaxFlightResends = 8;

}  // namespace

ReleasedState::~ReleasedState() { OPENSSL_cleanse(&keys_, sizeof keys_); }

bool ReleasedState::Capture(SSL* ssl, DtlsRole role, SrtpProfile profile,
                            std::vector<std::vector<uint8_t>> flight, DatagramOut& out) {
  if (!ExportSrtpKeys(ssl, role, profile, &keys_)) return false;
  if (!read_key_.Derive(ssl, role == DtlsRole::kServer)) {
    OPENSSL_cleanse(&keys_, sizeof keys_);
    return false;
  }
  auto& writes = out.pending();
  const size_t before = writes.size();
  ERR_clear_error();
  SSL_shutdown(ssl);
  ERR_clear_error();
  for (size_t i = before; i < writes.size(); i++) close_notify_.insert(close_notify_.end(), writes[i].begin(), writes[i].end());
  writes.resize(before);
  last_flight_ = std::move(flight);
  return true;
}

bool ReleasedState::OnDatagram(const uint8_t* d, size_t len, DatagramOut& out) {
  const DtlsRecordScan scan = read_key_.Scan(d, len);
  if (scan.closed) return true;
  if (scan.handshake && !last_flight_.empty() && flight_resends_ < kMaxFlightResends) {
    flight_resends_++;
    out.pending().insert(out.pending().end(), last_flight_.begin(), last_flight_.end());
  }
  return false;
}

void ReleasedState::QueueCloseNotify(DatagramOut& out) const {
  if (!close_notify_.empty()) out.pending().push_back(close_notify_);
}

}  // namespace dtls_detail
}  // namespace halfsec
