#include "srt/caller_admission.h"

namespace halfsec::srt {

CallerAdmission::CallerAdmission(int max_pending, int max_pending_per_address, Clock::duration reservation_ttl)
    : max_pending_(max_pending), max_pending_per_address_(max_pending_per_address), reservation_ttl_(reservation_ttl) {}

CallerAdmission::Verdict CallerAdmission::Reserve(int32_t socket, const std::string& address, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_ >= max_pending_) return Verdict::kTooMany;
  auto it = pending_by_address_.find(address);
  if (it != pending_by_address_.end() && it->second >= max_pending_per_address_) return Verdict::kTooManyFromAddress;
  if (auto old = reserved_.find(socket); old != reserved_.end()) ReleaseLocked(old->second.address);  // a repeated handshake
  CountLocked(address);
  reserved_[socket] = Reservation{address, now};
  return Verdict::kAdmitted;
}

void CallerAdmission::CountAccepted(int32_t socket, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = reserved_.find(socket); it != reserved_.end()) {
    if (it->second.address != address) {  // cannot happen; keep the counts right anyway
      ReleaseLocked(it->second.address);
      CountLocked(address);
    }
    reserved_.erase(it);
    return;
  }
  CountLocked(address);
}

void CallerAdmission::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseLocked(address);
}

void CallerAdmission::ReleaseExpired(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = reserved_.begin(); it != reserved_.end();) {
    if (now - it->second.at < reservation_ttl_) {
      ++it;
      continue;
    }
    ReleaseLocked(it->second.address);
    it = reserved_.erase(it);
  }
}

int CallerAdmission::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

int CallerAdmission::pending_from(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_by_address_.find(address);
  return it == pending_by_address_.end() ? 0 : it->second;
}

void CallerAdmission::CountLocked(const std::string& address) {
  pending_++;
  pending_by_address_[address]++;
}

void CallerAdmission::ReleaseLocked(const std::string& address) {
  pending_--;
  if (--pending_by_address_[address] <= 0) pending_by_address_.erase(address);
}

}  // namespace halfsec::srt
