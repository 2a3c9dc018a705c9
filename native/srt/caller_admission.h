// Admission of SRT callers waiting for the relay's decision on their token: at most
// `max_pending` at once, and at most `max_pending_per_address` from one IP. A caller is counted
// from the moment libsrt's listen callback lets it through (a reservation keyed by its new
// socket), not from its srt_accept later on another thread: callers arriving together must not
// all pass the limits before any is counted. A reservation whose handshake never completes is
// released after `reservation_ttl` by ReleaseExpired. No libsrt here (a socket is libsrt's
// SRTSOCKET, an int32_t), so the native unit tests can run it. Thread-safe: libsrt's receive
// thread, the accept threads, the per-caller threads and housekeeping all call it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace halfsec::srt {

class CallerAdmission {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { kAdmitted, kTooMany, kTooManyFromAddress };

  CallerAdmission(int max_pending, int max_pending_per_address, Clock::duration reservation_ttl = std::chrono::seconds(10));

  // In the listen callback: checks the limits and, if they allow, counts the caller (`address`:
  // its IP, no port) under its new socket in one step. A repeated handshake on the same socket
  // replaces its earlier reservation.
  Verdict Reserve(int32_t socket, const std::string& address, Clock::time_point now);
  // After srt_accept: the socket's reservation becomes its count (or, swept meanwhile, it is
  // counted now). Every accepted caller is later given back with Release.
  void CountAccepted(int32_t socket, const std::string& address);
  // A counted caller no longer waits (decided, timed out or gone).
  void Release(const std::string& address);
  // Releases reservations older than the TTL whose caller never reached srt_accept.
  void ReleaseExpired(Clock::time_point now);

  int pending() const;
  int pending_from(const std::string& address) const;

 private:
  struct Reservation {
    std::string address;
    Clock::time_point at;
  };
  void CountLocked(const std::string& address);
  void ReleaseLocked(const std::string& address);

  const int max_pending_;
  const int max_pending_per_address_;
  const Clock::duration reservation_ttl_;
  mutable std::mutex mu_;
  int pending_ = 0;
  std::map<std::string, int> pending_by_address_;
  std::map<int32_t, Reservation> reserved_;
};

}  // namespace halfsec::srt
