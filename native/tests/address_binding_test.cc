#include "ice/address_binding.h"
#include "ice/transaction_ring.h"
#include "tests/check.h"

using namespace halfsec;

namespace {
BindingFacts Live() {
  BindingFacts f;
  f.peer_has_address = true;
  f.table_has_entry = true;
  f.since_move_ms = 1'000'000;
  return f;
}
}  // namespace

TEST(address_binding_first_check_binds) {
  BindingFacts f;
  CHECK(DecideAddressBinding(f) == AddressBinding::kBind);
}

TEST(address_binding_never_takes_another_peers_address) {
  BindingFacts f = Live();
  f.owned_by_other = true;
  f.nominates = true;
  f.quiet_ms = 60'000;
  CHECK(DecideAddressBinding(f) == AddressBinding::kRefuse);
  f.peer_has_address = false;  // not even as a first address
  CHECK(DecideAddressBinding(f) == AddressBinding::kRefuse);
}

TEST(address_binding_restores_a_missing_entry) {
  BindingFacts f = Live();
  f.same_address = true;
  CHECK(DecideAddressBinding(f) == AddressBinding::kKeep);
  f.table_has_entry = false;
  CHECK(DecideAddressBinding(f) == AddressBinding::kRestore);
}

TEST(address_binding_moves_on_nomination_or_a_dead_path) {
  BindingFacts f = Live();
  f.quiet_ms = 20;
  CHECK(DecideAddressBinding(f) == AddressBinding::kKeep);  // a backup pair's check
  f.nominates = true;
  CHECK(DecideAddressBinding(f) == AddressBinding::kMove);
  f.nominates = false;
  f.quiet_ms = kRebindQuietMs;
  CHECK(DecideAddressBinding(f) == AddressBinding::kMove);  // NAT rebinding
}

TEST(address_binding_does_not_flap_back) {
  BindingFacts f = Live();
  f.from_previous = true;
  f.nominates = true;
  f.since_move_ms = 100;
  CHECK(DecideAddressBinding(f) == AddressBinding::kKeep);
  f.since_move_ms = kRebindSettleMs;
  CHECK(DecideAddressBinding(f) == AddressBinding::kMove);
}

TEST(address_binding_replayed_check_never_moves) {
  BindingFacts f = Live();
  f.repeated = true;
  f.nominates = true;
  f.quiet_ms = 60'000;
  CHECK(DecideAddressBinding(f) == AddressBinding::kKeep);
  f.repeated = false;
  CHECK(DecideAddressBinding(f) == AddressBinding::kMove);
}

TEST(transaction_ring_remembers_the_latest_ids) {
  TransactionRing ring;
  uint8_t tid[12] = {};
  for (int i = 0; i < TransactionRing::kSize; i++) {
    tid[0] = static_cast<uint8_t>(i);
    CHECK(!ring.SeenOrAdd(tid));
  }
  tid[0] = 3;
  CHECK(ring.SeenOrAdd(tid));
  tid[0] = 200;  // pushes out id 0
  CHECK(!ring.SeenOrAdd(tid));
  tid[0] = 0;
  CHECK(!ring.SeenOrAdd(tid));
}
