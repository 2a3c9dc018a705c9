// See datagram_out.h.
#include "dtls/datagram_out.h"

#include <utility>

namespace halfsec {
namespace dtls_detail {

int DatagramOut::Write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  auto* out = static_cast<DatagramOut*>(BIO_get_data(b));
  if (out) {
    const auto* p = reinterpret_cast<const uint8_t*>(data);
    out->writes_.emplace_back(p, p + len);
  }
  return len;
}

long DatagramOut::Ctrl(BIO* /*b*/, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return kSslMtu;  // unused while SSL_OP_NO_QUERY_MTU is set
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
      return 0;
    default:
      return 0;  // incl. BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: our MTU is the whole datagram
  }
}

int DatagramOut::Create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int DatagramOut::Destroy(BIO* b) {
  if (!b) return 0;
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 0);
  return 1;
}

// Created once (thread-safe static init) and kept for the life of the process.
const BIO_METHOD* DatagramOut::Method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "halfsec dtls out");
    if (m && (BIO_meth_set_write(m, Write) != 1 || BIO_meth_set_ctrl(m, Ctrl) != 1 ||
              BIO_meth_set_create(m, Create) != 1 || BIO_meth_set_destroy(m, Destroy) != 1)) {
      BIO_meth_free(m);
      m = nullptr;
    }
    return m;
  }();
  return method;
}

bool DatagramOut::Available() { return Method() != nullptr; }

BIO* DatagramOut::NewBio() {
  const BIO_METHOD* method = Method();
  if (!method) return nullptr;
  BIO* b = BIO_new(method);
  if (b) BIO_set_data(b, this);
  return b;
}

void DatagramOut::Flush(const SendFn& send) {
  if (writes_.empty()) return;
  std::vector<std::vector<uint8_t>> batch;
  batch.swap(writes_);  // `send` may re-enter us
  std::vector<uint8_t> dgram;
  dgram.swap(packing_);
  dgram.clear();
  for (const auto& w : batch) {
    if (!dgram.empty() && dgram.size() + w.size() > static_cast<size_t>(kDtlsMtu)) {
      if (send) send(dgram.data(), dgram.size());
      dgram.clear();
    }
    dgram.insert(dgram.end(), w.begin(), w.end());
  }
  if (!dgram.empty() && send) send(dgram.data(), dgram.size());
  dgram.clear();
  packing_.swap(dgram);
  if (writes_.empty()) {
    batch.clear();
    writes_.swap(batch);  // keep the capacity
  }
}

}  // namespace dtls_detail
}  // namespace halfsec
