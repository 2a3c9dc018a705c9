// What a DtlsTransport keeps once its SSL is freed after the handshake (DtlsTransport::released).
// Include only from dtls/.
//
// Why: the SSL with its session, peer certificate, handshake hashes and record layer costs
// ~40 KiB per peer even without record buffers; after the handshake a WebRTC peer only needs the
// SRTP keys, our last flight (resent when the peer retransmits its own: RFC 6347 4.2.4), our own
// close_notify (made before the SSL goes away) and the peer's epoch-1 AEAD read key, so that
// only an authenticated alert ends the session.
#pragma once
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dtls/datagram_out.h"
#include "dtls/dtls.h"
#include "dtls/dtls_read_key.h"

namespace halfsec {
namespace dtls_detail {

class ReleasedState {
 public:
  ReleasedState() = default;
  ~ReleasedState();  // cleanses the keys
  ReleasedState(const ReleasedState&) = delete;
  ReleasedState& operator=(const ReleasedState&) = delete;

  // From a connected SSL about to be freed: its SRTP keys, the peer's read key, and our
  // close_notify, which SSL_shutdown writes into `out` and this takes back out of it (we send no
  // other record after the handshake, so its epoch and sequence number stay valid for whenever
  // the transport closes). `flight` is our last flight. False if the keys cannot be had: the
  // transport then keeps its SSL and never uses this; `out` is as it was.
  bool Capture(SSL* ssl, DtlsRole role, SrtpProfile profile, std::vector<std::vector<uint8_t>> flight,
               DatagramOut& out);
  // One datagram after the SSL was freed: the peer retransmitting its last flight gets ours again
  // in `out` (capped); everything else is ignored. True if it held an authenticated
  // close_notify or fatal alert: the session is over.
  bool OnDatagram(const uint8_t* d, size_t len, DatagramOut& out);
  // Queues our close_notify in `out` (nothing if it could not be made).
  void QueueCloseNotify(DatagramOut& out) const;

  const SrtpKeyMaterial& keys() const { return keys_; }

 private:
  SrtpKeyMaterial keys_;
  std::vector<std::vector<uint8_t>> last_flight_;
  std::vector<uint8_t> close_notify_;
  int flight_resends_ = 0;
  DtlsReadKey read_key_;
};

}  // namespace dtls_detail
}  // namespace halfsec
