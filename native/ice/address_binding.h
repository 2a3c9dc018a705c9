// Which transport address an ICE-lite peer's media goes to, decided on each authenticated
// binding request (RFC 8445 §7.3.1.4-5, RFC 7675). The rules, in order:
//  - an address already bound to another live peer is never taken from it: a valid check for
//    peer B from peer A's address (a forged source) changes nothing (kRefuse);
//  - a peer with no address takes the one its first valid check came from (kBind);
//  - a check from the peer's own address restores a missing table entry, else changes nothing;
//  - a check whose transaction id the peer already used (a retransmission, or a captured check
//    replayed from elsewhere) never moves it;
//  - a check from a new address moves the peer there (NAT rebinding) when it nominates
//    (USE-CANDIDATE), or when nothing authenticated (SRTP, SRTCP, a valid check; junk from a
//    forged source does not count) has arrived from the current address for kRebindQuietMs,
//    so that checks on a backup pair do not pull a live path away; and never back to the
//    address it just left within kRebindSettleMs, so late old-address checks cannot flap it.
#pragma once
#include <cstdint>

namespace halfsec {

inline constexpr int64_t kRebindQuietMs = 500;
inline constexpr int64_t kRebindSettleMs = 2000;
// A publisher's SRTP that authenticates from an unowned address moves it there once its current
// path has carried nothing authenticated for this long (see Worker::AdoptBySrtp).
inline constexpr int64_t kSrtpRebindQuietMs = 100;

enum class AddressBinding : uint8_t { kKeep, kBind, kRestore, kMove, kRefuse };

struct BindingFacts {
  bool peer_has_address = false;
  bool same_address = false;       // the check came from the peer's current address
  bool table_has_entry = false;    // the address table maps the current address to this peer
  bool owned_by_other = false;     // the check's source address is bound to another live peer
  bool nominates = false;          // USE-CANDIDATE
  bool from_previous = false;      // the source is the address the peer last moved away from
  bool repeated = false;           // the check's transaction id was seen before
  int64_t quiet_ms = 0;            // since anything authenticated arrived from the current address
  int64_t since_move_ms = 0;       // since the peer last moved (large when never)
};

inline AddressBinding DecideAddressBinding(const BindingFacts& f) {
  if (f.owned_by_other) return AddressBinding::kRefuse;
  if (!f.peer_has_address) return AddressBinding::kBind;
  if (f.same_address) return f.table_has_entry ? AddressBinding::kKeep : AddressBinding::kRestore;
  if (f.repeated) return AddressBinding::kKeep;
  if (f.from_previous && f.since_move_ms < kRebindSettleMs) return AddressBinding::kKeep;
  if (f.nominates || f.quiet_ms >= kRebindQuietMs) return AddressBinding::kMove;
  return AddressBinding::kKeep;
}

}  // namespace halfsec
