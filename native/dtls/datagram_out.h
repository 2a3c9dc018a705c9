// The SSL's write side for DTLS on memory I/O: a BIO that collects each write (OpenSSL's DTLS
// code never splits a record across writes and keeps each within the MTU it is given), and the
// packing of consecutive writes into datagrams when the transport flushes (RFC 6347 4.1.1 allows
// several records per datagram). Unpacked, a retransmitted flight would leave as one small
// datagram per handshake message, each of which may be lost.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace halfsec {
namespace dtls_detail {

// Largest datagram DTLS may emit. Flights are fragmented to fit it.
constexpr long kDtlsMtu = 1200;
// OpenSSL 3.0's DTLS fragmentation budget counts no expansion for AEAD ciphers (its mac_size is
// 0 for them), so an encrypted handshake record (Finished) packed at the end of a datagram can
// overshoot the MTU by the AES-GCM explicit nonce + tag = 24 bytes (seen: 1224-byte datagrams
// with big certificates). The SSL gets an MTU that leaves that room; the wire limit stays 1200.
constexpr long kAeadExpansion = 8 + 16;
constexpr long kSslMtu = kDtlsMtu - kAeadExpansion;

class DatagramOut {
 public:
  using SendFn = std::function<void(const uint8_t* data, size_t len)>;

  // The BIO method exists (made once per process); false if OpenSSL could not make it.
  static bool Available();
  // A new write BIO feeding this object, for SSL_set_bio (which then owns it); nullptr on failure.
  // This object must outlive the BIO or the SSL must be freed first.
  BIO* NewBio();

  // Writes not yet flushed, in order. The transport takes a flight from here, or puts one back.
  std::vector<std::vector<uint8_t>>& pending() { return writes_; }

  // Hands the pending writes to `send` (if set), packing consecutive ones while they fit
  // kDtlsMtu; a write is never split. `send` may re-enter: what it writes waits for the next Flush.
  void Flush(const SendFn& send);
  // Frees the packing scratch buffer (after the handshake, when little is sent any more).
  void ReleaseScratch() { std::vector<uint8_t>().swap(packing_); }

 private:
  static int Write(BIO* b, const char* data, int len);
  static long Ctrl(BIO* b, int cmd, long num, void* ptr);
  static int Create(BIO* b);
  static int Destroy(BIO* b);
  static const BIO_METHOD* Method();

  std::vector<std::vector<uint8_t>> writes_;
  std::vector<uint8_t> packing_;
};

}  // namespace dtls_detail
}  // namespace halfsec
