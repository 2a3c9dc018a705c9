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

  // How one packet fits the line (RFC 3550 §8.2 and Appendix A.1).
  enum class Verdict : uint8_t {
    kDrop,       // a duplicate, too late, or another SSRC while this one is live
    kAccept,     // the line goes on (or starts)
    kProbation,  // a sequence jump: held until the next packet confirms a restart
    kRestart,    // the line restarted (new SSRC, or a confirmed jump); it now ends at this packet
  };
  static constexpr uint16_t kMaxDropout = 3000, kMaxMisorder = 100;

  bool started() const { return started_; }
  uint32_t ssrc() const { return ssrc_; }
  void set_ssrc(uint32_t ssrc) { ssrc_ = ssrc; }
  // Forgets everything: the line restarted under a new SSRC.
  void Restart(uint32_t ssrc);
  // False for a duplicate, or a packet too late to matter; `*recovered` when it filled a hole
  // the relay had NACKed.
  bool Track(uint16_t seq, int64_t now_ms, bool* recovered);
  // A packet of `ssrc`. Another SSRC takes the line over once the current one has been quiet
  // for `quiet_ms` (0: at once). On one SSRC, a jump of kMaxDropout or more ahead, or more than
  // kMaxMisorder behind, is a restart once the next packet follows it in sequence; after such a
  // restart the line has tracked both (the held packet, then this one). With `may_restart`
  // false (RTX) a packet never restarts the line.
  Verdict Accept(uint32_t ssrc, uint16_t seq, int64_t now_ms, int64_t quiet_ms, bool may_restart, bool* recovered);
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
  int64_t last_ms_ = 0;  // the current SSRC's latest packet
  bool probation_ = false;
  uint16_t bad_seq_ = 0;
  NackGenerator nacks_;
};

}  // namespace halfsec
