// halfsec-srt's caller admission (native/srt/caller_admission.h) and its refused-line budget
// (native/srt/line_budget.h): the counting the SRT tests see from outside, driven directly.
#include <chrono>
#include <string>

#include "srt/caller_admission.h"
#include "srt/line_budget.h"
#include "tests/check.h"

namespace halfsec {

using srt::CallerAdmission;
using srt::LineBudget;
using Verdict = CallerAdmission::Verdict;

TEST(SrtAdmissionBoundsPerAddressAndInTotal) {
  CallerAdmission a(5, 2);
  const auto now = CallerAdmission::Clock::now();
  CHECK(a.Reserve(1, "10.0.0.1", now) == Verdict::kAdmitted);
  CHECK(a.Reserve(2, "10.0.0.1", now) == Verdict::kAdmitted);
  CHECK(a.Reserve(3, "10.0.0.1", now) == Verdict::kTooManyFromAddress);
  CHECK(a.Reserve(4, "10.0.0.2", now) == Verdict::kAdmitted);
  CHECK(a.Reserve(5, "10.0.0.2", now) == Verdict::kAdmitted);
  CHECK(a.Reserve(6, "10.0.0.3", now) == Verdict::kAdmitted);
  CHECK_EQ(a.pending(), 5);
  CHECK(a.Reserve(7, "10.0.0.4", now) == Verdict::kTooMany);  // the total is checked first
  CHECK(a.Reserve(8, "10.0.0.1", now) == Verdict::kTooMany);
  CHECK_EQ(a.pending_from("10.0.0.1"), 2);
  CHECK_EQ(a.pending_from("10.0.0.4"), 0);
}

TEST(SrtAdmissionAcceptKeepsTheReservationsCountUntilReleased) {
  CallerAdmission a(16, 4);
  const auto now = CallerAdmission::Clock::now();
  CHECK(a.Reserve(1, "10.0.0.1", now) == Verdict::kAdmitted);
  a.CountAccepted(1, "10.0.0.1");  // the reservation becomes the count: not counted twice
  CHECK_EQ(a.pending(), 1);
  a.ReleaseExpired(now + std::chrono::seconds(60));  // no longer a reservation: not swept
  CHECK_EQ(a.pending(), 1);
  a.Release("10.0.0.1");
  CHECK_EQ(a.pending(), 0);
  CHECK_EQ(a.pending_from("10.0.0.1"), 0);
  a.CountAccepted(2, "10.0.0.2");  // no reservation (swept meanwhile): counted now
  CHECK_EQ(a.pending_from("10.0.0.2"), 1);
  CHECK(a.Reserve(3, "10.0.0.3", now) == Verdict::kAdmitted);
  a.CountAccepted(3, "10.0.0.9");  // an address other than the reservation's: moved to it
  CHECK_EQ(a.pending_from("10.0.0.3"), 0);
  CHECK_EQ(a.pending_from("10.0.0.9"), 1);
  CHECK_EQ(a.pending(), 2);
}

TEST(SrtAdmissionRepeatedHandshakeAndExpiry) {
  CallerAdmission a(16, 4, std::chrono::seconds(10));
  const auto t0 = CallerAdmission::Clock::now();
  CHECK(a.Reserve(1, "10.0.0.1", t0) == Verdict::kAdmitted);
  CHECK(a.Reserve(1, "10.0.0.1", t0 + std::chrono::seconds(5)) == Verdict::kAdmitted);  // same socket again
  CHECK_EQ(a.pending(), 1);
  CHECK(a.Reserve(2, "10.0.0.2", t0) == Verdict::kAdmitted);
  a.ReleaseExpired(t0 + std::chrono::seconds(9));
  CHECK_EQ(a.pending(), 2);
  a.ReleaseExpired(t0 + std::chrono::seconds(10));  // socket 2's reservation is 10 s old
  CHECK_EQ(a.pending(), 1);
  CHECK_EQ(a.pending_from("10.0.0.2"), 0);
  a.ReleaseExpired(t0 + std::chrono::seconds(15));  // socket 1's, renewed at 5 s
  CHECK_EQ(a.pending(), 0);
  a.CountAccepted(1, "10.0.0.1");  // reached srt_accept after all: counted again, once
  CHECK_EQ(a.pending(), 1);
}

TEST(SrtLineBudgetCountsPastItsLinesEachSecond) {
  LineBudget b(3);
  const auto t0 = LineBudget::Clock::now();
  int written = 0;
  for (int i = 0; i < 10; i++) written += b.Take(t0 + std::chrono::milliseconds(i * 10)) ? 1 : 0;
  CHECK_EQ(written, 3);
  CHECK_EQ(b.TakeSkipped(), 7u);
  CHECK_EQ(b.TakeSkipped(), 0u);
  CHECK(!b.Take(t0 + std::chrono::milliseconds(999)));
  CHECK(b.Take(t0 + std::chrono::seconds(1)));  // a new window
  CHECK_EQ(b.TakeSkipped(), 1u);
}

}  // namespace halfsec
