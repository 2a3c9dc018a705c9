// One WebRTC peer (a publisher or a viewer) as its worker thread sees it. Created on the JS
// thread, then owned and touched only by the worker it was handed to.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "dtls.h"
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
  // Publisher: which kind each payload type carries (0xff: not negotiated).
  std::array<uint8_t, 128> kind_by_pt{};
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
  // Publisher: send a PLI for its video.
  void SendKeyframeRequest();
  // Timers. False when the peer should be closed; *reason says why.
  bool OnTick(int64_t now_ms, const char** reason);
  void Close();  // close_notify

  bool connected() const { return srtp_ready_; }
  void touch(int64_t now_ms) { last_seen_ms_ = now_ms; }

  uint64_t rx_packets = 0, tx_packets = 0, srtp_errors = 0;

 private:
  void OnDtlsConnected();

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
  // Publisher: the SSRC chosen per kind (the first seen; others are ignored for now).
  uint32_t in_ssrc_[kMediaKinds] = {0, 0};
  bool in_ssrc_set_[kMediaKinds] = {false, false};
  // Viewer: sequence number offset per kind, fixed at the first forwarded packet.
  uint16_t seq_delta_[kMediaKinds] = {0, 0};
  bool seq_started_[kMediaKinds] = {false, false};
  uint8_t scratch_[kMaxPacket + kSrtpMaxTrailer];
};

}  // namespace halfsec
