#include "rtp/dependency_descriptor.h"

namespace halfsec {

namespace {

// MSB-first bit reader over a bounded buffer; a read past the end sets `bad` and yields 0.
class Bits {
 public:
  Bits(const uint8_t* d, size_t len) : d_(d), bits_(len * 8) {}
  uint32_t Read(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
      if (pos_ >= bits_) {
        bad = true;
        return 0;
      }
      v = (v << 1) | ((d_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
      pos_++;
    }
    return v;
  }
  // ns(n): a non-symmetric unsigned value in 0..n-1 (AV1 spec §4.10.7).
  uint32_t ReadNs(uint32_t n) {
    if (n <= 1) return 0;
    int w = 0;
    for (uint32_t x = n; x != 0; x >>= 1) w++;
    const uint32_t m = (1u << w) - n;
    const uint32_t v = Read(w - 1);
    if (v < m) return v;
    return (v << 1) - m + Read(1);
  }
  bool bad = false;

 private:
  const uint8_t* d_;
  size_t bits_;
  size_t pos_ = 0;
};

bool ReadStructure(Bits& b, DdStructure* s) {
  s->template_id_offset = static_cast<uint8_t>(b.Read(6));
  s->decode_targets = static_cast<uint8_t>(b.Read(5) + 1);
  // template_layers()
  int spatial = 0, temporal = 0, count = 0, max_temporal = 0;
  for (;;) {
    if (count >= kDdMaxTemplates || b.bad) return false;
    s->spatial[count] = static_cast<uint8_t>(spatial);
    s->temporal[count] = static_cast<uint8_t>(temporal);
    count++;
    const uint32_t next_layer_idc = b.Read(2);
    if (next_layer_idc == 3) break;
    if (next_layer_idc == 1) {
      if (++temporal > 7) return false;
      if (temporal > max_temporal) max_temporal = temporal;
    } else if (next_layer_idc == 2) {
      temporal = 0;
      if (++spatial > 3) return false;
    }
  }
  s->template_count = static_cast<uint8_t>(count);
  s->max_spatial = static_cast<uint8_t>(spatial);
  s->max_temporal = static_cast<uint8_t>(max_temporal);
  // template_dtis()
  for (int t = 0; t < count; t++) {
    uint64_t dtis = 0;
    for (int dt = 0; dt < s->decode_targets; dt++) dtis |= static_cast<uint64_t>(b.Read(2)) << (2 * dt);
    s->dtis[t] = dtis;
  }
  // template_fdiffs(): read for their bounds only.
  for (int t = 0; t < count; t++) {
    int fdiffs = 0;
    while (b.Read(1)) {
      if (++fdiffs > kDdMaxFdiffs || b.bad) return false;
      b.Read(4);
    }
  }
  // template_chains()
  s->chains = static_cast<uint8_t>(b.ReadNs(s->decode_targets + 1u));
  if (s->chains > 0) {
    for (int dt = 0; dt < s->decode_targets; dt++) b.ReadNs(s->chains);
    for (int t = 0; t < count; t++) {
      for (int c = 0; c < s->chains; c++) b.Read(4);  // template_chain_fdiff, not kept
    }
  }
  // decode_target_layers()
  for (int dt = 0; dt < s->decode_targets; dt++) {
    uint8_t sid = 0, tid = 0;
    for (int t = 0; t < count; t++) {
      if (DdDti(s->dtis[t], dt) == kDtiNotPresent) continue;
      if (s->spatial[t] > sid) sid = s->spatial[t];
      if (s->temporal[t] > tid) tid = s->temporal[t];
    }
    s->dt_spatial[dt] = sid;
    s->dt_temporal[dt] = tid;
  }
  // resolutions_present_flag, render_resolutions()
  if (b.Read(1)) {
    for (int sid = 0; sid <= s->max_spatial; sid++) b.Read(32);
  }
  return !b.bad;
}

}  // namespace

bool ParseDependencyDescriptor(const uint8_t* d, size_t len, DdStructure* structure, DdFrame* out) {
  if (len < 3) return false;
  Bits b(d, len);
  DdFrame f;
  f.start_of_frame = b.Read(1);
  f.end_of_frame = b.Read(1);
  f.template_id = static_cast<uint8_t>(b.Read(6));
  f.frame_number = static_cast<uint16_t>(b.Read(16));
  bool custom_dtis = false, custom_fdiffs = false, custom_chains = false;
  DdStructure fresh;
  const DdStructure* s = structure;
  if (len > 3) {
    f.carries_structure = b.Read(1);
    f.has_active_targets = b.Read(1);
    custom_dtis = b.Read(1);
    custom_fdiffs = b.Read(1);
    custom_chains = b.Read(1);
    if (f.carries_structure) {
      if (!ReadStructure(b, &fresh)) return false;
      s = &fresh;
      f.active_targets = static_cast<uint32_t>((uint64_t{1} << fresh.decode_targets) - 1);
    }
    if (f.has_active_targets) {
      if (s->template_count == 0) return false;
      f.active_targets = b.Read(s->decode_targets);
    }
    f.has_active_targets = f.has_active_targets || f.carries_structure;
  }
  if (s->template_count == 0) return false;
  // frame_dependency_definition()
  const int index = (f.template_id + 64 - s->template_id_offset) % 64;
  if (index >= s->template_count) return false;
  f.spatial = s->spatial[index];
  f.temporal = s->temporal[index];
  f.dtis = s->dtis[index];
  if (custom_dtis) {
    f.dtis = 0;
    for (int dt = 0; dt < s->decode_targets; dt++) f.dtis |= static_cast<uint64_t>(b.Read(2)) << (2 * dt);
  }
  if (custom_fdiffs) {
    int fdiffs = 0;
    for (uint32_t size = b.Read(2); size != 0 && !b.bad; size = b.Read(2)) {
      if (++fdiffs > kDdMaxFdiffs) return false;
      b.Read(4 * static_cast<int>(size));
    }
  }
  if (custom_chains) {
    for (int c = 0; c < s->chains; c++) b.Read(8);
  }
  if (b.bad) return false;
  if (f.carries_structure) *structure = fresh;
  *out = f;
  return true;
}

uint8_t DdSwitchUpMask(const DdStructure& s, const DdFrame& frame) {
  uint8_t mask = 0;
  for (int dt = 0; dt < s.decode_targets; dt++) {
    if (s.dt_spatial[dt] == frame.spatial && DdDti(frame.dtis, dt) == kDtiSwitch) mask |= static_cast<uint8_t>(1u << s.dt_temporal[dt]);
  }
  return mask;
}

}  // namespace halfsec
