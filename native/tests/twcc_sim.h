// Test helpers for transport-cc: a feedback writer (2-bit status vector chunks only; the relay
// itself never writes viewer-side feedback, see rtp/transport_cc_reader.h for the reader) and a
// bottleneck link fed by a sender, whose receiver reports every 100 ms.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "media/bandwidth_estimator.h"
#include "media/probe_controller.h"
#include "media/send_history.h"
#include "rtp/rtp.h"
#include "rtp/transport_cc_reader.h"

namespace halfsec::test {

// Feedback for `base`, base+1, ...: arrival µs (receiver clock) or nullopt (lost).
inline std::vector<uint8_t> WriteTwcc(uint16_t base, const std::vector<std::optional<int64_t>>& arrivals,
                                      uint8_t fb_count = 0) {
  std::vector<uint8_t> p(20, 0);
  int64_t ref_us = 0;
  for (const auto& a : arrivals) {
    if (a) {
      ref_us = (*a / 64000) * 64000;
      if (ref_us > *a) ref_us -= 64000;
      break;
    }
  }
  const int32_t ref = static_cast<int32_t>(ref_us / 64000);
  std::vector<uint8_t> symbols, deltas;
  int64_t prev = ref_us;
  for (const auto& a : arrivals) {
    if (!a) {
      symbols.push_back(0);
      continue;
    }
    const int64_t d = (*a - prev) / 250;
    prev += d * 250;
    if (d >= 0 && d <= 255) {
      symbols.push_back(1);
      deltas.push_back(static_cast<uint8_t>(d));
    } else {
      symbols.push_back(2);
      deltas.push_back(static_cast<uint8_t>((d >> 8) & 0xff));
      deltas.push_back(static_cast<uint8_t>(d & 0xff));
    }
  }
  for (size_t i = 0; i < symbols.size(); i += 7) {
    uint16_t chunk = 0xc000;
    for (size_t j = 0; j < 7; j++) {
      const uint8_t s = i + j < symbols.size() ? symbols[i + j] : 0;
      chunk |= static_cast<uint16_t>(s << (2 * (6 - j)));
    }
    p.push_back(static_cast<uint8_t>(chunk >> 8));
    p.push_back(static_cast<uint8_t>(chunk));
  }
  p.insert(p.end(), deltas.begin(), deltas.end());
  while (p.size() % 4) p.push_back(0);
  p[0] = 0x80 | 15;
  p[1] = 205;
  Store16(p.data() + 2, static_cast<uint16_t>(p.size() / 4 - 1));
  Store32(p.data() + 4, 0x11111111);
  Store32(p.data() + 8, 0x22222222);
  Store16(p.data() + 12, base);
  Store16(p.data() + 14, static_cast<uint16_t>(arrivals.size()));
  p[16] = static_cast<uint8_t>(ref >> 16);
  p[17] = static_cast<uint8_t>(ref >> 8);
  p[18] = static_cast<uint8_t>(ref);
  p[19] = fb_count;
  return p;
}

// A sender of `rate_bps` video (30 frames/s, 1200-byte packets, each frame sent as a burst)
// through a FIFO bottleneck of `capacity_bps` (tail drop beyond `max_queue_ms`, optional random
// loss), 20 ms one way, to a receiver that sends transport-cc feedback every 100 ms. Every
// feedback goes through the real reader, matcher and estimator; probes follow ProbeController
// at the 20 ms tick, with the next layer's need given by `probe_target_bps` (0: no probing).
struct LinkSim {
  double rate_bps = 1'000'000;
  double capacity_bps = 5'000'000;
  double loss = 0;          // random loss fraction on top of tail drop
  int64_t max_queue_ms = 300;
  double probe_target_bps = 0;
  bool abort_failing = true;  // stop a probe as soon as the feedback shows it failing (Peer::Probe)
  // A token-bucket shaper's burst allowance (bytes, as tc tbf's `burst`): packets leave at once
  // while tokens last. 0: a plain FIFO at capacity_bps.
  double burst_bytes = 0;
  double tokens = 0;
  int64_t tokens_at_us = 0;

  BandwidthEstimator bwe;
  ProbeController probes;
  SendHistory history;
  TransportCcClock clock;
  std::mt19937 rng{7};
  uint16_t seq = 0;
  int64_t link_free_us = 0;
  int64_t now_us = 0;
  int64_t next_frame_us = 0, next_feedback_us = 100'000, next_tick_us = 0;
  struct Arrival {
    uint16_t seq;
    std::optional<int64_t> at;  // nullopt: dropped
    int64_t seen_us;            // when the receiver knows its fate
  };
  std::deque<Arrival> pending;
  uint8_t fb_count = 0;
  uint64_t padding_bytes = 0;  // probe padding sent so far
  uint32_t probes_started = 0;
  // A receiver that lies: rewrites each feedback's arrivals (µs, nullopt: lost) before it is
  // written, as forged transport-cc feedback would.
  std::function<void(std::vector<std::optional<int64_t>>&)> forge;
  // The largest queue delay (µs) any packet met at the bottleneck so far.
  int64_t max_queue_us = 0;

  void SendPacket(size_t size, int probe) {
    history.Record(seq, now_us, size, probe);
    const int64_t start = std::max(now_us, link_free_us);
    const bool tail_drop = start - now_us > max_queue_ms * 1000;
    const bool random_drop = std::uniform_real_distribution<double>(0, 1)(rng) < loss;
    if (tail_drop || random_drop) {
      pending.push_back({seq, std::nullopt, now_us + 20'000});
    } else {
      tokens = std::min(burst_bytes, tokens + (start - tokens_at_us) * capacity_bps / 8e6);
      tokens_at_us = start;
      int64_t depart;
      if (burst_bytes > 0 && tokens >= static_cast<double>(size)) {
        tokens -= static_cast<double>(size);
        depart = start;
      } else {
        depart = start + static_cast<int64_t>((static_cast<double>(size) - std::max(tokens, 0.0)) * 8e6 / capacity_bps);
        tokens = 0;
        tokens_at_us = depart;
      }
      link_free_us = depart;
      max_queue_us = std::max(max_queue_us, depart - now_us);
      pending.push_back({seq, link_free_us + 20'000, link_free_us + 20'000});
    }
    seq++;
  }

  void Feedback() {
    std::vector<std::optional<int64_t>> arr;
    uint16_t base = 0;
    bool first = true;
    while (!pending.empty() && pending.front().seen_us <= now_us) {
      if (first) base = pending.front().seq;
      first = false;
      arr.push_back(pending.front().at);
      pending.pop_front();
    }
    while (!arr.empty() && !arr.back()) {  // a receiver reports losses only up to what arrived
      pending.push_front({static_cast<uint16_t>(base + arr.size() - 1), std::nullopt, now_us});
      arr.pop_back();
    }
    if (arr.empty()) return;
    if (forge) forge(arr);
    const std::vector<uint8_t> p = WriteTwcc(base, arr, fb_count++);
    TransportCcFeedback fb;
    static TransportCcArrival arrivals[kMaxTransportCcArrivals];
    static PacketResult results[SendHistory::kSize];
    size_t n = 0;
    if (!ParseTransportCc(p.data(), p.size(), &fb, arrivals, kMaxTransportCcArrivals, &n)) return;
    const size_t m = MatchTransportCc(fb, arrivals, n, clock.Unwrap(fb.reference_ticks), &history, results);
    bwe.OnFeedback(results, m, now_us / 1000);
  }

  void Tick() {
    const int64_t now_ms = now_us / 1000;
    const int o = bwe.TakeProbeOutcome();
    if (o != 0) probes.OnOutcome(o, now_ms);
    if (probe_target_bps <= 0) return;
    const uint64_t e = bwe.estimate_bps();
    if (!probes.active() && probes.Due(now_ms, e, probe_target_bps, bwe.last_cut_ms(), bwe.usage() == BandwidthUsage::kOverusing)) {
      probes.Start(now_ms, ProbeController::Aim(e, probe_target_bps), bwe.media_acked_bps(), bwe.BeginProbe(now_ms));
      probes_started++;
    }
    if (probes.active() && abort_failing && bwe.ProbeFailing()) {
      probes.Abort(now_ms);
      bwe.EndProbe(probes.cluster(), probes.packets(), probes.pad_bps(), now_ms, true);
    }
    if (probes.active()) {
      uint64_t owed = probes.Owed(now_ms);
      while (owed > 0) {
        const size_t size = 12 + kTwccExtensionBytes + 255;
        SendPacket(size, probes.cluster());
        probes.Sent(size);
        padding_bytes += size;
        owed = owed > size ? owed - size : 0;
      }
      if (probes.Finish(now_ms)) bwe.EndProbe(probes.cluster(), probes.packets(), probes.pad_bps(), now_ms);
    }
  }

  // Runs for `ms`, calling `each_second` (if given) once per simulated second.
  template <typename F>
  void Run(int64_t ms, F&& each_second) {
    const int64_t end = now_us + ms * 1000;
    int64_t next_second = now_us + 1'000'000;
    while (now_us < end) {
      const int64_t next = std::min({next_frame_us, next_feedback_us, next_tick_us, next_second});
      now_us = next;
      if (now_us == next_frame_us) {
        size_t bytes = static_cast<size_t>(rate_bps / 30 / 8);
        while (bytes > 0) {
          const size_t size = std::min<size_t>(bytes, 1200);
          SendPacket(size, -1);
          bytes -= size;
        }
        next_frame_us += 33'333;
      }
      if (now_us == next_tick_us) {
        Tick();
        next_tick_us += 20'000;
      }
      if (now_us == next_feedback_us) {
        Feedback();
        next_feedback_us += 100'000;
      }
      if (now_us == next_second) {
        each_second(now_us / 1000);
        next_second += 1'000'000;
      }
    }
  }
  void Run(int64_t ms) {
    Run(ms, [](int64_t) {});
  }
};

}  // namespace halfsec::test
