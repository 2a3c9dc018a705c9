// LoadEngine: the load generator's loops (threads) and the clients they host, as the binding
// drives them. See bench_client.h.
#include "load/bench_client.h"

#include <string>

namespace halfsec::bench {

// ---- LoadEngine ----

LoadEngine::~LoadEngine() { Stop(); }

bool LoadEngine::Start(const LoadOptions& opts, std::string* error) {
  opts_ = opts;
  identity_ = DtlsIdentity::Create(error);
  if (!identity_) return false;
  const int threads = opts.threads < 1 ? 1 : opts.threads;
  for (int i = 0; i <= threads; i++) {
    histograms_.push_back(std::make_unique<Histogram>());
    loops_.push_back(std::make_unique<Loop>(histograms_.back().get(), identity_.get(), i == threads));
    if (!loops_.back()->Open(error)) {
      Stop();
      return false;
    }
  }
  for (auto& l : loops_) l->Start();
  return true;
}

void LoadEngine::Stop() {
  for (auto& l : loops_) l->StopAndJoin();
  loops_.clear();
}

bool LoadEngine::PrepareCertificates(size_t n, std::string* error) {
  if (!opts_.own_certificates) return true;
  spare_certificates_.reserve(spare_certificates_.size() + n);
  for (size_t i = 0; i < n; i++) {
    auto c = DtlsCertificate::Create(error);
    if (!c) return false;
    spare_certificates_.push_back(std::move(c));
  }
  return true;
}

bool LoadEngine::Allocate(bool publisher, Slot* out, std::string* error) {
  if (loops_.empty()) return *error = "load engine is closed", false;
  if (next_index_ >= 250u * 256u) return *error = "out of client addresses", false;
  std::shared_ptr<const DtlsCertificate> certificate;
  if (!opts_.own_certificates) {
    // the engine identity's
  } else if (!spare_certificates_.empty()) {
    certificate = std::move(spare_certificates_.back());
    spare_certificates_.pop_back();
  } else {
    certificate = DtlsCertificate::Create(error);
    if (!certificate) return false;
  }
  const int viewer_loops = static_cast<int>(loops_.size()) - 1;
  const int loop = publisher ? viewer_loops : next_loop_++ % viewer_loops;
  *out = {next_id_++, ClientIp(opts_.ip_octet, next_index_++), loops_[static_cast<size_t>(loop)]->port(), loop,
          std::move(certificate)};
  pending_[out->id] = *out;
  return true;
}

bool LoadEngine::Connect(uint32_t id, ClientParams params, std::string* error) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return *error = "unknown or already connected client id", false;
  const Slot slot = it->second;
  pending_.erase(it);
  params.publisher = slot.loop == static_cast<int>(loops_.size()) - 1;
  params.certificate = slot.certificate;
  auto stats = std::make_shared<ClientStats>();
  stats_[id] = stats;
  loop_of_[id] = slot.loop;
  loops_[static_cast<size_t>(slot.loop)]->Add(std::make_unique<Client>(id, slot.ip, std::move(params), stats));
  return true;
}

bool LoadEngine::SetPaused(uint32_t id, bool paused) {
  auto it = stats_.find(id);
  if (it == stats_.end()) return false;
  it->second->paused.store(paused, std::memory_order_relaxed);
  return true;
}

bool LoadEngine::Remove(uint32_t id) {
  pending_.erase(id);
  auto it = loop_of_.find(id);
  if (it == loop_of_.end() || loops_.empty()) return false;
  loops_[static_cast<size_t>(it->second)]->Remove(id);
  loop_of_.erase(it);
  return true;
}

}  // namespace halfsec::bench
