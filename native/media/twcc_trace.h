// An off-by-default recorder of one viewer's transport-wide congestion control inputs, for
// replaying real traces through the estimator in unit tests (native/tests/traces/README.md).
// Enabled by the environment variable HALFSEC_TWCC_TRACE_DIR naming a directory (read once per
// process); each viewer that negotiated transport-cc then writes `<dir>/twcc-<pid>-<peer id>.txt`:
//   S <send µs> <transport-wide seq> <bytes before SRTP> <probe cluster, -1 media>
//   F <arrival µs> <one transport-cc RTCP packet (RFC 4585 §6.1, PT 205 FMT 15), hex>
//   R <µs> <round-trip ms from the RTCP receiver report>
// Times are the relay's CLOCK_MONOTONIC. Lines are buffered in memory and written by the
// viewer's tick (at most once a second or once 16 KiB are pending) and at the peer's end; a
// file stops growing at kMaxFileBytes, and at most kMaxOpen viewers record at once. One thread (the viewer's worker) owns each instance.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace halfsec {

class TwccTraceRecorder {
 public:
  static constexpr size_t kMaxFileBytes = 8u << 20;
  static constexpr size_t kMaxFeedbackBytes = 1500;
  // At most this many viewers record at once (each holds a file descriptor), process-wide.
  static constexpr int kMaxOpen = 64;

  // A recorder for viewer `peer_id` when HALFSEC_TWCC_TRACE_DIR is set and the file opens;
  // else null (so the viewer pays one pointer test per packet); null too while kMaxOpen record.
  static std::unique_ptr<TwccTraceRecorder> MaybeOpen(uint32_t peer_id);
  ~TwccTraceRecorder();
  TwccTraceRecorder(const TwccTraceRecorder&) = delete;
  TwccTraceRecorder& operator=(const TwccTraceRecorder&) = delete;

  void Sent(int64_t send_us, uint16_t seq, size_t bytes, int probe);
  void Feedback(int64_t arrival_us, const uint8_t* rtcp, size_t n);
  void RoundTrip(int64_t now_us, double rtt_ms);
  // Writes what is pending when enough has gathered or a second has passed since the last write.
  void MaybeFlush(int64_t now_ms);

 private:
  explicit TwccTraceRecorder(int fd) : fd_(fd) {}
  void Append(const char* s, size_t n);
  void Flush();

  int fd_ = -1;
  std::string pending_;
  size_t written_ = 0;
  bool full_ = false;
  int64_t last_flush_ms_ = 0;
};

}  // namespace halfsec
