// The data plane's transport-cc trace recorder (media/twcc_trace.h): what it writes, and that
// a file stops at its cap instead of growing without bound, and how many record at once.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "media/twcc_trace.h"
#include "tests/check.h"

namespace halfsec {

TEST(TwccTraceRecorderWritesLinesAndStopsAtItsCap) {
  char dir[] = "/tmp/halfsec-twcc-trace-XXXXXX";
  CHECK(::mkdtemp(dir) != nullptr);
  ::setenv("HALFSEC_TWCC_TRACE_DIR", dir, 1);  // read once per process: set before the first viewer
  const std::string path = std::string(dir) + "/twcc-" + std::to_string(::getpid()) + "-7.txt";
  {
    auto rec = TwccTraceRecorder::MaybeOpen(7);
    CHECK(rec != nullptr);
    if (!rec) return;
    const uint8_t fb[8] = {0x8f, 205, 0, 1, 0xde, 0xad, 0xbe, 0xef};
    rec->Sent(1000, 65535, 1200, -1);
    rec->Feedback(2500, fb, sizeof fb);
    rec->RoundTrip(3000, 42.5);
    rec->MaybeFlush(0);  // less than 16 KiB pending and no second passed: nothing written yet
    struct stat st {};
    CHECK(::stat(path.c_str(), &st) == 0 && st.st_size == 0);
    rec->MaybeFlush(1000);
    CHECK(::stat(path.c_str(), &st) == 0 && st.st_size > 0);
    std::ifstream in(path);
    std::string a, b, c;
    std::getline(in, a);
    std::getline(in, b);
    std::getline(in, c);
    CHECK(a == "S 1000 65535 1200 -1");
    CHECK(b == "F 2500 8fcd0001deadbeef");
    CHECK(c == "R 3000 42.5");
    // Far more than the cap: the file ends at it, with whole lines only.
    for (int i = 0; i < 400'000; i++) {
      rec->Sent(10'000'000'000LL + i, static_cast<uint16_t>(i), 1200, 3);
      rec->MaybeFlush(2000 + i / 100);
    }
  }
  {
    // Only kMaxOpen at once; one more once one ends.
    std::vector<std::unique_ptr<TwccTraceRecorder>> open;
    for (int i = 0; i < TwccTraceRecorder::kMaxOpen + 5; i++) {
      auto r = TwccTraceRecorder::MaybeOpen(100 + i);
      if (r) open.push_back(std::move(r));
    }
    CHECK_EQ(open.size(), size_t{TwccTraceRecorder::kMaxOpen});
    CHECK(TwccTraceRecorder::MaybeOpen(999) == nullptr);
    open.pop_back();
    CHECK(TwccTraceRecorder::MaybeOpen(999) != nullptr);
    for (int i = 0; i < TwccTraceRecorder::kMaxOpen + 5; i++) ::unlink((std::string(dir) + "/twcc-" + std::to_string(::getpid()) + "-" + std::to_string(100 + i) + ".txt").c_str());
    ::unlink((std::string(dir) + "/twcc-" + std::to_string(::getpid()) + "-999.txt").c_str());
  }
  struct stat st {};
  CHECK(::stat(path.c_str(), &st) == 0);
  CHECK(static_cast<size_t>(st.st_size) <= TwccTraceRecorder::kMaxFileBytes);
  CHECK(static_cast<size_t>(st.st_size) > TwccTraceRecorder::kMaxFileBytes - 64);
  std::ifstream in(path, std::ios::binary);
  in.seekg(-1, std::ios::end);
  CHECK(in.get() == '\n');
  ::unlink(path.c_str());
  ::rmdir(dir);
  ::unsetenv("HALFSEC_TWCC_TRACE_DIR");
}

}  // namespace halfsec
