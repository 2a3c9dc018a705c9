// Replays a recorded transport-cc trace (native/tests/traces/README.md; written by
// media/twcc_trace.h) through the real reader (rtp/transport_cc_reader.h), the send history's
// matcher and the estimator, in the order the relay saw them. The probe controller is not in
// the loop: a probe cluster's packets are in the trace (their cluster id), so the replay begins
// a cluster at its first packet and ends it at its last, paced at the rate it was sent at.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "media/bandwidth_estimator.h"
#include "media/send_history.h"
#include "rtp/transport_cc_reader.h"

namespace halfsec::test {

struct TraceSample {
  int64_t us;          // since the trace's start
  uint64_t estimate;   // 0: unknown
  double acked_bps;
  double sent_bps;     // media and padding the relay sent over the last second
  bool overusing;      // the delay-based detector's state after this feedback
  double loss_based;   // the loss-based part, -1 while it has no limit
  double delay_based;  // the delay-based part (meaningful once the estimate is known)
  int probe_outcome;   // a probe cluster's verdict reported with this feedback: +1 held, -1 failed, 0 none
  double queue_ms;     // mean one-way delay of the packets it reported, above the least seen so far
};

struct TraceReplay {
  std::map<std::string, int64_t> marks;  // "limit", "lift", ... -> µs
  double link_bps = 0;                   // the rate of the limited phase (tbf), bit/s
  std::vector<TraceSample> samples;      // one per feedback packet
  int feedbacks = 0, parse_failures = 0, sends = 0, matched = 0;
  int probes_held = 0, probes_failed = 0, clusters = 0;
  int64_t end_us = 0;
  bool ok = false;

  // The largest estimate / smallest known estimate among samples in [from, to).
  uint64_t MaxEstimate(int64_t from, int64_t to) const {
    uint64_t m = 0;
    for (const auto& s : samples)
      if (s.us >= from && s.us < to && s.estimate > m) m = s.estimate;
    return m;
  }
  uint64_t MinKnownEstimate(int64_t from, int64_t to) const {
    uint64_t m = UINT64_MAX;
    for (const auto& s : samples)
      if (s.us >= from && s.us < to && s.estimate > 0 && s.estimate < m) m = s.estimate;
    return m;
  }
  // Probe verdicts reported in [from, to) that were `outcome` (+1 held, -1 failed).
  int Probes(int64_t from, int64_t to, int outcome) const {
    int n = 0;
    for (const auto& s : samples)
      if (s.us >= from && s.us < to && s.probe_outcome == outcome) n++;
    return n;
  }
  // The first sample in [from, to) where the delay-based detector signalled overuse, -1 none.
  int64_t FirstOveruse(int64_t from, int64_t to) const {
    for (const auto& s : samples)
      if (s.us >= from && s.us < to && s.overusing) return s.us;
    return -1;
  }
  // The sample nearest before `us` (the first one if none).
  const TraceSample& At(int64_t us) const {
    size_t i = 0;
    while (i + 1 < samples.size() && samples[i + 1].us <= us) i++;
    return samples[i];
  }
  // The mean rate sent over [from, to), from the samples' one-second windows.
  double MeanSent(int64_t from, int64_t to) const {
    double sum = 0;
    int n = 0;
    for (const auto& s : samples)
      if (s.us >= from && s.us < to) sum += s.sent_bps, n++;
    return n ? sum / n : 0;
  }
  void Print(const char* name, int64_t step_us = 500'000) const {
    std::printf("  %s: %d sends, %d feedbacks (%d unparsed), %d matched, %d probe clusters (%d held, %d failed)\n", name, sends,
                feedbacks, parse_failures, matched, clusters, probes_held, probes_failed);
    std::string line = "   ";
    for (int64_t t = 0; t <= end_us; t += step_us) {
      const TraceSample& s = At(t);
      char b[96];
      std::snprintf(b, sizeof b, " %.1fs:%llu/%llu", t / 1e6, static_cast<unsigned long long>(s.estimate / 1000),
                    static_cast<unsigned long long>(s.sent_bps / 1000));
      line += b;
    }
    std::printf("%s  (estimate/sent kbit/s)\n", line.c_str());
  }
};

// Reads `path` (gzip) and replays it; `ok` false when it cannot be read.
inline TraceReplay ReplayTrace(const std::string& path) {
  TraceReplay out;
  struct Event {
    char kind;
    int64_t us;
    uint16_t seq = 0, size = 0;
    int probe = -1;
    double rtt = 0;
    std::vector<uint8_t> rtcp;
  };
  std::vector<Event> events;
  const std::string cmd = "gzip -dc '" + path + "'";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  std::vector<char> buf(8192);
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), f)) {
    const char* l = buf.data();
    Event e{};
    e.kind = l[0];
    long long us = 0;
    if (e.kind == 'S') {
      unsigned seq = 0, size = 0;
      if (std::sscanf(l, "S %lld %u %u %d", &us, &seq, &size, &e.probe) != 4) continue;
      e.seq = static_cast<uint16_t>(seq);
      e.size = static_cast<uint16_t>(size);
    } else if (e.kind == 'F') {
      int used = 0;
      if (std::sscanf(l, "F %lld %n", &us, &used) != 1) continue;
      for (const char* h = l + used; h[0] && h[1] && h[0] != '\n'; h += 2) {
        unsigned v = 0;
        if (std::sscanf(h, "%2x", &v) != 1) break;
        e.rtcp.push_back(static_cast<uint8_t>(v));
      }
    } else if (e.kind == 'R') {
      if (std::sscanf(l, "R %lld %lf", &us, &e.rtt) != 2) continue;
    } else if (e.kind == 'L') {
      std::sscanf(l, "L %lf", &out.link_bps);
      continue;
    } else if (e.kind == 'M') {
      char name[64] = {};
      if (std::sscanf(l, "M %lld %63s", &us, name) == 2) out.marks[name] = us;
      continue;
    } else {
      continue;
    }
    e.us = us;
    events.push_back(std::move(e));
  }
  if (::pclose(f) != 0 || events.empty()) return out;

  // Each recorded cluster's last packet, count and the rate it went out at.
  struct ClusterInfo {
    int64_t first = -1, last = -1;
    uint32_t packets = 0;
    uint64_t bytes = 0;
  };
  std::map<int, ClusterInfo> info;
  for (const Event& e : events) {
    if (e.kind != 'S' || e.probe < 0) continue;
    ClusterInfo& c = info[e.probe];
    if (c.first < 0) c.first = e.us;
    c.last = e.us;
    c.packets++;
    c.bytes += e.size;
  }
  BandwidthEstimator bwe;
  SendHistory history;
  TransportCcClock clock;
  static TransportCcArrival arrivals[kMaxTransportCcArrivals];
  static PacketResult results[SendHistory::kSize];
  std::map<int, int> replay_id;  // recorded cluster -> the replay estimator's
  std::vector<std::pair<int64_t, uint16_t>> recent;  // sends of the last second
  size_t recent_head = 0;
  int64_t min_delay = 0;
  bool have_min = false;
  uint64_t recent_bytes = 0;
  auto outcome = [&] {
    const int o = bwe.TakeProbeOutcome();
    if (o > 0) out.probes_held++;
    if (o < 0) out.probes_failed++;
    return o;
  };
  for (const Event& e : events) {
    const int64_t ms = e.us / 1000;
    out.end_us = e.us;
    if (e.kind == 'S') {
      out.sends++;
      int probe = -1;
      if (e.probe >= 0) {
        auto it = replay_id.find(e.probe);
        if (it == replay_id.end()) {
          it = replay_id.emplace(e.probe, bwe.BeginProbe(ms)).first;
          out.clusters++;
        }
        probe = it->second;
      }
      history.Record(e.seq, e.us, e.size, probe);
      recent.emplace_back(e.us, e.size);
      recent_bytes += e.size;
      while (recent[recent_head].first <= e.us - 1'000'000) recent_bytes -= recent[recent_head++].second;
      if (e.probe >= 0 && info[e.probe].last == e.us) {
        const ClusterInfo& c = info[e.probe];
        // Padding goes out at each 20 ms tick: the span of n ticks is n, not n-1, intervals.
        const double paced = c.bytes * 8e6 / static_cast<double>(c.last - c.first + 20'000);
        bwe.EndProbe(probe, c.packets, paced, ms);
      }
    } else if (e.kind == 'R') {
      bwe.set_rtt_ms(e.rtt);
    } else if (e.kind == 'F') {
      out.feedbacks++;
      TransportCcFeedback fb;
      size_t n = 0;
      if (!ParseTransportCc(e.rtcp.data(), e.rtcp.size(), &fb, arrivals, kMaxTransportCcArrivals, &n)) {
        out.parse_failures++;
        continue;
      }
      const size_t m = MatchTransportCc(fb, arrivals, n, clock.Unwrap(fb.reference_ticks), &history, results);
      out.matched += static_cast<int>(m);
      if (m > 0) bwe.OnFeedback(results, m, ms);
      // Arrival minus send mixes two clocks; above its minimum it is the queue (and jitter).
      double sum = 0;
      int got = 0;
      for (size_t i = 0; i < m; i++) {
        if (!results[i].received) continue;
        const int64_t d = results[i].arrival_us - results[i].send_us;
        if (!have_min || d < min_delay) min_delay = d, have_min = true;
        sum += static_cast<double>(d);
        got++;
      }
      const double queue_ms = got ? (sum / got - static_cast<double>(min_delay)) / 1000 : (out.samples.empty() ? 0 : out.samples.back().queue_ms);
      const int o = outcome();
      out.samples.push_back({e.us, bwe.estimate_bps(), bwe.acked_bps(), recent_bytes * 8.0,
                             bwe.usage() == BandwidthUsage::kOverusing, bwe.loss_based_bps(), bwe.delay_based_bps(), o, queue_ms});
    }
  }
  out.ok = !out.samples.empty();
  return out;
}

// native/tests/traces/<name>.txt.gz beside the sources, found from the test binary's own path
// (build/Release/halfsec_native_tests).
std::string TracePath(const char* name);

}  // namespace halfsec::test
