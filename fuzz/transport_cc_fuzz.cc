// libFuzzer target: the transport-cc feedback reader (RTPFB FMT=15) a viewer can send, the
// matching against what was sent, and the estimator fed with whatever that yields.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "media/bandwidth_estimator.h"
#include "media/send_history.h"
#include "rtp/rtp.h"
#include "rtp/transport_cc_reader.h"

using namespace halfsec;

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The data plane hands the reader one RTCP packet of a compound at a time; so does this.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size + 1]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  static TransportCcArrival arrivals[kMaxTransportCcArrivals];
  static PacketResult results[SendHistory::kSize];
  static SendHistory history;
  static BandwidthEstimator bwe;
  static TransportCcClock clock;
  static uint16_t next_seq = 0;
  static int64_t now_us = 0;

  // What the relay "sent" before this feedback: 64 packets, 2 ms apart.
  for (int i = 0; i < 64; i++) {
    now_us += 2000;
    history.Record(next_seq++, now_us, 1200, i % 16 == 0 ? 1 : -1);
  }

  size_t off = 0;
  while (size - off >= 4) {
    const size_t len = (static_cast<size_t>(Load16(buf.get() + off + 2)) + 1) * 4;
    if (len > size - off) break;
    const uint8_t* p = buf.get() + off;
    off += len;
    TransportCcFeedback fb;
    size_t n = 0;
    const size_t max = p[0] & 0x40 ? 8 : kMaxTransportCcArrivals;  // sometimes a small output
    if (!ParseTransportCc(p, len, &fb, arrivals, max, &n)) {
      Check(n == 0);
      continue;
    }
    Check(n <= max);
    Check(n == fb.received);
    Check(fb.received + fb.lost == fb.status_count);
    // Every received packet costs at least one delta byte in the packet.
    Check(n <= len);
    for (size_t i = 0; i < n; i++) {
      const uint16_t rel = static_cast<uint16_t>(arrivals[i].seq - fb.base_seq);
      Check(rel < fb.status_count);
      if (i > 0) Check(static_cast<uint16_t>(arrivals[i - 1].seq - fb.base_seq) < rel);
    }
    const size_t m = MatchTransportCc(fb, arrivals, n, clock.Unwrap(fb.reference_ticks), &history, results);
    Check(m <= SendHistory::kSize);
    bwe.OnFeedback(results, m, now_us / 1000);
    const uint64_t e = bwe.estimate_bps();
    Check(e < (uint64_t{1} << 50));
    Check(std::isfinite(bwe.acked_bps()) && bwe.acked_bps() >= 0);
  }
  return 0;
}
