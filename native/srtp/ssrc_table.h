// Per-SSRC SRTP/SRTCP state (send indexes, receive replay windows) and the bounded table that
// holds it. Include only from srtp/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "srtp/replay_window.h"
#include "srtp/srtp_internal.h"

namespace halfsec {
namespace srtp_internal {

struct RtpSendState {
  uint32_t ssrc = 0;
  uint64_t highest = 0;  // highest 48-bit packet index sent (ROC << 16 | SEQ)
};
struct RtcpSendState {
  uint32_t ssrc = 0;
  uint32_t next_index = 0;
};
struct RtpRecvState {
  uint32_t ssrc = 0;
  ReplayWindow<kRtpWindow> window;
};
struct RtcpRecvState {
  uint32_t ssrc = 0;
  ReplayWindow<kRtcpWindow> window;
};

// At most kMaxSsrcs entries; linear search with a last-hit shortcut (a context normally carries
// one to four SSRCs).
template <typename T>
class SsrcTable {
 public:
  T* Find(uint32_t ssrc) {
    if (last_ < entries_.size() && entries_[last_].ssrc == ssrc) return &entries_[last_];
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].ssrc == ssrc) {
        last_ = i;
        return &entries_[i];
      }
    }
    return nullptr;
  }
  bool full() const { return entries_.size() >= kMaxSsrcs; }
  T* Add(uint32_t ssrc) {
    if (full()) return nullptr;
    if (entries_.capacity() == 0) entries_.reserve(4);
    entries_.emplace_back();
    entries_.back().ssrc = ssrc;
    last_ = entries_.size() - 1;
    return &entries_.back();
  }

 private:
  std::vector<T> entries_;
  size_t last_ = 0;
};

}  // namespace srtp_internal
}  // namespace halfsec
