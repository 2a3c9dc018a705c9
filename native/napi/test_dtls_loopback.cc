// The in-memory DTLS loopback behind the dtls test hooks. See test_dtls_loopback.h.
#include "napi/test_dtls_loopback.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <deque>
#include <malloc.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace halfsec {
namespace dtls_loopback {
namespace {

using Clock = std::chrono::steady_clock;
using Datagram = std::vector<uint8_t>;

const EVP_MD* TestDigest(const std::string& name) {
  if (name == "sha-1") return EVP_sha1();
  if (name == "sha-384") return EVP_sha384();
  if (name == "sha-512") return EVP_sha512();
  return EVP_sha256();
}

std::string ColonHex(const uint8_t* d, size_t n, bool lower) {
  const char* hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ':';
    s += hex[d[i] >> 4];
    s += hex[d[i] & 15];
  }
  return s;
}

// Fingerprint of the certificate an identity's SSL_CTX presents, with any SDP hash name.
std::string CtxFingerprint(const DtlsIdentity& id, const std::string& algorithm, bool lower) {
  X509* cert = SSL_CTX_get0_certificate(id.ctx());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || X509_digest(cert, TestDigest(algorithm), md, &n) != 1) return "";
  return ColonHex(md, n, lower);
}

// Changes the last hex digit so the fingerprint is well-formed but wrong.
std::string Corrupt(std::string fp) {
  if (!fp.empty()) fp.back() = fp.back() == '0' ? '1' : '0';
  return fp;
}

bool Done(DtlsState s) { return s != DtlsState::kNew && s != DtlsState::kConnecting; }

}  // namespace

const char* StateName(DtlsState s) {
  switch (s) {
    case DtlsState::kNew:
      return "new";
    case DtlsState::kConnecting:
      return "connecting";
    case DtlsState::kConnected:
      return "connected";
    case DtlsState::kFailed:
      return "failed";
    case DtlsState::kClosed:
      return "closed";
  }
  return "?";
}

const char* ProfileName(SrtpProfile p) {
  return p == SrtpProfile::kAeadAes128Gcm ? "AEAD_AES_128_GCM" : "AES128_CM_SHA1_80";
}

// Replaces the identity's certificate by a copy carrying a ~3 KB comment extension, re-signed
// with the same key, so that the Certificate message cannot fit one 1200-byte datagram.
bool InstallBigCertificate(const DtlsIdentity& id) {
  SSL_CTX* ctx = id.ctx();
  X509* orig = SSL_CTX_get0_certificate(ctx);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(ctx);
  if (!orig || !key) return false;
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_dup(orig), X509_free);
  std::string comment(3000, 'x');
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_netscape_comment, comment.c_str());
  bool ok = cert && ext && X509_add_ext(cert.get(), ext, -1) == 1 &&
            X509_sign(cert.get(), key, EVP_sha256()) > 0 && SSL_CTX_use_certificate(ctx, cert.get()) == 1 &&
            SSL_CTX_check_private_key(ctx) == 1;
  X509_EXTENSION_free(ext);
  ERR_clear_error();
  return ok;
}

bool InstallPeerKey(const DtlsIdentity& id, const std::string& type) {
  // Made in OpenSSL's default library context, as a foreign peer's certificate would be.
  EVP_PKEY* raw = nullptr;
  if (type == "rsa") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  else if (type == "ed25519") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  else if (type == "p384") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (!raw) return false;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_NAME* name = cert ? X509_get_subject_name(cert.get()) : nullptr;
  // Ed25519 signs without a separate digest.
  const EVP_MD* md = type == "ed25519" ? nullptr : EVP_sha256();
  bool ok = name && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600) &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(type.c_str()), -1, -1, 0) == 1 &&
            X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), key.get()) == 1 &&
            X509_sign(cert.get(), key.get(), md) > 0 && SSL_CTX_use_certificate(id.ctx(), cert.get()) == 1 &&
            SSL_CTX_use_PrivateKey(id.ctx(), key.get()) == 1 && SSL_CTX_check_private_key(id.ctx()) == 1;
  ERR_clear_error();
  return ok;
}

LoopbackResult RunLoopback(const DtlsIdentity& client_id, const DtlsIdentity& server_id, const LoopbackOptions& o) {
  LoopbackResult res;
  std::deque<Datagram> to_server, to_client;
  size_t counter = 0;
  uint32_t loss_rng = o.seed * 2654435761u + 1;
  DtlsTransport* server_ptr = nullptr;
  int last_flight_drops = o.drop_server_last_flight ? 1 : 0;
  auto sender = [&](std::deque<Datagram>* q) {
    return [&res, &counter, &loss_rng, &o, q, &to_client, &server_ptr, &last_flight_drops](const uint8_t* d, size_t n) {
      if (q == &to_client && server_ptr && server_ptr->state() == DtlsState::kConnected && last_flight_drops > 0) {
        --last_flight_drops;
        ++res.dropped;
        ++res.datagrams;
        return;
      }
      res.max_datagram = std::max(res.max_datagram, n);
      ++res.datagrams;
      ++counter;
      loss_rng = loss_rng * 1664525u + 1013904223u;
      const bool random_drop = o.loss_percent > 0 && (loss_rng >> 8) % 100 < static_cast<uint32_t>(o.loss_percent);
      if (random_drop || (o.drop_every_nth > 0 && counter % static_cast<size_t>(o.drop_every_nth) == 0)) {
        ++res.dropped;
        return;
      }
      q->emplace_back(d, d + n);
    };
  };
  std::string server_fp = CtxFingerprint(server_id, o.algorithm, o.lowercase_fp);
  std::string client_fp = CtxFingerprint(client_id, o.algorithm, o.lowercase_fp);
  if (o.corrupt_client_fp) server_fp = Corrupt(server_fp);
  if (o.corrupt_server_fp) client_fp = Corrupt(client_fp);

  std::unique_ptr<DtlsCertificate> own;
  if (o.client_own_cert) {
    own = DtlsCertificate::Create(&res.setup_error);
    if (!own) return res;
    client_fp = o.corrupt_server_fp ? Corrupt(own->fingerprint()) : own->fingerprint();
  }
  DtlsTransport client(client_id, DtlsRole::kClient, o.algorithm, server_fp, sender(&to_server));
  DtlsTransport server(server_id, DtlsRole::kServer, o.algorithm, client_fp, sender(&to_client));
  if (own && !client.UseCertificate(*own)) {
    res.setup_error = "UseCertificate failed";
    return res;
  }
  server_ptr = &server;

  // Junk: random bytes with the first byte in the DTLS demux range; deterministic.
  uint32_t rng = 0x12345678;
  int garbage_left = o.garbage_to_server;
  auto junk = [&rng] {
    rng = rng * 1664525u + 1013904223u;
    Datagram g(13 + (rng >> 8) % 300);
    for (auto& b : g) {
      rng = rng * 1664525u + 1013904223u;
      b = static_cast<uint8_t>(rng >> 24);
    }
    g[0] = static_cast<uint8_t>(20 + g[0] % 44);  // passes the RFC 7983 demux
    if (g[1] & 1) {                               // half of them look like DTLS 1.2 records
      g[1] = 0xfe;
      g[2] = 0xfd;
      g[0] = static_cast<uint8_t>(20 + g[0] % 4);
    }
    return g;
  };
  auto feed_garbage = [&] {
    if (garbage_left <= 0) return;
    --garbage_left;
    Datagram g = junk();
    server.OnDatagram(g.data(), g.size());
  };

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(o.deadline_ms);
  feed_garbage();
  client.Start();
  server.Start();
  while (Clock::now() < deadline) {
    bool moved = false;
    if (!to_server.empty()) {
      Datagram d = std::move(to_server.front());
      to_server.pop_front();
      server.OnDatagram(d.data(), d.size());
      feed_garbage();
      moved = true;
    }
    if (!to_client.empty()) {
      Datagram d = std::move(to_client.front());
      to_client.pop_front();
      client.OnDatagram(d.data(), d.size());
      moved = true;
    }
    if (moved) continue;
    if (Done(client.state()) && Done(server.state())) break;
    if (client.state() == DtlsState::kFailed || server.state() == DtlsState::kFailed) break;
    int tc = client.TimeoutMs(), ts = server.TimeoutMs();
    int wait = tc < 0 ? ts : (ts < 0 ? tc : std::min(tc, ts));
    if (wait < 0) break;  // nobody has anything left to do
    auto wake = std::min(Clock::now() + std::chrono::milliseconds(wait), deadline);
    std::this_thread::sleep_until(wake);
    client.OnTimer();
    server.OnTimer();
    ++res.timer_fires;
  }
  res.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  res.client_state = client.state();
  res.server_state = server.state();
  res.client_timeout_after = client.TimeoutMs();
  res.server_timeout_after = server.TimeoutMs();
  res.client_error = client.error();
  res.server_error = server.error();
  res.client_keys = client.GetSrtpKeys(&res.ck);
  res.server_keys = server.GetSrtpKeys(&res.sk);
  if (res.client_keys && res.server_keys) {
    const size_t salt = res.ck.profile == SrtpProfile::kAeadAes128Gcm ? 12 : 14;
    res.keys_match = res.ck.profile == res.sk.profile &&
                     std::memcmp(res.ck.local_key, res.sk.remote_key, 16) == 0 &&
                     std::memcmp(res.ck.remote_key, res.sk.local_key, 16) == 0 &&
                     std::memcmp(res.ck.local_salt, res.sk.remote_salt, 14) == 0 &&
                     std::memcmp(res.ck.remote_salt, res.sk.local_salt, 14) == 0;
    static const uint8_t zero[16] = {};
    res.keys_distinct = std::memcmp(res.ck.local_key, res.ck.remote_key, 16) != 0 &&
                        std::memcmp(res.ck.local_salt, res.ck.remote_salt, salt) != 0 &&
                        std::memcmp(res.ck.local_key, zero, 16) != 0 &&
                        std::memcmp(res.ck.remote_key, zero, 16) != 0;
  }
  if (o.garbage_after > 0) {
    for (int i = 0; i < o.garbage_after; ++i) {
      Datagram g = junk();
      server.OnDatagram(g.data(), g.size());
      g = junk();
      client.OnDatagram(g.data(), g.size());
    }
    res.client_after_garbage = client.state();
    res.server_after_garbage = server.state();
    SrtpKeyMaterial ck2, sk2;
    res.keys_stable = res.client_keys && res.server_keys && client.GetSrtpKeys(&ck2) && server.GetSrtpKeys(&sk2) &&
                      std::memcmp(&ck2, &res.ck, sizeof ck2) == 0 && std::memcmp(&sk2, &res.sk, sizeof sk2) == 0;
  }
  res.client_released = client.released();
  res.server_released = server.released();
  if (o.forged_alerts) {
    // Plaintext fatal alerts (epoch 0 and 1) and epoch-1 records with junk in place of the AEAD
    // fragment: none authenticates, so none may end the session.
    for (uint8_t epoch = 0; epoch < 2; epoch++) {
      for (size_t frag : {size_t{2}, size_t{18}, size_t{26}}) {
        Datagram a = {21, 0xfe, 0xfd, 0, epoch, 0, 0, 0, 0, 0, 9, 0, static_cast<uint8_t>(frag)};
        for (size_t i = 0; i < frag; i++) a.push_back(static_cast<uint8_t>(i == 0 ? 2 : (i == 1 ? 0 : i * 7)));
        server.OnDatagram(a.data(), a.size());
        client.OnDatagram(a.data(), a.size());
      }
    }
    res.client_after_forged = client.state();
    res.server_after_forged = server.state();
  }
  if (!o.close_by.empty()) {
    DtlsTransport& closer = o.close_by == "server" ? server : client;
    closer.Close();
    if (o.tamper_close) {
      auto& q = o.close_by == "server" ? to_client : to_server;
      DtlsTransport& receiver = o.close_by == "server" ? client : server;
      if (!q.empty()) {
        Datagram bad = q.front();
        bad.back() ^= 1;  // the GCM tag's last byte
        receiver.OnDatagram(bad.data(), bad.size());
        Datagram replay = q.front();
        replay[4] ^= 1;  // another epoch: the additional data no longer matches
        receiver.OnDatagram(replay.data(), replay.size());
      }
      res.after_tampered_close = receiver.state();
    }
    for (int i = 0; i < 16 && (!to_server.empty() || !to_client.empty()); ++i) {
      if (!to_server.empty()) {
        Datagram d = std::move(to_server.front());
        to_server.pop_front();
        server.OnDatagram(d.data(), d.size());
      }
      if (!to_client.empty()) {
        Datagram d = std::move(to_client.front());
        to_client.pop_front();
        client.OnDatagram(d.data(), d.size());
      }
    }
    res.client_after_close = client.state();
    res.server_after_close = server.state();
  }
  return res;
}

double MeasureConnectedBytes(const DtlsIdentity& id, int n, bool keep_ssl) {
  const std::string fp = CtxFingerprint(id, "sha-256", false);
  struct Pair {
    std::deque<Datagram> to_server, to_client;
    std::unique_ptr<DtlsTransport> client, server;
  };
  std::vector<std::unique_ptr<Pair>> pairs;
  pairs.reserve(static_cast<size_t>(n));
  malloc_trim(0);
  const size_t before = mallinfo2().uordblks;
  for (int i = 0; i < n; i++) {
    auto p = std::make_unique<Pair>();
    Pair* raw = p.get();
    p->client = std::make_unique<DtlsTransport>(id, DtlsRole::kClient, "sha-256", fp,
                                                [raw](const uint8_t* d, size_t len) { raw->to_server.emplace_back(d, d + len); });
    p->server = std::make_unique<DtlsTransport>(id, DtlsRole::kServer, "sha-256", fp,
                                                [raw](const uint8_t* d, size_t len) { raw->to_client.emplace_back(d, d + len); });
    if (keep_ssl) {
      p->client->KeepSslAfterHandshake();
      p->server->KeepSslAfterHandshake();
    }
    p->client->Start();
    p->server->Start();
    for (int step = 0; step < 64 && (!p->to_server.empty() || !p->to_client.empty()); step++) {
      if (!p->to_server.empty()) {
        Datagram d = std::move(p->to_server.front());
        p->to_server.pop_front();
        p->server->OnDatagram(d.data(), d.size());
      }
      if (!p->to_client.empty()) {
        Datagram d = std::move(p->to_client.front());
        p->to_client.pop_front();
        p->client->OnDatagram(d.data(), d.size());
      }
    }
    if (p->client->state() != DtlsState::kConnected || p->server->state() != DtlsState::kConnected) return -1;
    std::deque<Datagram>().swap(p->to_server);
    std::deque<Datagram>().swap(p->to_client);
    pairs.push_back(std::move(p));
  }
  const size_t after = mallinfo2().uordblks;
  // Both sides of each pair are transports; the deques' and Pair's own bytes are counted too
  // (small next to the transports).
  return (static_cast<double>(after) - static_cast<double>(before)) / (2.0 * n);
}

}  // namespace dtls_loopback
}  // namespace halfsec
