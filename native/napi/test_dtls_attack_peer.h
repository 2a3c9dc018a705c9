// The foreign DTLS peers behind the dtls attack test hooks (test_dtls_attack.cc): plain OpenSSL
// in Node's default library context against a DtlsTransport, presenting certificates that do not
// prove the SDP fingerprint: none, another leaf, a chain whose first certificate is the
// fingerprint's but whose CertificateVerify (or ServerKeyExchange) another key signs (the
// Certificate message is rewritten on the wire), a retransmitted Certificate in another order, a
// renegotiation with another certificate, leaf keys of every type (DSA is not in the DTLS
// library context), a long chain. Test-only; no N-API here.
#pragma once
#include <string>

#include "dtls/dtls.h"

namespace halfsec {
namespace dtls_attack {

struct AttackResult {
  std::string server_state, server_error, note;  // the relay's transport (server, or client below)
  bool server_keys = false, client_finished = false, keys_match = false, rewritten = false;
  std::string state_after_renegotiation;
  bool keys_stable = false;
  double server_ms = 0;  // time inside the relay transport's OnDatagram
};

// The relay's transport as DTLS server against a foreign client. kind: legit | abandon | none |
// other-leaf | swap-chain[:TYPE] | retransmit-swapped | renegotiate | key:TYPE | long-chain:TYPE.
// The SDP names the "victim" certificate (P-256, or TYPE); the attacker holds another key.
AttackResult RunAttack(const DtlsIdentity& server_id, const std::string& kind, bool keep_ssl, int long_chain_bytes = 0);

// The relay's transport as DTLS client (an offer with a=setup:passive, a cluster pull) against a
// foreign server. kind: legit | other-leaf | swap-chain (the ServerKeyExchange signed by another key).
AttackResult RunClientRoleAttack(const DtlsIdentity& client_id, const std::string& kind);

}  // namespace dtls_attack
}  // namespace halfsec
