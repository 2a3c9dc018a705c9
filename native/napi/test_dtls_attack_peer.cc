// The foreign DTLS peers behind the dtls attack test hooks. See test_dtls_attack_peer.h.
#include "napi/test_dtls_attack_peer.h"

#include <openssl/dsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace halfsec {
namespace dtls_attack {
namespace {

using Datagram = std::vector<uint8_t>;
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct CtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct PctxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};

struct Cred {
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  std::unique_ptr<X509, X509Free> cert;
  std::string fingerprint;  // sha-256, upper-case colon hex
};

// DSA domain parameters take ~0.3 s to make: made once (thread-safe static) and kept.
EVP_PKEY* DsaKey() {
  static EVP_PKEY* params = [] {
    std::unique_ptr<EVP_PKEY_CTX, PctxFree> pc(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
    EVP_PKEY* p = nullptr;
    if (!pc || EVP_PKEY_paramgen_init(pc.get()) <= 0 || EVP_PKEY_CTX_set_dsa_paramgen_bits(pc.get(), 2048) <= 0 ||
        EVP_PKEY_paramgen(pc.get(), &p) <= 0) {
      return static_cast<EVP_PKEY*>(nullptr);
    }
    return p;
  }();
  if (!params) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PctxFree> kc(EVP_PKEY_CTX_new_from_pkey(nullptr, params, nullptr));
  EVP_PKEY* key = nullptr;
  if (!kc || EVP_PKEY_keygen_init(kc.get()) <= 0 || EVP_PKEY_keygen(kc.get(), &key) <= 0) return nullptr;
  return key;
}

// A self-signed certificate of `type` made in the default library context, as a foreign peer's.
bool MakeCred(const std::string& type, Cred* out) {
  EVP_PKEY* raw = nullptr;
  if (type == "p256") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  else if (type == "p384") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  else if (type == "rsa") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  else if (type == "rsa-pss") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA-PSS", static_cast<size_t>(2048));
  else if (type == "ed25519") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  else if (type == "ed448") raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
  else if (type == "dsa") raw = DsaKey();
  if (!raw) return false;
  out->key.reset(raw);
  out->cert.reset(X509_new());
  X509* c = out->cert.get();
  X509_NAME* name = c ? X509_get_subject_name(c) : nullptr;
  const bool no_digest = type == "ed25519" || type == "ed448";
  bool ok = name && X509_set_version(c, X509_VERSION_3) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(c), 9) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(c), -3600) && X509_gmtime_adj(X509_getm_notAfter(c), 3600) &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("attack"), -1,
                                       -1, 0) == 1 &&
            X509_set_issuer_name(c, name) == 1 && X509_set_pubkey(c, raw) == 1 &&
            X509_sign(c, raw, no_digest ? nullptr : EVP_sha256()) > 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  ok = ok && X509_digest(c, EVP_sha256(), md, &n) == 1;
  ERR_clear_error();
  if (!ok) return false;
  static const char* hex = "0123456789ABCDEF";
  out->fingerprint.clear();
  for (unsigned int i = 0; i < n; i++) {
    if (i) out->fingerprint += ':';
    out->fingerprint += hex[md[i] >> 4];
    out->fingerprint += hex[md[i] & 15];
  }
  return true;
}

// ---- the foreign client's write BIO: one write, one datagram ----
int CliWrite(BIO* b, const char* d, int n) {
  BIO_clear_retry_flags(b);
  auto* q = static_cast<std::deque<Datagram>*>(BIO_get_data(b));
  if (q && n > 0) q->emplace_back(reinterpret_cast<const uint8_t*>(d), reinterpret_cast<const uint8_t*>(d) + n);
  return n;
}
long CliCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
int CliCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}
const BIO_METHOD* CliMethod() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "attack out");
    BIO_meth_set_write(x, CliWrite);
    BIO_meth_set_ctrl(x, CliCtrl);
    BIO_meth_set_create(x, CliCreate);
    return x;
  }();
  return m;
}

// In a datagram, the first DTLS record holding a whole Certificate (type 11) with at least two
// certificates: swaps the first two certificate entries (same length, nothing else changes).
bool SwapFirstTwoCerts(Datagram* d) {
  size_t off = 0;
  while (off + 13 <= d->size()) {
    const uint8_t* r = d->data() + off;
    const size_t rlen = (size_t{r[11]} << 8) | r[12];
    if (off + 13 + rlen > d->size()) return false;
    uint8_t* h = d->data() + off + 13;
    auto u24 = [](const uint8_t* p) { return (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2]; };
    if (r[0] == 22 && r[4] == 0 && rlen >= 12 + 3 && h[0] == 11 && u24(h + 6) == 0 && u24(h + 9) == u24(h + 1)) {
      uint8_t* body = h + 12 + 3;  // after the handshake header and the list length
      const size_t l1 = u24(body), l2 = u24(body + 3 + l1);
      if (12 + 3 + 3 + l1 + 3 + l2 > rlen) return false;
      std::vector<uint8_t> a(body, body + 3 + l1), b(body + 3 + l1, body + 3 + l1 + 3 + l2);
      std::copy(b.begin(), b.end(), body);
      std::copy(a.begin(), a.end(), body + b.size());
      return true;
    }
    off += 13 + rlen;
  }
  return false;
}

const char* Name(DtlsState s) {
  switch (s) {
    case DtlsState::kNew: return "new";
    case DtlsState::kConnecting: return "connecting";
    case DtlsState::kConnected: return "connected";
    case DtlsState::kFailed: return "failed";
    case DtlsState::kClosed: return "closed";
  }
  return "?";
}

}  // namespace

AttackResult RunAttack(const DtlsIdentity& server_id, const std::string& kind, bool keep_ssl, int long_chain_bytes) {
  AttackResult res;
  Cred victim, attacker;
  const bool swap = kind.rfind("swap-chain", 0) == 0;  // "swap-chain" or "swap-chain:TYPE"
  const size_t colon = kind.find(':');
  const std::string type = colon == std::string::npos ? "p256" : kind.substr(colon + 1);
  const bool long_chain = kind.rfind("long-chain", 0) == 0;
  if (!MakeCred(long_chain ? "p256" : type, &victim) || !MakeCred(long_chain ? type : "p256", &attacker)) {
    res.note = "setup: key generation";
    return res;
  }
  std::deque<Datagram> to_server, to_client;
  DtlsTransport server(server_id, DtlsRole::kServer, "sha-256", victim.fingerprint,
                       [&to_client](const uint8_t* d, size_t n) { to_client.emplace_back(d, d + n); });
  if (keep_ssl) server.KeepSslAfterHandshake();

  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(DTLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION);
  SSL_CTX_set_tlsext_use_srtp(ctx.get(), "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_QUERY_MTU);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio, -1);
  BIO* wbio = BIO_new(CliMethod());
  BIO_set_data(wbio, &to_server);
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_mtu(ssl.get(), 4000);  // whole Certificate messages, so that SwapFirstTwoCerts sees them
  SSL_set_connect_state(ssl.get());

  bool ok = true;
  if (kind == "legit" || kind == "renegotiate" || kind == "retransmit-swapped" || kind == "abandon" ||
      kind.rfind("key:", 0) == 0) {
    ok = SSL_use_certificate(ssl.get(), victim.cert.get()) == 1 && SSL_use_PrivateKey(ssl.get(), victim.key.get()) == 1;
    if (kind == "retransmit-swapped") ok = ok && SSL_add1_chain_cert(ssl.get(), attacker.cert.get()) == 1;
  } else if (kind.rfind("long-chain", 0) == 0) {  // "long-chain:TYPE": the fingerprint's P-256
    // certificate and key, followed by copies of a TYPE certificate up to ~`long_chain_bytes`.
    ok = SSL_use_certificate(ssl.get(), victim.cert.get()) == 1 && SSL_use_PrivateKey(ssl.get(), victim.key.get()) == 1;
    const int one = ok ? i2d_X509(attacker.cert.get(), nullptr) : 0;
    for (int b = 0; ok && one > 0 && b + one < long_chain_bytes; b += one + 3) {
      ok = SSL_add1_chain_cert(ssl.get(), attacker.cert.get()) == 1;
    }
  } else if (kind == "other-leaf" || swap) {
    ok = SSL_use_certificate(ssl.get(), attacker.cert.get()) == 1 &&
         SSL_use_PrivateKey(ssl.get(), attacker.key.get()) == 1;
    if (swap) ok = ok && SSL_add1_chain_cert(ssl.get(), victim.cert.get()) == 1;
  } else if (kind != "none") {
    ok = false;
  }
  if (!ok) {
    res.note = "setup: client certificate";
    ERR_clear_error();
    return res;
  }

  auto drive_client = [&] {
    ERR_clear_error();
    if (!SSL_is_init_finished(ssl.get()) || SSL_renegotiate_pending(ssl.get())) {
      SSL_do_handshake(ssl.get());
    }
    uint8_t buf[2048];
    while (SSL_is_init_finished(ssl.get()) && SSL_read(ssl.get(), buf, sizeof buf) > 0) {
    }
    ERR_clear_error();
  };
  auto to_server_now = [&](const Datagram& d) {
    const auto t0 = std::chrono::steady_clock::now();
    server.OnDatagram(d.data(), d.size());
    res.server_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  auto pump = [&] {
    // "abandon": the peer vanishes after the ClientHello and the server's first flight.
    const int steps = kind == "abandon" ? 1 : 400;
    for (int i = 0; i < steps && (!to_server.empty() || !to_client.empty()); i++) {
      if (!to_server.empty()) {
        Datagram d = std::move(to_server.front());
        to_server.pop_front();
        if (kind == "retransmit-swapped") {
          Datagram copy = d;
          if (SwapFirstTwoCerts(&copy)) {
            res.rewritten = true;
            to_server_now(d);  // the original, then its "retransmission"
            to_server_now(copy);
            continue;
          }
        }
        if (swap && SwapFirstTwoCerts(&d)) res.rewritten = true;
        to_server_now(d);
      }
      if (!to_client.empty()) {
        Datagram d = std::move(to_client.front());
        to_client.pop_front();
        BIO_write(rbio, d.data(), static_cast<int>(d.size()));
        drive_client();
      }
    }
  };
  server.Start();
  drive_client();
  pump();

  res.server_state = Name(server.state());
  res.server_error = server.error();
  SrtpKeyMaterial sk;
  res.server_keys = server.GetSrtpKeys(&sk);
  res.client_finished = SSL_is_init_finished(ssl.get());
  if (res.server_keys && res.client_finished) {
    uint8_t km[60];
    static const char label[] = "EXTRACTOR-dtls_srtp";
    const size_t salt = sk.profile == SrtpProfile::kAeadAes128Gcm ? 12 : 14;
    if (SSL_export_keying_material(ssl.get(), km, 2 * (16 + salt), label, sizeof label - 1, nullptr, 0, 0) == 1) {
      // client_write_key | server_write_key | client_salt | server_salt
      res.keys_match = std::memcmp(km, sk.remote_key, 16) == 0 && std::memcmp(km + 16, sk.local_key, 16) == 0 &&
                       std::memcmp(km + 32, sk.remote_salt, salt) == 0;
    }
  }
  if (kind == "renegotiate" && res.client_finished) {
    // The peer starts a new handshake presenting a certificate the SDP did not name.
    SSL_use_certificate(ssl.get(), attacker.cert.get());
    SSL_use_PrivateKey(ssl.get(), attacker.key.get());
    SSL_renegotiate(ssl.get());
    drive_client();
    pump();
    for (int round = 0; round < 3; round++) {  // and retransmits it
      DTLSv1_handle_timeout(ssl.get());
      drive_client();
      pump();
    }
    res.state_after_renegotiation = Name(server.state());
    SrtpKeyMaterial sk2;
    res.keys_stable = server.GetSrtpKeys(&sk2) && std::memcmp(&sk2, &sk, sizeof sk) == 0;
  }
  ERR_clear_error();
  return res;
}

// The relay as DTLS client (an offer with a=setup:passive, a cluster pull) against a foreign
// OpenSSL server. kind: legit | other-leaf | swap-chain (the fingerprint's P-256 certificate moved
// first in the server's Certificate; its ServerKeyExchange is signed by the attacker's key).
AttackResult RunClientRoleAttack(const DtlsIdentity& client_id, const std::string& kind) {
  AttackResult res;
  Cred victim, attacker;
  if (!MakeCred("p256", &victim) || !MakeCred("p256", &attacker)) {
    res.note = "setup: key generation";
    return res;
  }
  std::deque<Datagram> to_server, to_client;
  DtlsTransport client(client_id, DtlsRole::kClient, "sha-256", victim.fingerprint,
                       [&to_server](const uint8_t* d, size_t n) { to_server.emplace_back(d, d + n); });
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(DTLS_server_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION);
  SSL_CTX_set_tlsext_use_srtp(ctx.get(), "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_QUERY_MTU);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio, -1);
  BIO* wbio = BIO_new(CliMethod());
  BIO_set_data(wbio, &to_client);
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_mtu(ssl.get(), 4000);
  SSL_set_accept_state(ssl.get());
  const Cred& own = kind == "legit" ? victim : attacker;
  bool ok = SSL_use_certificate(ssl.get(), own.cert.get()) == 1 && SSL_use_PrivateKey(ssl.get(), own.key.get()) == 1;
  if (kind == "swap-chain") ok = ok && SSL_add1_chain_cert(ssl.get(), victim.cert.get()) == 1;
  if (!ok) {
    res.note = "setup: server certificate";
    ERR_clear_error();
    return res;
  }
  auto drive = [&] {
    ERR_clear_error();
    if (!SSL_is_init_finished(ssl.get())) SSL_do_handshake(ssl.get());
    ERR_clear_error();
  };
  client.Start();
  for (int i = 0; i < 400 && (!to_server.empty() || !to_client.empty()); i++) {
    if (!to_server.empty()) {
      Datagram d = std::move(to_server.front());
      to_server.pop_front();
      BIO_write(rbio, d.data(), static_cast<int>(d.size()));
      drive();
    }
    if (!to_client.empty()) {
      Datagram d = std::move(to_client.front());
      to_client.pop_front();
      if (kind == "swap-chain" && SwapFirstTwoCerts(&d)) res.rewritten = true;
      client.OnDatagram(d.data(), d.size());
    }
  }
  res.server_state = Name(client.state());  // the relay's transport, here the client
  res.server_error = client.error();
  SrtpKeyMaterial k;
  res.server_keys = client.GetSrtpKeys(&k);
  res.client_finished = SSL_is_init_finished(ssl.get());
  ERR_clear_error();
  return res;
}

}  // namespace dtls_attack
}  // namespace halfsec
