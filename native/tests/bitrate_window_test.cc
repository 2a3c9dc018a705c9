// The sliding-window ingress rate behind /api/streams bitrate and halfsec_stream_ingress_kbps.
#include <cmath>

#include "media/bitrate_window.h"
#include "tests/check.h"

namespace halfsec {
namespace {
// `bytes` every `every_ms` from `from_ms` (inclusive) to `to_ms` (exclusive).
void Feed(BitrateWindow& w, int64_t from_ms, int64_t to_ms, size_t bytes, int64_t every_ms) {
  for (int64_t t = from_ms; t < to_ms; t += every_ms) w.Add(bytes, t);
}
bool Within(double got, double want, double tolerance) { return std::fabs(got - want) <= want * tolerance; }
}  // namespace

TEST(BitrateWindowSteadyStartStepAndSilence) {
  BitrateWindow w;
  CHECK_EQ(w.Bps(1000), 0.0);
  Feed(w, 1000, 1500, 1250, 10);              // 1 Mbit/s for half a second
  CHECK(Within(w.Bps(1500), 1e6, 0.05));      // not diluted by the empty part of the window
  Feed(w, 1500, 4000, 1250, 10);
  CHECK(Within(w.Bps(4000), 1e6, 0.05));
  Feed(w, 4000, 6100, 2500, 10);              // steps up to 2 Mbit/s
  CHECK(Within(w.Bps(6100), 2e6, 0.05));      // a whole window later only the new rate counts
  CHECK_EQ(w.Bps(8200), 0.0);                 // silent for longer than the window
  Feed(w, 8200, 9000, 125, 10);               // and back at 100 kbit/s
  CHECK(Within(w.Bps(9000), 4e4, 0.1));       // 0.8 s of it in a 2 s window that holds silence too
  Feed(w, 9000, 11000, 125, 10);
  CHECK(Within(w.Bps(11000), 1e5, 0.05));
}
}  // namespace halfsec
