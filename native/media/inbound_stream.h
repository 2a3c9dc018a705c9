// One RTP sequence line a publisher sends (one SSRC): extended sequence numbers and loss for
// receiver reports (RFC 3550 A.1, A.3), and the holes the relay NACKs upstream.
#pragma once
#include <cstdint>

#include "media/nack_generator.h"

namespace halfsec {

class InboundStream {
 public:
  // What a receiver report block says about the interval since the previous report.
  struct Report {
    uint8_t fraction_lost;  // /256
    uint32_t cumulative_lost;
    uint32_t extended_max;
  };

  bool started() const { return started_; }
  uint32_t ssrc() const { return ssrc_; }
  void set_ssrc(uint32_t ssrc) { ssrc_ = ssrc; }
  // Forgets everything: the line restarted under a new SSRC.
  void Restart(uint32_t ssrc);
  // False for a duplicate, or a packet too late to matter; `*recovered` when it filled a hole
  // the relay had NACKed.
  bool Track(uint16_t seq, int64_t now_ms, bool* recovered);
  Report TakeReport();
  NackGenerator& nacks() { return nacks_; }

 private:
  // A forward jump this large is a restart of the sender, not loss worth NACKing.
  static constexpr int kMaxGap = 200;
  bool started_ = false;
  uint32_t ssrc_ = 0;
  uint16_t max_seq_ = 0;
  uint32_t cycles_ = 0, base_seq_ = 0, received_ = 0;
  uint32_t expected_prior_ = 0, received_prior_ = 0;
  NackGenerator nacks_;
};

}  // namespace halfsec
