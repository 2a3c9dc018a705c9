// The in-memory DTLS loopback behind the dtls test hooks (test_dtls.cc): two DtlsTransports
// against each other, datagrams in two queues delivered one at a time, optionally dropping some
// to exercise retransmission. Test-only; no N-API here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "dtls/dtls.h"

namespace halfsec {
namespace dtls_loopback {

const char* StateName(DtlsState s);
const char* ProfileName(SrtpProfile p);

// Replaces the identity's certificate by a copy carrying a ~3 KB comment extension, re-signed
// with the same key, so that the Certificate message cannot fit one 1200-byte datagram.
bool InstallBigCertificate(const DtlsIdentity& id);

// Replaces the identity's key and certificate by a fresh self-signed one of another key type
// ("rsa" 2048, "ed25519", "p384"), as peers other than browsers present.
bool InstallPeerKey(const DtlsIdentity& id, const std::string& type);

struct LoopbackOptions {
  bool corrupt_client_fp = false;  // the client expects a wrong server fingerprint
  bool corrupt_server_fp = false;  // the server expects a wrong client fingerprint
  int drop_every_nth = 0;          // drop every Nth datagram (counted over both directions)
  int loss_percent = 0;            // and/or drop datagrams at random (seeded, reproducible)
  uint32_t seed = 1;
  std::string client_profiles;     // use_srtp profile list override, "" = identity default
  std::string server_profiles;
  std::string algorithm = "sha-256";
  bool lowercase_fp = false;
  int garbage_to_server = 0;  // junk datagrams interleaved into the server's input
  int garbage_after = 0;      // junk datagrams fed to both sides once connected
  std::string close_by;       // "client" / "server": Close() after connecting
  bool big_cert = false;
  std::string client_key;  // "" = the identity's ECDSA P-256 key; else see InstallPeerKey
  bool client_own_cert = false;  // the client presents a DtlsCertificate of its own (UseCertificate)
  int deadline_ms = 5000;
  bool drop_server_last_flight = false;  // lose the server's ChangeCipherSpec + Finished once
  bool forged_alerts = false;            // feed both sides unauthenticated alerts once connected
  bool tamper_close = false;             // with close_by: deliver a copy with a flipped tag byte first
};

struct LoopbackResult {
  DtlsState client_state = DtlsState::kNew;
  DtlsState server_state = DtlsState::kNew;
  std::string client_error, server_error;
  bool client_keys = false, server_keys = false;
  SrtpKeyMaterial ck, sk;
  bool keys_match = false, keys_distinct = false;
  size_t max_datagram = 0, datagrams = 0, dropped = 0, timer_fires = 0;
  double elapsed_ms = 0;
  std::string setup_error;
  DtlsState client_after_close = DtlsState::kNew, server_after_close = DtlsState::kNew;
  DtlsState client_after_garbage = DtlsState::kNew, server_after_garbage = DtlsState::kNew;
  bool keys_stable = false;
  bool client_released = false, server_released = false;
  DtlsState client_after_forged = DtlsState::kNew, server_after_forged = DtlsState::kNew;
  DtlsState after_tampered_close = DtlsState::kNew;
  int client_timeout_after = 0, server_timeout_after = 0;  // GetSrtpKeys still gives the same keys after the junk
};

// Bytes of heap (mallinfo2 uordblks) per connected transport, over n in-memory handshakes kept
// alive; keep_ssl compares with the SSL kept for the session. Returns -1 on any failure.
double MeasureConnectedBytes(const DtlsIdentity& id, int n, bool keep_ssl);

LoopbackResult RunLoopback(const DtlsIdentity& client_id, const DtlsIdentity& server_id, const LoopbackOptions& o);

}  // namespace dtls_loopback
}  // namespace halfsec
