// libFuzzer target: AV1 dependency descriptors as a publisher can send them, one after another
// on one stream (a structure carried by one is kept for the next). Input: a sequence of
// [length byte][descriptor bytes]. Checks the parser's bounds on what it reports.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "media/frame_layers.h"
#include "media/svc_filter.h"
#include "rtp/dependency_descriptor.h"

using namespace halfsec;

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DdStructure structure;
  SvcFilter filter;
  filter.SetTarget(SvcFilter::kAll, data[0] % 3);
  size_t off = size > 0 ? 1 : 0;
  uint32_t ts = 0;
  while (off < size) {
    const size_t len = std::min<size_t>(data[off], size - off - 1);
    off++;
    // An exact-size copy, so ASan sees any read past the descriptor.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len + 1]);
    if (len) std::memcpy(buf.get(), data + off, len);
    off += len;
    DdFrame f;
    const uint8_t before = structure.template_count;
    const bool ok = ParseDependencyDescriptor(buf.get(), len, &structure, &f);
    if (!ok) {
      Check(structure.template_count == before);
      continue;
    }
    Check(structure.template_count >= 1 && structure.template_count <= kDdMaxTemplates);
    Check(structure.decode_targets >= 1 && structure.decode_targets <= kDdMaxDecodeTargets);
    Check(structure.chains <= structure.decode_targets);
    Check(structure.max_spatial <= 3 && structure.max_temporal <= 7);
    Check(f.spatial <= structure.max_spatial && f.temporal <= structure.max_temporal);
    for (int dt = 0; dt < structure.decode_targets; dt++) {
      Check(structure.dt_spatial[dt] <= structure.max_spatial && structure.dt_temporal[dt] <= structure.max_temporal);
    }
    if (f.has_active_targets && structure.decode_targets < 32) Check((f.active_targets >> structure.decode_targets) == 0);
    FrameLayers l{true, f.spatial, f.temporal, DdSwitchUpMask(structure, f), f.end_of_frame};
    if (f.start_of_frame) ts += 3000;
    const SvcFilter::Verdict v = filter.Decide(l, ts, f.carries_structure);
    Check(!v.forward || f.temporal <= filter.temporal());
  }
  return 0;
}
