// One WebRTC peer (a publisher or a viewer) as its worker thread sees it. Created on the JS
// thread, then owned and touched only by the worker it was handed to.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dtls.h"
#include "keyframe.h"
#include "srtp.h"
#include "stream.h"

namespace halfsec {

class Worker;

enum class PeerRole : uint8_t { kPublisher, kViewer };

struct PeerConfig {
  uint32_t id = 0;
  PeerRole role = PeerRole::kViewer;
  std::shared_ptr<Stream> stream;
  std::string local_ufrag, local_pwd, remote_ufrag;
  std::string fingerprint_algorithm, fingerprint;
  // Publisher: which kind each payload type carries (0xff: not negotiated), and its codec.
  std::array<uint8_t, 128> kind_by_pt{};
  std::array<Codec, 128> codec_by_pt{};
  // Publisher simulcast: the rtp-stream-id extension id (0: none) and the rids, lowest first.
  uint8_t rid_ext_id = 0;
  std::vector<std::string> rids;
  // Viewer: the payload type to send for each publisher payload type (0xff: do not forward),
  // and the SSRC announced in the viewer's answer for each kind.
  std::array<uint8_t, 128> out_pt_by_pt{};
  uint32_t out_ssrc[kMediaKinds] = {0, 0};
  // SSRC the relay uses as RTCP sender toward this peer.
  uint32_t rtcp_ssrc = 0;
};

class Peer {
 public:
  Peer(PeerConfig config, const DtlsIdentity& identity);

  uint32_t id() const { return cfg_.id; }
  PeerRole role() const { return cfg_.role; }
  Stream* stream() const { return cfg_.stream.get(); }
  const PeerConfig& config() const { return cfg_; }

  // ICE: the address this peer's checks come from, once one has been accepted.
  bool has_address() const { return has_addr_; }
  const sockaddr_storage& address() const { return addr_; }
  void set_address(const sockaddr_storage& a);

  // Wired by the worker once the peer is on its thread.
  void Attach(Worker* worker);
  // Called on the worker's thread.
  void OnDtls(const uint8_t* d, size_t n, int64_t now_ms);
  void OnSrtp(uint8_t* d, size_t n, int64_t now_ms);
  void OnSrtcp(uint8_t* d, size_t n, int64_t now_ms);
  // Viewer: encrypt one fanned-out packet into the worker's send batch.
  void Forward(const MediaPacket& pkt);
  // Publisher: send a PLI for the video layer being forwarded.
  void SendKeyframeRequest();
  // Timers. False when the peer should be closed; *reason says why.
  bool OnTick(int64_t now_ms, const char** reason);
  void Close();  // close_notify

  bool connected() const { return srtp_ready_; }
  void touch(int64_t now_ms) { last_seen_ms_ = now_ms; }

  uint64_t rx_packets = 0, tx_packets = 0, srtp_errors = 0;

 private:
  void OnDtlsConnected();
  void SendPli(uint32_t media_ssrc);
  // Publisher simulcast: the layer of this packet (-1: unknown, drop), learned from the rid
  // header extension the first time an SSRC is seen.
  int LayerOf(const uint8_t* d, const RtpHeader& h, int64_t now_ms);
  // Which layer to forward; false to drop the packet.
  bool SelectLayer(const uint8_t* d, const RtpHeader& h, int64_t now_ms);

  PeerConfig cfg_;
  const DtlsIdentity& identity_;
  Worker* worker_ = nullptr;
  std::unique_ptr<DtlsTransport> dtls_;
  SrtpContext srtp_in_, srtp_out_;
  bool srtp_ready_ = false;
  bool has_addr_ = false;
  sockaddr_storage addr_{};
  int64_t created_ms_ = -1;
  int64_t last_seen_ms_ = 0;
  bool failed_ = false;
  // Publisher: the SSRC forwarded per kind (without simulcast, the first one seen).
  uint32_t in_ssrc_[kMediaKinds] = {0, 0};
  bool in_ssrc_set_[kMediaKinds] = {false, false};
  // Publisher: stream-level sequence numbers and timestamps stay continuous when the forwarded
  // SSRC changes (a simulcast switch) by re-basing these offsets.
  struct Rebase {
    bool started = false;
    uint16_t last_seq = 0;
    uint32_t last_ts = 0;
    int64_t last_ms = 0;
    uint16_t seq_delta = 0;
    uint32_t ts_delta = 0;
  };
  Rebase rebase_[kMediaKinds];
  static constexpr int kMaxLayers = 4;
  struct Layer {
    uint32_t ssrc = 0;
    bool seen = false;
    int64_t last_ms = -1000000;
  };
  Layer layers_[kMaxLayers];
  int current_layer_ = -1;
  int64_t last_layer_pli_ms_ = -1000000;
  // Viewer: sequence number offset per kind, fixed at the first forwarded packet.
  uint16_t seq_delta_[kMediaKinds] = {0, 0};
  bool seq_started_[kMediaKinds] = {false, false};
  uint8_t scratch_[kMaxPacket + kSrtpMaxTrailer];
};

}  // namespace halfsec
