// The Dependency Descriptor RTP header extension of the AV1 RTP payload format (AV1 RTP spec,
// "Dependency Descriptor RTP Header Extension" and its Appendix A syntax; URI
// https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension):
// enough to tell each packet's spatial and temporal layer and where a decode target may start,
// so a viewer can be forwarded only some layers. The template dependency structure arrives on
// some packets (a keyframe's first) and every later descriptor refers to it by template id.
//
// Bounded: every read is checked against the descriptor's length, at most 64 templates, 32
// decode targets, 32 chains, 16 frame differences per template, spatial ids 0..3, temporal ids
// 0..7; anything beyond is reported as not parsed.
#pragma once
#include <cstddef>
#include <cstdint>

namespace halfsec {

constexpr int kDdMaxTemplates = 64;
constexpr int kDdMaxDecodeTargets = 32;
constexpr int kDdMaxFdiffs = 16;

// Decode target indications (Appendix A, table A.1), two bits each.
enum DdIndication : uint8_t { kDtiNotPresent = 0, kDtiDiscardable = 1, kDtiSwitch = 2, kDtiRequired = 3 };

// A template dependency structure (template_dependency_structure()), fdiffs and resolutions
// read for their bounds but not kept: forwarding needs layers and indications only.
struct DdStructure {
  uint8_t template_count = 0;  // 0: no structure known
  uint8_t template_id_offset = 0;
  uint8_t decode_targets = 0;  // DtCnt, 1..32
  uint8_t chains = 0;          // chain_cnt, 0..DtCnt
  uint8_t max_spatial = 0, max_temporal = 0;
  uint8_t spatial[kDdMaxTemplates] = {};
  uint8_t temporal[kDdMaxTemplates] = {};
  uint64_t dtis[kDdMaxTemplates] = {};  // decode target d's indication in bits 2d..2d+1
  // decode_target_layers(): the highest spatial / temporal layer of each decode target.
  uint8_t dt_spatial[kDdMaxDecodeTargets] = {};
  uint8_t dt_temporal[kDdMaxDecodeTargets] = {};
};

// One descriptor, resolved against the structure in force.
struct DdFrame {
  bool start_of_frame = false;
  bool end_of_frame = false;
  uint8_t template_id = 0;  // frame_dependency_template_id
  uint16_t frame_number = 0;
  bool carries_structure = false;  // template_dependency_structure_present_flag
  bool has_active_targets = false;  // active_decode_targets_present_flag (or a new structure)
  uint32_t active_targets = 0;      // active_decode_targets_bitmask
  uint8_t spatial = 0, temporal = 0;  // FrameSpatialId, FrameTemporalId
  uint64_t dtis = 0;                  // FrameDti, two bits per decode target
};

inline DdIndication DdDti(uint64_t dtis, int dt) { return static_cast<DdIndication>((dtis >> (2 * dt)) & 3); }

// Parses the descriptor `d` of `len` bytes (the header extension element's data). `structure`:
// the latest structure of the RTP stream (template_count 0: none yet); a descriptor carrying one
// replaces it once the whole descriptor parsed. False when the descriptor is malformed, longer
// than its element, or refers to a template no known structure has (then `structure` is kept).
bool ParseDependencyDescriptor(const uint8_t* d, size_t len, DdStructure* structure, DdFrame* out);

// The temporal layers a decoder of spatial layer `frame.spatial` may switch up to at this frame:
// bit t set when a decode target of that spatial layer whose highest temporal layer is t has a
// Switch indication here.
uint8_t DdSwitchUpMask(const DdStructure& s, const DdFrame& frame);

}  // namespace halfsec
