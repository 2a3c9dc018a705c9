// DTLS 1.2 with use_srtp (RFC 5764) on memory I/O. See dtls.h.
//
// I/O model: every received datagram is appended to a memory BIO that the SSL reads from; the
// SSL writes into a DatagramOut (datagram_out.h), which collects the writes and, when the public
// call that triggered them returns (FlushOnExit), packs consecutive ones into datagrams.
#include "dtls/dtls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/time.h>
#endif

#include <algorithm>
#include <chrono>
#include <climits>
#include <utility>
#include <vector>

#include "dtls/datagram_out.h"
#include "dtls/dtls_released.h"
#include "dtls/dtls_srtp.h"
#include "dtls/fingerprint.h"
#include "dtls/openssl_errors.h"

namespace halfsec {
using dtls_detail::DatagramOut;
using dtls_detail::DrainErrors;
using dtls_detail::ExpectedFingerprint;
using dtls_detail::ExportSrtpKeys;
using dtls_detail::kSslMtu;
using dtls_detail::NegotiatedSrtpProfile;
using dtls_detail::ReleasedState;
using dtls_detail::WithErrors;
namespace {

// Retransmission timer: starts short (a lost handshake packet costs latency we care about) and
// doubles up to a cap; RFC 6347 4.2.4.1 allows implementations to pick the initial value.
constexpr unsigned int kInitialTimeoutUs = 200 * 1000;
constexpr unsigned int kMaxTimeoutUs = 3 * 1000 * 1000;
// Give up on a handshake that has not completed after this long.
constexpr auto kHandshakeTimeout = std::chrono::seconds(15);
// Bigger datagrams than this cannot be UDP; ignore them instead of feeding OpenSSL.
constexpr size_t kMaxDatagram = 65535;

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

// Timer schedule for DTLS retransmissions (see kInitialTimeoutUs).
unsigned int TimerCallback(SSL* /*ssl*/, unsigned int timer_us) {
  if (timer_us == 0) return kInitialTimeoutUs;
  return timer_us >= kMaxTimeoutUs / 2 ? kMaxTimeoutUs : timer_us * 2;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// DtlsTransport

struct DtlsTransport::Impl {
  DtlsTransport* owner = nullptr;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // owned by ssl
  DtlsRole role = DtlsRole::kServer;
  SendFn send;
  ExpectedFingerprint expected;  // the peer certificate's digest, from the remote SDP
  std::string verify_error;      // set by VerifyChain on a fingerprint mismatch
  SrtpProfile profile = SrtpProfile::kAes128CmSha1_80;
  bool clock_running = false;
  std::chrono::steady_clock::time_point handshake_start;
  bool shutdown_sent = false;
  bool buffers_freed = false;  // record buffers released after the handshake

  void EnsureBuffers() {
    if (buffers_freed && SSL_alloc_buffers(ssl) == 1) buffers_freed = false;
  }
  DatagramOut out;  // the SSL's writes, until FlushOnExit hands them to `send`

  // Once the SSL is freed after the handshake (dtls_released.h says why), `released` is all
  // that is left of the session and `compact` is set.
  bool compact = false;
  bool keep_ssl = false;  // KeepSslAfterHandshake()
  ReleasedState released;

  ~Impl() {
    if (ssl) SSL_free(ssl);  // frees both BIOs
  }

  // ---- OpenSSL callbacks (static members so they may use this private type) ----

  // Certificate check for the whole chain (the SSL_CTX's cert-verify callback, in place of
  // X509_verify_cert): WebRTC endpoints present self-signed certificates, so path building and
  // validation prove nothing here (and their verdict was ignored); what authenticates the peer
  // is its leaf certificate's digest against the SDP fingerprint (RFC 8122 5, RFC 8827 6.5),
  // plus its CertificateVerify signature, which libssl checks on its own. A mismatch aborts the
  // handshake with a bad_certificate alert.
  static int VerifyChain(X509_STORE_CTX* store) {
    SSL* s = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    Impl* im = s ? static_cast<Impl*>(SSL_get_app_data(s)) : nullptr;
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    if (!leaf) {
      X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
      return 0;
    }
    if (!im) return 1;  // not one of ours; FinishHandshake's check still applies
    std::string why;
    if (!im->expected.Matches(leaf, &why)) {
      im->verify_error = std::move(why);
      X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
      return 0;
    }
    return 1;
  }

  // Flushes when a public entry point returns.
  struct FlushOnExit {
    Impl* im;
    ~FlushOnExit() { im->out.Flush(im->send); }
  };

  void Fail(std::string message) {
    owner->state_ = DtlsState::kFailed;
    owner->error_ = std::move(message);
    ERR_clear_error();
  }

  // Fails with the OpenSSL error queue (or the fingerprint verdict, which is the real cause
  // when the verify callback aborted the handshake).
  void FailFromSsl(const char* what, int ssl_error) {
    std::string detail = DrainErrors();
    std::string msg;
    if (!verify_error.empty()) {
      msg = verify_error;
    } else {
      msg = what;
      msg += detail.empty() ? " (SSL_get_error " + std::to_string(ssl_error) + ")" : ": " + detail;
    }
    Fail(std::move(msg));
  }

  void SendCloseNotify() {
    if (shutdown_sent || !ssl || !SSL_is_init_finished(ssl)) return;
    EnsureBuffers();
    if (buffers_freed) return;  // out of memory: no close_notify
    shutdown_sent = true;
    ERR_clear_error();
    SSL_shutdown(ssl);  // queues close_notify; we never wait for the peer's
    ERR_clear_error();
  }

  void DriveHandshake() {
    ERR_clear_error();
    auto& writes = out.pending();
    const size_t before = writes.size();
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
      // What this call wrote is our last flight (server: ChangeCipherSpec + Finished; a client
      // completes on the server's Finished and writes nothing here).
      std::vector<std::vector<uint8_t>> flight(writes.begin() + static_cast<std::ptrdiff_t>(before), writes.end());
      FinishHandshake();
      if (owner->state_ == DtlsState::kConnected) ReadRecords();  // records after Finished
      if (owner->state_ == DtlsState::kConnected && Compact(std::move(flight))) return;
      // The record buffers (~33 KiB per peer) serve the handshake: after it the peer sends an
      // alert at most. They come back (EnsureBuffers) before the SSL reads or writes again.
      // (Not SSL_MODE_RELEASE_BUFFERS: OpenSSL's DTLS write path does not reallocate them.)
      if (owner->state_ == DtlsState::kConnected && SSL_free_buffers(ssl) == 1) buffers_freed = true;
      return;
    }
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    FailFromSsl("DTLS handshake failed", e);
  }

  // Frees the SSL once connected, keeping only `released`. On any failure the SSL is
  // kept (with its record buffers freed) and the transport works as before.
  bool Compact(std::vector<std::vector<uint8_t>> flight) {
    if (keep_ssl || !released.Capture(ssl, role, profile, std::move(flight), out)) return false;
    SSL_free(ssl);  // frees both BIOs
    ssl = nullptr;
    rbio = nullptr;
    expected.Release();
    std::string().swap(verify_error);
    out.ReleaseScratch();
    compact = true;
    return true;
  }

  void FinishHandshake() {
    X509* peer = SSL_get1_peer_certificate(ssl);
    if (!peer) {
      SendCloseNotify();
      Fail("DTLS: peer presented no certificate");
      return;
    }
    std::string why;
    bool ok = expected.Matches(peer, &why);
    X509_free(peer);
    if (!ok) {
      SendCloseNotify();
      Fail(std::move(why));
      return;
    }
    if (!NegotiatedSrtpProfile(ssl, &profile, &why)) {
      SendCloseNotify();
      Fail(std::move(why));
      return;
    }
    owner->state_ = DtlsState::kConnected;
    ERR_clear_error();
  }

  // Post-handshake records: retransmitted handshake flights (OpenSSL answers them inside
  // SSL_read), alerts, and application data, which WebRTC media does not use: discarded.
  void ReadRecords() {
    uint8_t scratch[4096];
    for (;;) {
      ERR_clear_error();
      int r = SSL_read(ssl, scratch, sizeof scratch);
      if (r > 0) continue;
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      if (e == SSL_ERROR_ZERO_RETURN) {  // close_notify
        owner->state_ = DtlsState::kClosed;
        ERR_clear_error();
        return;
      }
      FailFromSsl("DTLS read failed", e);
      return;
    }
  }

  void StartClock() {
    if (clock_running) return;
    clock_running = true;
    handshake_start = std::chrono::steady_clock::now();
  }
};

DtlsTransport::DtlsTransport(const DtlsIdentity& identity, DtlsRole role, std::string fingerprint_algorithm,
                             std::string fingerprint, SendFn send)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.owner = this;
  im.role = role;
  im.send = std::move(send);
  std::string error;
  if (!im.expected.Set(fingerprint_algorithm, fingerprint, &error)) {
    im.Fail(std::move(error));
    return;
  }

  ERR_clear_error();
  if (!identity.ctx() || !DatagramOut::Available()) {
    im.Fail(WithErrors("DTLS: no SSL_CTX or BIO method"));
    return;
  }
  im.ssl = SSL_new(identity.ctx());
  if (!im.ssl) {
    im.Fail(WithErrors("DTLS: SSL_new failed"));
    return;
  }
  std::unique_ptr<BIO, BioFree> rbio(BIO_new(BIO_s_mem()));
  std::unique_ptr<BIO, BioFree> wbio(im.out.NewBio());
  if (!rbio || !wbio) {
    im.Fail(WithErrors("DTLS: BIO_new failed"));
    return;
  }
  BIO_set_mem_eof_return(rbio.get(), -1);  // empty means "retry later", not EOF
  im.rbio = rbio.get();
  SSL_set_bio(im.ssl, rbio.release(), wbio.release());
  SSL_set_app_data(im.ssl, &im);
  SSL_set_verify(im.ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // SSL_OP_NO_QUERY_MTU is set, so this value is used as is (no DTLS_set_link_mtu: that would
  // replace it with link MTU minus BIO overhead on the first write).
  SSL_set_mtu(im.ssl, kSslMtu);
  DTLS_set_timer_cb(im.ssl, TimerCallback);
  if (role == DtlsRole::kServer) {
    SSL_set_accept_state(im.ssl);
  } else {
    SSL_set_connect_state(im.ssl);
  }
  ERR_clear_error();
}

DtlsTransport::~DtlsTransport() = default;

void DtlsTransport::Start() {
  if (state_ != DtlsState::kNew) return;
  Impl::FlushOnExit flush{impl_.get()};
  state_ = DtlsState::kConnecting;
  if (impl_->role == DtlsRole::kClient) {
    impl_->StartClock();
    impl_->DriveHandshake();  // sends the ClientHello
  }
  // A server's handshake clock starts with the first datagram it receives.
}

DtlsState DtlsTransport::OnDatagram(const uint8_t* data, size_t len) {
  // A server that was not started yet starts on its first datagram; a client never speaks
  // before Start().
  if (state_ == DtlsState::kNew && impl_->role == DtlsRole::kServer) Start();
  if (state_ != DtlsState::kConnecting && state_ != DtlsState::kConnected) return state_;
  if (!data || len == 0 || len > kMaxDatagram) return state_;
  Impl::FlushOnExit flush{impl_.get()};
  if (impl_->compact) {
    if (impl_->released.OnDatagram(data, len, impl_->out)) state_ = DtlsState::kClosed;
    return state_;
  }
  ERR_clear_error();
  if (BIO_write(impl_->rbio, data, static_cast<int>(len)) != static_cast<int>(len)) {
    impl_->Fail(WithErrors("DTLS: buffering a datagram failed"));
    return state_;
  }
  if (state_ == DtlsState::kConnecting) {
    impl_->StartClock();
    impl_->DriveHandshake();
  } else {
    impl_->EnsureBuffers();
    if (impl_->buffers_freed) return state_;  // out of memory: the datagram is dropped
    impl_->ReadRecords();
  }
  return state_;
}

void DtlsTransport::OnTimer() {
  if (state_ != DtlsState::kConnecting && state_ != DtlsState::kConnected) return;
  Impl::FlushOnExit flush{impl_.get()};
  if (state_ == DtlsState::kConnecting && impl_->clock_running &&
      std::chrono::steady_clock::now() - impl_->handshake_start > kHandshakeTimeout) {
    impl_->Fail("DTLS handshake timed out after 15 s");
    return;
  }
  if (impl_->compact || impl_->buffers_freed) return;  // connected and idle: no retransmission is pending
  ERR_clear_error();
  if (DTLSv1_handle_timeout(impl_->ssl) < 0) impl_->FailFromSsl("DTLS retransmission failed", SSL_ERROR_SSL);
}

int DtlsTransport::TimeoutMs() const {
  if (!impl_->ssl || (state_ != DtlsState::kConnecting && state_ != DtlsState::kConnected)) return -1;
  long long ms = -1;
  struct timeval tv = {};
  if (DTLSv1_get_timeout(impl_->ssl, &tv) > 0) {
    ms = static_cast<long long>(tv.tv_sec) * 1000 + (static_cast<long long>(tv.tv_usec) + 999) / 1000;
  }
  if (state_ == DtlsState::kConnecting && impl_->clock_running) {
    auto left = kHandshakeTimeout - (std::chrono::steady_clock::now() - impl_->handshake_start);
    // +1 so that OnTimer at this time sees the deadline as passed.
    long long left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
    left_ms = std::max(0LL, left_ms);
    if (ms < 0 || left_ms < ms) ms = left_ms;
  }
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

void DtlsTransport::Close() {
  if (state_ == DtlsState::kFailed || state_ == DtlsState::kClosed) return;
  Impl::FlushOnExit flush{impl_.get()};
  if (impl_->compact) {
    if (!impl_->shutdown_sent) impl_->released.QueueCloseNotify(impl_->out);
    impl_->shutdown_sent = true;
  } else {
    impl_->SendCloseNotify();
  }
  state_ = DtlsState::kClosed;
}

bool DtlsTransport::released() const { return impl_->compact; }

void DtlsTransport::KeepSslAfterHandshake() { impl_->keep_ssl = true; }

bool DtlsTransport::GetSrtpKeys(SrtpKeyMaterial* out) const {
  if (!out || state_ != DtlsState::kConnected) return false;
  if (impl_->compact) {
    *out = impl_->released.keys();
    return true;
  }
  return impl_->ssl && ExportSrtpKeys(impl_->ssl, impl_->role, impl_->profile, out);
}

bool DtlsTransport::UseCertificate(const DtlsCertificate& certificate) {
  if (!impl_ || !impl_->ssl || state_ != DtlsState::kNew) return false;
  ERR_clear_error();
  const bool ok = SSL_use_certificate(impl_->ssl, certificate.cert()) == 1 &&
                  SSL_use_PrivateKey(impl_->ssl, certificate.key()) == 1;
  ERR_clear_error();
  return ok;
}

int DtlsTransport::VerifyCertificate(X509_STORE_CTX* store, void* /*arg*/) { return Impl::VerifyChain(store); }

}  // namespace halfsec
