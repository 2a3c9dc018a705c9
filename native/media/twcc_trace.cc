#include "media/twcc_trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace halfsec {

namespace {
constexpr size_t kFlushBytes = 16 << 10;
constexpr int64_t kFlushMs = 1000;
std::atomic<int> g_open{0};  // recorders alive, across all workers

const char* TraceDir() {
  static const char* dir = [] {
    const char* d = std::getenv("HALFSEC_TWCC_TRACE_DIR");
    return d && *d ? d : nullptr;
  }();
  return dir;
}
}  // namespace

std::unique_ptr<TwccTraceRecorder> TwccTraceRecorder::MaybeOpen(uint32_t peer_id) {
  const char* dir = TraceDir();
  if (!dir) return nullptr;
  char path[4096];
  const int len = std::snprintf(path, sizeof path, "%s/twcc-%d-%" PRIu32 ".txt", dir, static_cast<int>(getpid()), peer_id);
  if (len <= 0 || static_cast<size_t>(len) >= sizeof path) return nullptr;
  if (g_open.fetch_add(1, std::memory_order_relaxed) >= kMaxOpen) {
    g_open.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    g_open.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  return std::unique_ptr<TwccTraceRecorder>(new TwccTraceRecorder(fd));
}

TwccTraceRecorder::~TwccTraceRecorder() {
  Flush();
  ::close(fd_);
  g_open.fetch_sub(1, std::memory_order_relaxed);
}

void TwccTraceRecorder::Append(const char* s, size_t n) {
  if (full_) return;
  if (written_ + pending_.size() + n > kMaxFileBytes) {
    full_ = true;  // stop at the cap rather than leave a trace with a hole in it
    return;
  }
  pending_.append(s, n);
}

void TwccTraceRecorder::Sent(int64_t send_us, uint16_t seq, size_t bytes, int probe) {
  char line[64];
  const int n = std::snprintf(line, sizeof line, "S %" PRId64 " %u %zu %d\n", send_us, static_cast<unsigned>(seq), bytes, probe);
  if (n > 0) Append(line, static_cast<size_t>(n));
}

void TwccTraceRecorder::Feedback(int64_t arrival_us, const uint8_t* rtcp, size_t n) {
  if (n > kMaxFeedbackBytes) return;
  static const char kHex[] = "0123456789abcdef";
  char line[32 + 2 * kMaxFeedbackBytes];
  int k = std::snprintf(line, 32, "F %" PRId64 " ", arrival_us);
  if (k <= 0) return;
  size_t at = static_cast<size_t>(k);
  for (size_t i = 0; i < n; i++) {
    line[at++] = kHex[rtcp[i] >> 4];
    line[at++] = kHex[rtcp[i] & 15];
  }
  line[at++] = '\n';
  Append(line, at);
}

void TwccTraceRecorder::RoundTrip(int64_t now_us, double rtt_ms) {
  char line[64];
  const int n = std::snprintf(line, sizeof line, "R %" PRId64 " %.1f\n", now_us, rtt_ms);
  if (n > 0) Append(line, static_cast<size_t>(n));
}

void TwccTraceRecorder::MaybeFlush(int64_t now_ms) {
  if (pending_.size() >= kFlushBytes || (!pending_.empty() && now_ms - last_flush_ms_ >= kFlushMs)) {
    last_flush_ms_ = now_ms;
    Flush();
  }
}

void TwccTraceRecorder::Flush() {
  size_t off = 0;
  while (off < pending_.size()) {
    const ssize_t w = ::write(fd_, pending_.data() + off, pending_.size() - off);
    if (w <= 0) {
      full_ = true;  // a write error (disk full, ...) ends the trace
      break;
    }
    off += static_cast<size_t>(w);
  }
  written_ += off;
  pending_.clear();
}

}  // namespace halfsec
