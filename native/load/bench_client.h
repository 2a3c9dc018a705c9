// Load generator data plane: many WebRTC client peers (viewers and a publisher) hosted on a few
// threads of the LOAD-GENERATOR process, so that the relay can be driven to its limit by
// something cheaper than the relay itself. Signaling stays in TypeScript (ts/load/).
//
// Addressing: the relay tells peers apart by source address, so every client owns one loopback
// IP (127.B.x.y) and shares its thread's UDP socket (bound to 0.0.0.0:<ephemeral>). The source IP
// is chosen per datagram with IP_PKTINFO; received datagrams are routed by their destination IP.
#pragma once
#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dtls/dtls.h"

namespace halfsec::bench {

// First bytes of every synthetic media payload: magic, counter, CLOCK_MONOTONIC send time (ns).
constexpr uint32_t kPayloadMagic = 0x4853424E;  // "HSBN"
// Payload: an H.264 NAL header byte (IDR at the start of each keyframe, so a relay that starts
// viewers at keyframes can), magic, counter, send time in ns.
constexpr size_t kPayloadHeader = 17;
constexpr uint32_t kKeyframeEveryFrames = 60;
// Before every IDR the publisher sends the parameter sets in one STAP-A packet (RFC 6184 5.7.1),
// as encoders do: an H.264 Constrained Baseline 3.1 SPS and its PPS. Relays that find keyframes
// by their SPS (mediasoup) see them; viewers count the packet and skip the payload check.
constexpr uint8_t kSps[] = {0x67, 0x42, 0xe0, 0x1f, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00,
                            0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf2, 0x3c, 0x60, 0xc9, 0x20};
constexpr uint8_t kPps[] = {0x68, 0xce, 0x3c, 0x80};
// One packet in this many is authenticated and decrypted by a viewer.
constexpr uint64_t kCheckEvery = 64;

int64_t MonotonicNs();

// Latency histogram, log-linear: exact below 64 ns, then 32 buckets per power of two (~3 %).
// One writer (the owning thread); readers see relaxed snapshots.
class Histogram {
 public:
  static constexpr size_t kBuckets = 64 + 36 * 32;
  static size_t BucketOf(uint64_t v);
  static uint64_t LowerBound(size_t bucket);
  void Add(uint64_t v) {
    auto& b = buckets_[BucketOf(v)];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t Count(size_t bucket) const { return buckets_[bucket].load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> buckets_[kBuckets] = {};
};

enum class ClientState : int { kNew = 0, kChecking, kDtls, kConnected, kFailed, kClosed };

// Written by the client's thread only, read by JS at any time.
struct ClientStats {
  template <typename T>
  static void Bump(std::atomic<T>& a, T by = 1) {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  std::atomic<int> state{0};
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, auth_checked{0}, auth_failed{0}, bad_payload{0};
  std::atomic<uint64_t> tx_packets{0}, tx_bytes{0}, rtcp_in{0}, stun_in{0};
  // CLOCK_MONOTONIC ns; 0 until it happened.
  std::atomic<int64_t> ice_ns{0}, connected_ns{0}, first_media_ns{0};
  // Written by JS: a publisher holding its media (so that viewers can join an idle relay).
  std::atomic<bool> paused{false};
  std::string error;  // written once, before state becomes kFailed (release), read after (acquire)
};

struct ClientParams {
  bool publisher = false;
  std::string local_ufrag, local_pwd, remote_ufrag, remote_pwd;
  std::string fingerprint_algorithm, fingerprint;
  DtlsRole dtls_role = DtlsRole::kClient;
  sockaddr_in remote{};
  // ICE-TCP (RFC 6544 tcptype active, RFC 4571 framing): a connected TCP socket from the client's
  // own address to `remote`, the relay's passive candidate, instead of the loop's UDP socket.
  bool tcp = false;
  // Publisher only.
  uint8_t payload_type = 102;
  uint32_t ssrc = 0;
  uint32_t rate_kbps = 2500;
  uint32_t fps = 30;
  uint32_t packet_size = 1200;
  // Publisher: a frame's packets back to back at each frame time (as OBS and other unpaced
  // encoders send), instead of evenly spaced (a paced sender).
  bool burst = false;
  // Publisher: a PLI or FIR from the relay makes the next frame an IDR (with its parameter sets)
  // and restarts the keyframe interval, as browser and hardware encoders do; off, the publisher
  // ignores requests (bench/join measures the keyframe cache against such a publisher).
  bool keyframe_on_request = false;
  // The certificate this client presents (its own, as each browser peer connection brings a
  // fresh one); null: the engine identity's.
  std::shared_ptr<const DtlsCertificate> certificate;
};

class Loop;

// One client peer: ICE (controlling, full agent), DTLS, SRTP, and media counting or sending.
class Client {
 public:
  Client(uint32_t id, uint32_t ip, ClientParams params, std::shared_ptr<ClientStats> stats);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uint32_t id() const { return id_; }
  uint32_t ip() const { return ip_; }
  bool publisher() const { return p_.publisher; }
  bool tcp() const { return p_.tcp; }
  const sockaddr_in& remote() const { return p_.remote; }

  // Loop thread only from here on.
  void Attach(Loop* loop, const DtlsIdentity& identity, int64_t now_ns);
  void OnDatagram(uint8_t* d, size_t n, const sockaddr_in& from, int64_t rx_ns);
  void OnTick(int64_t now_ns);
  // Publisher: sends every packet due by `now_ns`; returns when the next one is due (0: idle).
  int64_t SendDue(int64_t now_ns);
  void Close();
  // Still connecting (ICE checks, DTLS timers) or publishing: ticked every loop tick. Connected
  // viewers only need their consent checks (4-6 s apart) and are swept a slice per tick.
  bool NeedsFastTick() const;

 private:
  void SendCheck(int64_t now_ns);
  void OnStun(uint8_t* d, size_t n, const sockaddr_in& from, int64_t now_ns);
  void OnMedia(uint8_t* d, size_t n, int64_t rx_ns);
  void OnDtls(const uint8_t* d, size_t n, int64_t now_ns);
  void Fail(const std::string& why);
  void SendPacket(int64_t now_ns);
  void SendParameterSets();  // STAP-A: SPS + PPS, before an IDR
  void SendSenderReport(int64_t now_ns);

  const uint32_t id_;
  const uint32_t ip_;  // network byte order
  ClientParams p_;
  std::shared_ptr<ClientStats> stats_;
  Loop* loop_ = nullptr;
  std::unique_ptr<DtlsTransport> dtls_;
  SrtpContext srtp_in_, srtp_out_;
  bool srtp_ready_ = false;
  bool ice_ok_ = false;
  bool controlling_ = true;
  uint64_t tie_breaker_ = 0;
  uint8_t tids_[4][12] = {};
  unsigned tid_next_ = 0;
  int64_t created_ns_ = 0, next_check_ns_ = 0;
  // Connectivity checks before the first success are retransmitted with a doubling interval
  // (RFC 8489 6.2.1), so that checks lost on a busy path do not multiply the load.
  int64_t check_interval_ns_ = 0;
  uint64_t rx_count_ = 0;
  // Publisher.
  std::vector<uint8_t> packet_;
  uint16_t seq_ = 0;
  uint32_t rtp_ts_ = 0, counter_ = 0, in_frame_ = 0, per_frame_ = 1, frame_ = 0;
  bool keyframe_requested_ = false;
  int64_t interval_ns_ = 0, next_send_ns_ = 0, last_report_ns_ = 0;
};

// One thread, one UDP socket, an epoll loop, and the clients assigned to it.
class Loop {
 public:
  Loop(Histogram* latency, const DtlsIdentity* identity, bool pacing);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  bool Open(std::string* error);
  void Start();
  void StopAndJoin();
  uint16_t port() const { return port_; }

  // Any thread: ownership of `c` passes to the loop.
  void Add(std::unique_ptr<Client> c);
  void Remove(uint32_t id);

  // Loop thread.
  void SendFrom(uint32_t src_ip, const sockaddr_in& to, const uint8_t* d, size_t n);
  Histogram& latency() { return *latency_; }

 private:
  void Run();
  void Wake();
  void DrainCommands();
  void Receive();
  void Tick(int64_t now);
  void Pace(int64_t now);
  // ICE-TCP clients: one non-blocking connected socket each, RFC 4571 frames both ways.
  struct TcpConn {
    int fd = -1;
    uint32_t ip = 0;
    sockaddr_in remote{};
    std::vector<uint8_t> in, out;  // partial frame read; bytes not yet written
  };
  void OpenTcp(uint32_t ip, const sockaddr_in& remote);
  void CloseTcp(uint32_t ip);
  void ReadTcp(TcpConn& c);
  void FlushTcp(TcpConn& c);
  std::unordered_map<uint32_t, TcpConn> tcp_by_ip_;  // key: client IP, network order
  std::unordered_map<int, uint32_t> tcp_ip_by_fd_;

  static constexpr int kRxBatch = 64;
  struct RxSlot {
    uint8_t data[2048];
    alignas(8) uint8_t control[128];
    sockaddr_in from;
  };

  Histogram* latency_;
  const DtlsIdentity* identity_;
  std::vector<RxSlot> rx_;
  const bool pacing_;
  int fd_ = -1, epfd_ = -1, wakefd_ = -1, tickfd_ = -1, pacefd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  bool running_ = false;

  std::mutex mu_;
  std::vector<std::unique_ptr<Client>> adds_;
  std::vector<uint32_t> removes_;
  bool stop_ = false;

  std::unordered_map<uint32_t, std::unique_ptr<Client>> by_ip_;  // key: IP, network order
  std::unordered_map<uint32_t, uint32_t> ip_of_id_;
  // Tick schedule (pointers into by_ip_, rebuilt when clients are removed): `fast_` every tick
  // until NeedsFastTick() turns false; every client in `all_` once per kSweepTicks ticks.
  void RebuildTickLists();
  std::vector<Client*> fast_, all_;
  size_t sweep_ = 0;
};

struct LoadOptions {
  int threads = 1;          // viewer threads; the publisher gets a thread of its own
  uint8_t ip_octet = 100;   // clients get 127.<ip_octet>.x.y
  // Each client presents a certificate of its own (default, as browsers do); false: all present
  // the engine identity's (the load generator before 2026-11-30, for comparisons).
  bool own_certificates = true;
};

class LoadEngine {
 public:
  LoadEngine() = default;
  ~LoadEngine();
  bool Start(const LoadOptions& opts, std::string* error);
  void Stop();

  const DtlsIdentity& identity() const { return *identity_; }
  size_t thread_count() const { return loops_.size(); }
  const Histogram& latency(size_t loop) const { return *histograms_[loop]; }

  // JS thread. Allocate picks the client's IP and thread; Connect hands it the signaled
  // parameters. False when `id` is unknown or already connected.
  struct Slot {
    uint32_t id, ip;  // ip in network order
    uint16_t port;
    int loop;
    std::shared_ptr<const DtlsCertificate> certificate;  // the client's own
  };
  // Every client presents a certificate of its own: Allocate takes one made ahead by
  // PrepareCertificates (so that making them is not part of a measured join), or makes one.
  bool PrepareCertificates(size_t n, std::string* error);
  bool Allocate(bool publisher, Slot* out, std::string* error);
  bool Connect(uint32_t id, ClientParams params, std::string* error);
  bool Remove(uint32_t id);
  bool SetPaused(uint32_t id, bool paused);
  const std::unordered_map<uint32_t, std::shared_ptr<ClientStats>>& stats() const { return stats_; }

 private:
  std::unique_ptr<DtlsIdentity> identity_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
  std::vector<std::unique_ptr<Loop>> loops_;  // last one: the publisher's
  LoadOptions opts_;
  uint32_t next_index_ = 0;
  uint32_t next_id_ = 1;
  int next_loop_ = 0;
  std::unordered_map<uint32_t, Slot> pending_;
  std::vector<std::unique_ptr<DtlsCertificate>> spare_certificates_;
  std::unordered_map<uint32_t, std::shared_ptr<ClientStats>> stats_;
  std::unordered_map<uint32_t, int> loop_of_;
};

// 127.<octet>.<hi>.<lo> for client `index`; no host part ends in .0 or .255.
uint32_t ClientIp(uint8_t octet, uint32_t index);

}  // namespace halfsec::bench
