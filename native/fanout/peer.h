// One WebRTC peer (a publisher, a viewer, or a pull from another relay) as its worker thread
// sees it. Created on the JS thread, then owned and touched only by the worker it was handed to.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dtls/dtls.h"
#include "fanout/stream.h"
#include "ice/stun.h"
#include "ice/transaction_ring.h"
#include "media/bitrate_window.h"
#include "media/bandwidth_estimator.h"
#include "media/dd_layers.h"
#include "media/inbound_stream.h"
#include "media/keyframe_request_pacer.h"
#include "media/layer_switcher.h"
#include "media/probe_controller.h"
#include "media/send_history.h"
#include "media/seq_rewriter.h"
#include "media/svc_filter.h"
#include "media/token_bucket.h"
#include "media/twcc_trace.h"
#include "rtp/keyframe.h"
#include "rtp/transport_cc_writer.h"
#include "rtp/transport_cc_reader.h"
#include "srtp/srtp.h"

namespace halfsec {

class Worker;

enum class PeerRole : uint8_t { kPublisher, kViewer };

constexpr uint8_t kNoPt = 0xff;

struct PeerConfig {
  uint32_t id = 0;
  PeerRole role = PeerRole::kViewer;
  std::shared_ptr<Stream> stream;
  std::string local_ufrag, local_pwd, remote_ufrag;
  std::string fingerprint_algorithm, fingerprint;
  uint32_t clock_rate[kMediaKinds] = {48000, 90000};
  // SSRC the relay uses as RTCP sender toward this peer, and its SDES CNAME (empty: a random
  // one, stable for the session).
  uint32_t rtcp_ssrc = 0;
  std::string cname;
  // Reduced-size RTCP (RFC 5506, a=rtcp-rsize) negotiated: feedback may go without SR/RR and SDES.
  bool rtcp_rsize = false;

  // Publisher: the kind each payload type carries (kNoPt: not negotiated) and its codec;
  // RTX payload types map to the payload type they repair.
  std::array<uint8_t, 128> kind_by_pt{};
  std::array<Codec, 128> codec_by_pt{};
  std::array<uint8_t, 128> rtx_apt{};
  // Publisher: the stream's payload type for each of the publisher's media payload types where
  // they differ (kNoPt: keep it). A publisher that took over a stream whose viewers negotiated
  // another source's numbers (a relayed stream published here after its origin died) is
  // rewritten to those, so the viewers' own tables (out_pt_by_pt) keep working.
  std::array<uint8_t, 128> stream_pt_by_pt{};
  // Publisher simulcast: rtp-stream-id and repaired-rtp-stream-id extension ids (0: none) and
  // the rids, lowest layer first.
  uint8_t rid_ext_id = 0, repaired_rid_ext_id = 0;
  std::vector<std::string> rids;
  // Publisher: the bit rate announced upstream with REMB (0: none).
  uint64_t remb_bps = 0;
  // Publisher: the transport-wide-cc header extension id (0: none). With it the relay sends
  // transport-cc feedback (rtp/transport_cc_writer.h) so the publisher's estimator sets its rate.
  uint8_t transport_cc_ext_id = 0;
  // The AV1 dependency descriptor header extension id (0: not negotiated). Publisher: read on
  // every AV1 packet (its layers, rtp/dependency_descriptor.h); viewer: the descriptor is
  // forwarded under this id and AV1 temporal/spatial layers are filtered like VP8/VP9 ones
  // (two-byte extension form when it needs it, see RewriteRtp).
  uint8_t dd_ext_id = 0;

  // Viewer: the payload type to send for each publisher payload type (kNoPt: do not forward),
  // the SSRC announced per kind, and RTX for video when the viewer negotiated it.
  std::array<uint8_t, 128> out_pt_by_pt{};
  uint32_t out_ssrc[kMediaKinds] = {0, 0};
  uint8_t out_rtx_pt = kNoPt;
  uint32_t out_rtx_ssrc = 0;
  int feedback_interval_ms = 1000;
  // Viewer: the transport-wide-cc header extension id per kind (1..14, one-byte form; 0: not
  // negotiated), answered only with `transport-cc` feedback: every packet to the viewer then
  // carries the relay's own transport-wide sequence number and its feedback drives the estimate.
  uint8_t twcc_ext_id[kMediaKinds] = {0, 0};

  // Pull (relay-to-relay): a publisher-role peer that is itself the ICE-controlling agent and
  // the DTLS client toward another relay's ICE-lite viewer session. It owns a UDP socket of its
  // own, so two pulls between the same pair of workers never share a 5-tuple.
  bool pull = false;
  // The relay is the DTLS client (always for pulls; for a peer whose offer said a=setup:passive).
  bool dtls_client = false;
  std::string remote_pwd;
  sockaddr_storage remote_addr{};

  // Local ingest (a publisher-role peer fed by one of the relay's own FFmpeg children): plain
  // RTP/RTCP on an AF_UNIX datagram socket at `ingest_path`, no ICE, DTLS or SRTP. Only
  // datagrams whose kernel-stamped sender pid is the child's (Worker::SetIngestSource) and whose
  // SSRC is one the relay assigned (`ingest_ssrc`, per kind; 0: that kind is not carried) count.
  bool ingest = false;
  std::string ingest_path;
  uint32_t ingest_ssrc[kMediaKinds] = {0, 0};

  // Every simulcast layer over one session (a relay-to-relay pull, docs/cluster.md), lowest
  // first, at most kMaxLayers. Viewer: the SSRC each video layer goes out on (each its own
  // sequence line, NACK and PLI per SSRC); empty: one layer at a time on out_ssrc[kVideo].
  // Pull: the SSRC each layer arrives on (from the upstream's a=ssrc-group:SIM), with `rids`
  // naming the layers.
  std::vector<uint32_t> layer_ssrcs;
};

// A viewer's periodic feedback summary, reported to the control plane.
struct ViewerFeedback {
  double loss = 0;          // fraction lost in the viewer's latest receiver report
  double rtt_ms = -1;       // from the receiver report's LSR/DLSR, -1 until known
  double remb_bps = 0;      // the viewer's REMB estimate, 0 until one arrives
  double nacks = 0;         // sequence numbers NACKed since the previous summary
  double retransmits = 0;   // packets resent since the previous summary
  double layer = -1;        // simulcast layer being sent
  double packets = 0;       // media packets sent since the previous summary
  // From transport-cc feedback (0 without it): the relay's bandwidth estimate for the viewer
  // (0 while no limit has shown, see media/bandwidth_estimator.h) and the rate it acknowledged.
  double estimate_bps = 0;
  double acked_bps = 0;
  // VP8/VP9/AV1 layers (media/svc_filter.h): how many spatial / temporal layers the stream has shown
  // (0: no layer information), and the highest of each being forwarded (7: all).
  double svc_spatial_layers = 0, svc_temporal_layers = 0;
  double svc_spatial = 7, svc_temporal = 7;
};

class Peer {
 public:
  Peer(PeerConfig config, const DtlsIdentity& identity);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  uint32_t id() const { return cfg_.id; }
  PeerRole role() const { return cfg_.role; }
  Stream* stream() const { return cfg_.stream.get(); }
  const PeerConfig& config() const { return cfg_; }

  bool has_address() const { return has_addr_; }
  // The peer's path: a UDP address on the worker's socket (tcp_id 0), or an ICE-TCP connection
  // (its id; `address()` is then the connection's remote end).
  const sockaddr_storage& address() const { return addr_; }
  uint64_t tcp_id() const { return tcp_id_; }
  // The key of the current path in the worker's address table (see PathKey).
  std::string path_key() const;
  void set_address(const sockaddr_storage& a, uint64_t tcp_id = 0);
  // NAT rebinding (ice/address_binding.h): the peer's media moves to `a`; `old_key` is the
  // address key it leaves, remembered so that late checks from there cannot pull it back.
  void MoveTo(const sockaddr_storage& a, uint64_t tcp_id, std::string old_key, int64_t now_ms);
  // The ICE-TCP connection carrying this peer dropped packets (its send queue was full) and has
  // drained since: a viewer asks for a keyframe to recover.
  void OnPathDrained();
  const std::string& previous_address_key() const { return prev_addr_key_; }
  int64_t moved_ms() const { return moved_ms_; }
  // Something authenticated (SRTP, SRTCP, a valid check) arrived from the peer's current address:
  // a live path is not moved away from. Never for unauthenticated datagrams, which a spoofer can
  // send from the address to pin a peer to a path that died.
  void heard(int64_t now_ms) { heard_ms_ = now_ms; }
  // The peer's first address is known: a DTLS client may send its ClientHello now.
  void OnAddressBound();
  int64_t heard_ms() const { return heard_ms_; }
  // A valid check's transaction id: true when this peer used it before (ice/transaction_ring.h).
  bool CheckSeenBefore(const uint8_t* tid) { return checks_.SeenOrAdd(tid); }
  // The SSRCs this publisher sends on (media and RTX) that its worker knows, to find it by SSRC
  // when its SRTP arrives from a new address (Worker::AdoptBySrtp).
  const std::vector<uint32_t>& known_ssrcs() const { return known_ssrcs_; }

  void Attach(Worker* worker);
  bool is_pull() const { return cfg_.pull; }
  // A viewer that gets every video layer at once (PeerConfig::layer_ssrcs).
  bool is_layered() const { return layered(); }
  bool is_ingest() const { return cfg_.ingest; }
  // Ingest: the child process whose datagrams count (0: none yet, everything is dropped).
  void set_ingest_pid(int pid) { ingest_pid_ = pid; }
  int ingest_pid() const { return ingest_pid_; }
  // Ingest: one plain RTP or RTCP datagram from the child. False when it was refused (an SSRC
  // the relay did not assign, not RTP).
  bool OnIngest(uint8_t* d, size_t n, int64_t now_ms);
  // Pull: the peer's own UDP socket (owned from here on; -1 when none could be opened).
  void set_socket(int fd) { sock_ = fd; }
  int socket_fd() const { return sock_; }
  // Pull: a STUN response that arrived on the peer's socket from its remote address.
  void OnStunResponse(const uint8_t* d, size_t n, const StunMessage& m, int64_t now_ms);
  // Which publisher attachment of the stream this peer is (see Stream::source_epoch); each of
  // its lines takes a new epoch when it restarts (new SSRC or sequence, see InboundStream).
  void set_epoch(uint32_t e) {
    for (auto& kind : epoch_) {
      for (auto& layer : kind) layer = e;
    }
  }
  void Fail(const char* reason) {
    failed_ = true;
    fail_reason_ = reason;
    if (tick_.asleep) WakeTicks();
  }
  void OnDtls(const uint8_t* d, size_t n, int64_t now_ms);
  // Publisher RTP. `current_path`: it came over the peer's current path (else from an unowned
  // address, see Worker::AdoptBySrtp). True when it authenticated (and was not a replay).
  bool OnSrtp(uint8_t* d, size_t n, int64_t now_ms, bool current_path = true);
  void OnSrtcp(uint8_t* d, size_t n, int64_t now_ms);
  // Viewer: send one fanned-out packet; `top` is the stream's highest live video layer.
  void Forward(const MediaPacket& pkt, int top);
  // Viewer: pin a simulcast layer (-1: follow the highest live layer).
  void SetLayer(int layer) {
    layers_.Pin(layer);
    if (tick_.asleep) WakeTicks();
  }
  // Viewer: the highest VP8/VP9/AV1 spatial and temporal layer to forward (7: all; fanout/peer_svc.cc).
  // `next_kbps`: the rate of the next step up (0: none); probes aim at it while layers are dropped.
  void SetSvcTarget(int spatial, int temporal, uint32_t next_kbps);
  // Publisher: PLI for a video layer.
  void SendKeyframeRequest(int layer);
  // Timers (RTCP, NACK retries, timeouts). False when the peer should be closed.
  bool OnTick(int64_t now_ms, const char** reason);
  void Close();
  // After an OnTick that kept the peer: the time before which it needs no tick (0: tick it
  // every time). Only a connected viewer that gets no media (none forwarded for a second: no
  // probe, no layer to climb) sleeps, until its next consent deadline, sender report or
  // feedback summary; media, RTCP, DTLS, a layer pin or a failure wake it (WakeTicks).
  int64_t IdleUntil(int64_t now_ms) const;
  // The worker's bookkeeping of this peer's place in its tick schedule (Worker::Tick).
  struct TickSlot {
    int32_t index = -1;  // position in the worker's list of ticked peers; -1: not in it
    bool asleep = false;
    uint32_t seq = 0;  // tells a sleep's own wake-up entry from stale ones
  };
  TickSlot& tick_slot() { return tick_; }

  void touch(int64_t now_ms) { last_seen_ms_ = now_ms; }

 private:
  // Reports every second while media flows (RFC 3550 §6.2's reduced minimum, 360 / session
  // kbit/s seconds, is below that at video rates); a layer not seen for a second is stale.
  static constexpr int64_t kRtcpIntervalMs = 1000;
  static constexpr int64_t kLayerStaleMs = 1000;
  // Viewer side: what goes out for one kind.
  struct Outbound {
    int layer = -1;
    uint32_t epoch = 0;  // the stream's source attachment the line currently follows
    SeqRewriter seq;
    uint32_t packets = 0, octets = 0;
  };

  void OnDtlsConnected();
  void StartMedia();  // a viewer's first media: the cached keyframe, else a keyframe request
  void WakeTicks();  // back into the worker's tick list (see IdleUntil)
  // Viewer: no packet offered for a second and no probe: reports go at the quiet pace (peer.cc).
  bool Quiet(int64_t now_ms) const;
  int64_t RtcpIntervalMs(int64_t now_ms) const;
  int64_t FeedbackIntervalMs(int64_t now_ms) const;
  void SendRaw(const uint8_t* d, size_t n);
  void PullChecks(int64_t now_ms);
  void SendPli(uint32_t media_ssrc);
  // Where feedback (NACK, PLI) starts in scratch_: after the compound head unless rtcp-rsize.
  size_t FeedbackHead();
  void SendRtcp(uint8_t* buf, size_t len);
  void NoteMedia(int64_t now_ms, bool rtp);
  bool MediaTimedOut(int64_t now_ms) const;
  // Publisher: a decrypted (or plain, for ingest) RTP packet of `len` bytes.
  void AcceptRtp(uint8_t* d, int len, int64_t now_ms);
  // Publisher.
  int LayerOf(const uint8_t* d, const RtpHeader& h, bool repaired);
  // Which inbound line a decrypted packet belongs to (RTX unwrapped in place); line null: none.
  struct Inbound {
    InboundStream* line = nullptr;
    int kind = 0, layer = 0;
    uint8_t media_pt = 0;
    bool rtx = false, simulcast = false;
  };
  Inbound Classify(uint8_t* d, int* len, RtpHeader* h);
  // A line restarted: a new epoch for it, so viewers follow at its first keyframe (audio at once).
  void KnowSsrc(uint32_t ssrc);
  void OnLineRestart(const Inbound& c, bool keyframe);
  void PublishPacket(MediaPacket* pkt, int64_t now_ms);
  void SendNacks(int64_t now_ms);
  void ReportLayerRates(int64_t now_ms);
  void OnPublisherRtcp(const uint8_t* d, size_t n);
  void SendTransportCc(int64_t now_ms);
  // Viewer.
  void StartOrSwitch(Outbound& o, const MediaPacket& pkt, int64_t now_ms);
  // `out_seq` >= 0: send as that number (a late packet after dropped ones); `marker`: set the
  // RTP marker bit (the packet ends what the viewer gets of a VP9 picture).
  // `ssrc` 0: the kind's out_ssrc; a layered viewer (all layers) passes the layer's.
  void Send(Outbound& o, const MediaPacket& pkt, uint8_t out_pt, int out_seq = -1, bool marker = false,
            uint32_t ssrc = 0);
  // VP8/VP9/AV1 video past the simulcast decision: temporal/spatial layer filtering (peer_svc.cc).
  void ForwardLayered(Outbound& o, const MediaPacket& pkt, uint8_t out_pt);
  // A NACKed outgoing video number once packets were dropped: its source and marker. False:
  // not known (then nothing is resent: the segment offset no longer holds).
  bool LayeredSource(uint16_t out_seq, uint16_t* seq, bool* marker) const;
  void Retransmit(int kind, uint16_t out_seq);
  // Resends outgoing `out_seq` of line `o` (SSRC `ssrc`); RTX only when `rtx_ok`.
  void RetransmitFrom(Outbound& o, int kind, uint32_t ssrc, uint16_t out_seq, bool rtx_ok);
  // Layered viewer (fanout/peer_layered.cc): every video layer on its own SSRC and line.
  bool layered() const { return !cfg_.layer_ssrcs.empty(); }
  void ForwardAllLayers(const MediaPacket& pkt, uint8_t out_pt);
  int LayerOfOutSsrc(uint32_t ssrc) const;
  // Appends a sender report per started layer line; returns the bytes added.
  size_t LayeredSenderReports(uint8_t* at, uint64_t ntp, uint32_t* ssrcs, int* n);
  void WantKeyframe(int layer);
  void SendSenderReports(int64_t now_ms);
  void ReportFeedback();
  void ReportSvc();  // the SVC fields of fb_ (peer_svc.cc)
  // Publisher: an AV1 packet's dependency descriptor read into pkt->layers (peer_svc.cc).
  void ReadDependencyDescriptor(MediaPacket* pkt);
  // Viewer: the header extensions written on a packet of `kind` (transport-wide number, DD).
  RtpExtensionsOut OutExtensions(const MediaPacket& pkt, uint8_t twcc_id) const;
  void OnViewerRtcp(const uint8_t* d, size_t n);
  // Transport-wide congestion control toward the viewer (fanout/peer_twcc.cc).
  uint8_t TwccId(int kind) const { return history_ ? cfg_.twcc_ext_id[kind] : 0; }
  // The packet just protected into the batch carried transport-wide number `seq` (`len` bytes
  // before SRTP): remember it for the feedback.
  void RecordSent(uint8_t twcc_id, uint16_t seq, size_t len, int probe);
  void OnTransportCc(const uint8_t* d, size_t n);
  void Probe(int64_t now_ms);
  void SendPadding(int64_t now_ms);
  // The measured rate of the stream's highest live layer (bit/s; 0 when none is measured).
  double TopLayerBps(int64_t now_ms) const;
  // The relay's transport-cc estimate is below what simulcast `layer` needs (kEarlyDownFraction).
  bool PathBelowLayer(int layer) const;

  PeerConfig cfg_;
  const DtlsIdentity& identity_;
  Worker* worker_ = nullptr;
  std::unique_ptr<DtlsTransport> dtls_;
  SrtpContext srtp_in_, srtp_out_;
  bool srtp_ready_ = false;
  int64_t start_due_ms_ = -1;  // a viewer's video waits until then (kViewerStartGraceMs)
  bool has_addr_ = false;
  sockaddr_storage addr_{};
  uint64_t tcp_id_ = 0;
  int64_t created_ms_ = -1;
  int64_t last_seen_ms_ = 0;
  int64_t heard_ms_ = 0;
  std::string prev_addr_key_;
  int64_t moved_ms_ = -1'000'000'000;
  TransactionRing checks_;
  std::vector<uint32_t> known_ssrcs_;
  bool failed_ = false;
  const char* fail_reason_ = "dtls-failed";
  // Publisher: media liveness (RTP or RTCP), for the media timeout; -1 until the first RTP.
  int64_t first_media_ms_ = -1, last_media_ms_ = 0, longest_media_gap_ms_ = 0;
  uint32_t epoch_[kMediaKinds][kMaxLayers] = {};
  int sock_ = -1;
  int ingest_pid_ = 0;
  bool ingest_live_ = false;  // ingest: the first packet arrived ("connected")
  bool ingest_has_ts_ = false;
  uint32_t ingest_last_ts_ = 0;  // ingest: the latest video RTP timestamp (B-frame check)

  // Pull: ICE connectivity checks and consent (RFC 7675) as the controlling agent.
  bool ice_ok_ = false;
  int64_t next_check_ms_ = 0;
  uint8_t check_tids_[4][12] = {};
  int check_next_ = 0;
  uint64_t tie_breaker_ = 0;
  int64_t last_rtcp_ms_ = 0;

  // Publisher.
  // Inbound lines and ingress rates exist for publisher-role peers only (a viewer would carry
  // ~1.5 KiB of them unused); in_, layer_rate_ and audio_rate_ point into it, null for viewers.
  struct Ingress {
    InboundStream in[kMediaKinds][kMaxLayers];
    BitrateWindow layer_rate[kMaxLayers];  // video ingress per layer (sliding window)
    BitrateWindow audio_rate;
  };
  std::unique_ptr<Ingress> ingress_;
  InboundStream (*in_)[kMaxLayers] = nullptr;
  BitrateWindow* layer_rate_ = nullptr;
  BitrateWindow* audio_rate_ = nullptr;
  uint32_t rtx_ssrc_layer_[kMaxLayers] = {};  // RTX SSRC seen per layer (simulcast)
  // A packet on probation (a sequence jump, see InboundStream::Accept), per kind and layer.
  MediaPacket* held_[kMediaKinds][kMaxLayers] = {};
  // Transport-cc feedback (only when negotiated: 32 KiB of arrival times).
  std::unique_ptr<TransportCcWriter> transport_cc_;
  // AV1 dependency descriptors per video layer (allocated at the first descriptor).
  std::unique_ptr<DdLayers> dd_[kMaxLayers];
  int64_t last_transport_cc_ms_ = 0;

  // Viewer.
  Outbound out_[kMediaKinds];
  Outbound sim_[kMaxLayers];  // layered viewer: one line per video layer
  LayerSwitcher layers_;
  SvcFilter svc_;
  // Allocated at the first dropped video packet (media/svc_filter.h).
  std::unique_ptr<OutSeqMap> out_map_;
  uint32_t svc_dropped_ = 0;
  uint32_t svc_next_kbps_ = 0;
  // The bit rate a probe aims at to step up an SVC layer (0: none, see SetSvcTarget).
  double SvcProbeBps() const;
  int svc_layer_ = -1;  // the simulcast layer and source the filter's timestamps come from
  uint32_t svc_epoch_ = 0;
  KeyframeRequestPacer keyframe_asks_{300};
  uint16_t rtx_seq_ = 0;
  // 300 per second, bursts of 150.
  TokenBucket retransmit_budget_{300, 150};
  int64_t last_feedback_ms_ = 0;
  ViewerFeedback fb_;
  bool summary_news_ = true;  // something for the next summary even when quiet (OnTick)
  uint32_t nacks_ = 0, retransmits_ = 0, sent_ = 0;
  // Viewer transport-wide congestion control: allocated only when negotiated.
  uint16_t twcc_seq_ = 1;
  std::unique_ptr<SendHistory> history_;
  std::unique_ptr<BandwidthEstimator> bwe_;
  TransportCcClock twcc_clock_;
  ProbeController probe_;
  std::unique_ptr<TwccTraceRecorder> twcc_trace_;  // off unless HALFSEC_TWCC_TRACE_DIR is set
  bool first_media_sent_ = false;  // viewer: the "first-media" event went out
  int64_t last_forward_ms_ = -1;   // viewer: the latest Forward call (a stream packet offered)
  TickSlot tick_;

  // RTCP the peer builds and sends within one call: one buffer per thread, not per peer.
  static thread_local uint8_t scratch_[kMaxPacket + kSrtpMaxTrailer];
};

}  // namespace halfsec
