// Test helper: writes Dependency Descriptors (AV1 RTP spec, Appendix A syntax) bit by bit, so
// the parser's tests start from bytes built from the spec rather than from the parser itself.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace halfsec::test {

class BitWriter {
 public:
  void Put(uint32_t v, int n) {
    for (int i = n - 1; i >= 0; i--) {
      if (bits_ % 8 == 0) bytes.push_back(0);
      if ((v >> i) & 1) bytes.back() |= static_cast<uint8_t>(0x80 >> (bits_ % 8));
      bits_++;
    }
  }
  // ns(n) (AV1 spec §4.10.7), the inverse of the reader's.
  void PutNs(uint32_t n, uint32_t v) {
    if (n <= 1) return;
    int w = 0;
    for (uint32_t x = n; x != 0; x >>= 1) w++;
    const uint32_t m = (1u << w) - n;
    if (v < m) {
      Put(v, w - 1);
    } else {
      Put((v + m) >> 1, w - 1);
      Put((v + m) & 1, 1);
    }
  }
  std::vector<uint8_t> bytes;

 private:
  int bits_ = 0;
};

struct DdTemplateSpec {
  int spatial, temporal;
  std::string dtis;  // one of "-DSR" per decode target
  std::vector<int> fdiffs;
  std::vector<int> chain_fdiffs;  // one per chain
};

struct DdStructureSpec {
  int template_id_offset = 0;
  int decode_targets = 1;
  std::vector<DdTemplateSpec> templates;  // ordered by spatial, then temporal layer
  int chains = 0;
  std::vector<int> protected_by;  // one per decode target when chains > 0
  std::vector<std::pair<int, int>> resolutions;
};

inline uint32_t DtiBits(char c) { return c == 'D' ? 1 : c == 'S' ? 2 : c == 'R' ? 3 : 0; }

inline void WriteStructure(BitWriter& w, const DdStructureSpec& s) {
  w.Put(s.template_id_offset, 6);
  w.Put(s.decode_targets - 1, 5);
  for (size_t i = 0; i < s.templates.size(); i++) {
    if (i + 1 == s.templates.size()) {
      w.Put(3, 2);
    } else {
      const auto& a = s.templates[i];
      const auto& b = s.templates[i + 1];
      w.Put(b.spatial != a.spatial ? 2 : b.temporal != a.temporal ? 1 : 0, 2);
    }
  }
  for (const auto& t : s.templates) {
    for (char c : t.dtis) w.Put(DtiBits(c), 2);
  }
  for (const auto& t : s.templates) {
    for (int f : t.fdiffs) {
      w.Put(1, 1);
      w.Put(f - 1, 4);
    }
    w.Put(0, 1);
  }
  w.PutNs(s.decode_targets + 1, s.chains);
  if (s.chains > 0) {
    for (int p : s.protected_by) w.PutNs(s.chains, p);
    for (const auto& t : s.templates) {
      for (int c : t.chain_fdiffs) w.Put(c, 4);
    }
  }
  w.Put(s.resolutions.empty() ? 0 : 1, 1);
  for (auto [width, height] : s.resolutions) {
    w.Put(width - 1, 16);
    w.Put(height - 1, 16);
  }
}

struct DdSpec {
  bool start = true, end = true;
  int template_id = 0;
  int frame_number = 0;
  const DdStructureSpec* structure = nullptr;  // written when set
  int active_targets = -1;                     // written when >= 0 (needs decode_targets)
  int decode_targets = 0;                      // for active_targets / custom dtis
  std::string custom_dtis;
  std::vector<int> custom_fdiffs;
  std::vector<int> custom_chains;
  bool extended = false;  // write the extended flags even when nothing else needs them
};

inline std::vector<uint8_t> WriteDd(const DdSpec& d) {
  BitWriter w;
  w.Put(d.start, 1);
  w.Put(d.end, 1);
  w.Put(d.template_id, 6);
  w.Put(d.frame_number, 16);
  const bool ext = d.extended || d.structure || d.active_targets >= 0 || !d.custom_dtis.empty() ||
                   !d.custom_fdiffs.empty() || !d.custom_chains.empty();
  if (ext) {
    w.Put(d.structure != nullptr, 1);
    w.Put(d.active_targets >= 0, 1);
    w.Put(!d.custom_dtis.empty(), 1);
    w.Put(!d.custom_fdiffs.empty(), 1);
    w.Put(!d.custom_chains.empty(), 1);
    if (d.structure) WriteStructure(w, *d.structure);
    if (d.active_targets >= 0) w.Put(d.active_targets, d.structure ? d.structure->decode_targets : d.decode_targets);
    for (char c : d.custom_dtis) w.Put(DtiBits(c), 2);
    for (int f : d.custom_fdiffs) {
      const int size = f - 1 < 16 ? 1 : f - 1 < 256 ? 2 : 3;
      w.Put(size, 2);
      w.Put(f - 1, 4 * size);
    }
    if (!d.custom_fdiffs.empty()) w.Put(0, 2);
    for (int c : d.custom_chains) w.Put(c, 8);
  }
  return w.bytes;  // zero padding up to the byte
}

// Chromium's L1T3 shape: decode targets T0, T0-1, T0-2; one chain on every base-layer frame.
inline DdStructureSpec L1T3Structure(int offset = 0) {
  DdStructureSpec s;
  s.template_id_offset = offset;
  s.decode_targets = 3;
  s.templates = {
      {0, 0, "SSS", {}, {0}},
      {0, 0, "SSS", {4}, {4}},
      {0, 1, "-DS", {2}, {2}},
      {0, 2, "--D", {1}, {1}},
      {0, 2, "--D", {1}, {3}},
  };
  s.chains = 1;
  s.protected_by = {0, 0, 0};
  s.resolutions = {{640, 360}};
  return s;
}

}  // namespace halfsec::test
