// The dependency descriptor parser (rtp/dependency_descriptor.h) on descriptors written from the
// AV1 RTP spec's Appendix A syntax (tests/dd_writer.h), and the SVC filter driven by what it
// yields: a viewer capped to AV1 L1T3's base layer gets every fourth frame, and climbs back at a
// Switch indication.
#include "media/dd_layers.h"
#include "media/svc_filter.h"
#include "rtp/dependency_descriptor.h"
#include "rtp/rtp.h"
#include "rtp/rtx.h"
#include <algorithm>

#include "tests/check.h"
#include "tests/dd_writer.h"

namespace halfsec {

using test::DdSpec;
using test::DdStructureSpec;
using test::WriteDd;

namespace {
// L1T3's frame pattern after the keyframe: T0 T2 T1 T2, with its templates (0: key).
int Template(int frame) {
  static const int k[] = {1, 3, 2, 4};
  return frame == 0 ? 0 : k[frame % 4];
}

bool Parse(const std::vector<uint8_t>& b, DdStructure* s, DdFrame* f) {
  return ParseDependencyDescriptor(b.data(), b.size(), s, f);
}
}  // namespace

TEST(DdParsesChromiumsL1T3Structure) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdSpec d;
  d.structure = &spec;
  d.frame_number = 100;
  DdStructure s;
  DdFrame f;
  CHECK(Parse(WriteDd(d), &s, &f));
  CHECK(f.carries_structure && f.start_of_frame && f.end_of_frame);
  CHECK_EQ(f.frame_number, 100);
  CHECK_EQ(s.template_count, 5);
  CHECK_EQ(s.decode_targets, 3);
  CHECK_EQ(s.chains, 1);
  CHECK_EQ(s.max_spatial, 0);
  CHECK_EQ(s.max_temporal, 2);
  for (int dt = 0; dt < 3; dt++) {
    CHECK_EQ(s.dt_spatial[dt], 0);
    CHECK_EQ(s.dt_temporal[dt], dt);
  }
  CHECK(f.has_active_targets);
  CHECK_EQ(f.active_targets, 7u);  // a new structure makes every decode target active
  CHECK_EQ(f.temporal, 0);
  CHECK_EQ(DdSwitchUpMask(s, f), 7);
}

TEST(DdMandatoryFieldsResolveAgainstTheKnownStructure) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdSpec key;
  key.structure = &spec;
  DdStructure s;
  DdFrame f;
  CHECK(Parse(WriteDd(key), &s, &f));
  const int tids[] = {0, 0, 1, 2, 2};
  const uint8_t masks[] = {7, 7, 4, 0, 0};
  for (int t = 0; t < 5; t++) {
    DdSpec d;
    d.template_id = t;
    d.frame_number = 1000 + t;
    d.start = t % 2 == 0;
    d.end = t % 2 == 1;
    const std::vector<uint8_t> b = WriteDd(d);
    CHECK_EQ(b.size(), size_t{3});
    CHECK(Parse(b, &s, &f));
    CHECK_EQ(f.temporal, tids[t]);
    CHECK_EQ(f.frame_number, 1000 + t);
    CHECK_EQ(f.start_of_frame, t % 2 == 0);
    CHECK_EQ(f.end_of_frame, t % 2 == 1);
    CHECK(!f.carries_structure && !f.has_active_targets);
    CHECK_EQ(DdSwitchUpMask(s, f), masks[t]);
  }
  DdSpec beyond;
  beyond.template_id = 5;  // only five templates
  CHECK(!Parse(WriteDd(beyond), &s, &f));
}

TEST(DdTemplateIdsWrapAroundTheOffset) {
  const DdStructureSpec spec = test::L1T3Structure(62);
  DdSpec key;
  key.structure = &spec;
  key.template_id = 62;
  DdStructure s;
  DdFrame f;
  CHECK(Parse(WriteDd(key), &s, &f));
  CHECK_EQ(s.template_id_offset, 62);
  DdSpec d;
  d.template_id = 0;  // (0 + 64 - 62) % 64 = template 2: T1
  CHECK(Parse(WriteDd(d), &s, &f));
  CHECK_EQ(f.temporal, 1);
  d.template_id = 61;  // index 63: none
  CHECK(!Parse(WriteDd(d), &s, &f));
}

TEST(DdWithoutAStructureIsNotParsed) {
  DdStructure s;
  DdFrame f;
  DdSpec d;
  CHECK(!Parse(WriteDd(d), &s, &f));
  d.active_targets = 1;
  d.decode_targets = 3;
  CHECK(!Parse(WriteDd(d), &s, &f));
  const uint8_t two[] = {0x80, 0};
  CHECK(!ParseDependencyDescriptor(two, 2, &s, &f));
}

TEST(DdTruncatedStructureKeepsThePreviousOne) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdSpec key;
  key.structure = &spec;
  DdStructure s;
  DdFrame f;
  const std::vector<uint8_t> b = WriteDd(key);
  CHECK(Parse(b, &s, &f));
  DdStructureSpec other = test::L1T3Structure(10);
  key.structure = &other;
  key.template_id = 10;
  const std::vector<uint8_t> o = WriteDd(key);
  // Three bytes are the mandatory fields alone, valid on their own; any cut of the rest is not.
  for (size_t n = 4; n < o.size(); n++) {
    DdStructure copy = s;
    CHECK(!ParseDependencyDescriptor(o.data(), n, &copy, &f));
    CHECK_EQ(copy.template_id_offset, 0);
  }
  CHECK(Parse(o, &s, &f));
  CHECK_EQ(s.template_id_offset, 10);
}

TEST(DdCustomFieldsAndActiveDecodeTargets) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdSpec key;
  key.structure = &spec;
  key.active_targets = 1;  // only the base decode target active
  DdStructure s;
  DdFrame f;
  CHECK(Parse(WriteDd(key), &s, &f));
  CHECK(f.has_active_targets);
  CHECK_EQ(f.active_targets, 1u);
  DdSpec d;
  d.template_id = 2;
  d.custom_dtis = "-SS";
  d.custom_fdiffs = {2, 20, 300};
  d.custom_chains = {2};
  d.decode_targets = 3;
  CHECK(Parse(WriteDd(d), &s, &f));
  CHECK_EQ(f.temporal, 1);
  CHECK_EQ(DdDti(f.dtis, 0), kDtiNotPresent);
  CHECK_EQ(DdDti(f.dtis, 1), kDtiSwitch);
  CHECK_EQ(DdSwitchUpMask(s, f), 6);
  // Custom fields cut short: not parsed.
  std::vector<uint8_t> b = WriteDd(d);
  CHECK(!ParseDependencyDescriptor(b.data(), 4, &s, &f));
}

TEST(DdSpatialLayersMapDecodeTargets) {
  // L2T2: decode targets S0T0, S0T1, S1T0, S1T1.
  DdStructureSpec spec;
  spec.decode_targets = 4;
  spec.templates = {
      {0, 0, "SSSS", {}, {}},
      {0, 1, "-D-D", {1}, {}},
      {1, 0, "--SS", {1}, {}},
      {1, 1, "---D", {1, 2}, {}},
  };
  spec.resolutions = {{320, 180}, {640, 360}};
  DdSpec key;
  key.structure = &spec;
  DdStructure s;
  DdFrame f;
  CHECK(Parse(WriteDd(key), &s, &f));
  CHECK_EQ(s.max_spatial, 1);
  CHECK_EQ(s.chains, 0);
  const int sid[] = {0, 0, 1, 1}, tid[] = {0, 1, 0, 1};
  for (int dt = 0; dt < 4; dt++) {
    CHECK_EQ(s.dt_spatial[dt], sid[dt]);
    CHECK_EQ(s.dt_temporal[dt], tid[dt]);
  }
  DdSpec d;
  d.template_id = 2;
  CHECK(Parse(WriteDd(d), &s, &f));
  CHECK_EQ(f.spatial, 1);
  CHECK_EQ(DdSwitchUpMask(s, f), 3);  // S1T0 and S1T1 switch here
}

TEST(DdRejectsOutOfBoundsStructures) {
  // 65 templates: more than template ids can name.
  DdStructureSpec many;
  many.decode_targets = 1;
  for (int i = 0; i < 65; i++) many.templates.push_back({0, 0, "S", {}, {}});
  DdSpec d;
  d.structure = &many;
  DdStructure s;
  DdFrame f;
  CHECK(!Parse(WriteDd(d), &s, &f));
  CHECK_EQ(s.template_count, 0);
  // Seventeen frame differences on one template.
  DdStructureSpec fd;
  fd.decode_targets = 1;
  fd.templates = {{0, 0, "S", std::vector<int>(17, 1), {}}};
  d.structure = &fd;
  CHECK(!Parse(WriteDd(d), &s, &f));
  // Eight temporal layers fit (0..7), nine do not.
  DdStructureSpec deep;
  deep.decode_targets = 1;
  for (int t = 0; t < 9; t++) deep.templates.push_back({0, t, "S", {}, {}});
  d.structure = &deep;
  CHECK(!Parse(WriteDd(d), &s, &f));
  deep.templates.pop_back();
  CHECK(Parse(WriteDd(d), &s, &f));
  CHECK_EQ(s.max_temporal, 7);
}

TEST(DdLayersKeepTheStructureOfTheSourceEpochThatSentIt) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdSpec key;
  key.structure = &spec;
  DdSpec t1;
  t1.template_id = 2;
  DdLayers reader;
  FrameLayers l;
  CHECK(!reader.Read(WriteDd(t1).data(), WriteDd(t1).size(), 1, &l));  // no structure yet
  CHECK(!l.known);
  std::vector<uint8_t> k = WriteDd(key);
  CHECK(reader.Read(k.data(), k.size(), 1, &l));
  CHECK(l.known && l.temporal == 0 && l.switch_up == 7);
  std::vector<uint8_t> b = WriteDd(t1);
  FrameLayers m;
  CHECK(reader.Read(b.data(), b.size(), 1, &m));
  CHECK(m.known && m.temporal == 1 && m.switch_up == 4 && m.ends);
  // A restarted line (epoch 2): its descriptors are not read with epoch 1's templates...
  FrameLayers n;
  CHECK(!reader.Read(b.data(), b.size(), 2, &n));
  CHECK(!n.known && !reader.has_structure());
  // ...until its own keyframe brings a structure.
  CHECK(reader.Read(k.data(), k.size(), 2, &n));
  CHECK(reader.Read(b.data(), b.size(), 2, &n) && n.temporal == 1);
}

TEST(SvcFilterDropsAv1TemporalLayersAtTheDescriptorsTemplates) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdStructure s;
  SvcFilter filter;
  filter.SetTarget(SvcFilter::kAll, 0);
  int forwarded = 0, seen = 0;
  bool climbed = false;
  for (int i = 0; i < 24; i++) {
    DdSpec d;
    d.template_id = Template(i);
    d.frame_number = i;
    if (i == 0) d.structure = &spec;
    DdFrame f;
    CHECK(Parse(WriteDd(d), &s, &f));
    FrameLayers l;
    l.known = true;
    l.spatial = f.spatial;
    l.temporal = f.temporal;
    l.switch_up = DdSwitchUpMask(s, f);
    l.ends = f.end_of_frame;
    if (i == 12) filter.SetTarget(SvcFilter::kAll, SvcFilter::kAll);
    const SvcFilter::Verdict v = filter.Decide(l, 3000u * i, i == 0);
    if (i < 12) {
      CHECK_EQ(v.forward, f.temporal == 0);
      forwarded += v.forward;
    } else {
      // Frame 12 is T0 with "SSS": every layer may start there.
      CHECK(v.forward);
      climbed = climbed || filter.temporal() == 2;
      seen++;
    }
    CHECK(!v.set_marker);  // no spatial layer cut: the publisher's own marker stands
  }
  CHECK_EQ(forwarded, 3);
  CHECK_EQ(seen, 12);
  CHECK(climbed);
  CHECK_EQ(filter.seen_temporal(), 2);
}

TEST(SvcFilterClimbsToTheMiddleAv1LayerOnlyAtItsSwitchFrame) {
  const DdStructureSpec spec = test::L1T3Structure();
  DdStructure s;
  SvcFilter filter;
  filter.SetTarget(SvcFilter::kAll, 0);
  for (int i = 0; i < 10; i++) {
    DdSpec d;
    d.template_id = Template(i);
    if (i == 0) d.structure = &spec;
    DdFrame f;
    CHECK(Parse(WriteDd(d), &s, &f));
    FrameLayers l{true, f.spatial, f.temporal, DdSwitchUpMask(s, f), f.end_of_frame};
    if (i == 5) filter.SetTarget(SvcFilter::kAll, 1);  // frame 5 is T2, frame 6 is T1 ("-DS": not a switch to T1)
    const SvcFilter::Verdict v = filter.Decide(l, 3000u * i, i == 0);
    if (i == 6) CHECK(!v.forward);
    if (i == 8) CHECK(v.forward && filter.temporal() == 1);  // T0 "SSS"
  }
}

namespace {
// A publisher's AV1 packet: one-byte extensions (mid, DD id 3 when it fits), 4 payload bytes.
std::vector<uint8_t> PublisherPacket(const std::vector<uint8_t>& dd, bool two_byte) {
  std::vector<uint8_t> p = {0x90, 45, 0x12, 0x34, 0, 0, 0x0b, 0xb8, 0xde, 0xad, 0xbe, 0xef};
  std::vector<uint8_t> ext;
  if (two_byte) {
    ext = {9, 1, '0', 13, static_cast<uint8_t>(dd.size())};
  } else {
    ext = {0x90, '0', static_cast<uint8_t>(0x30 | (dd.size() - 1))};
  }
  ext.insert(ext.end(), dd.begin(), dd.end());
  while (ext.size() % 4) ext.push_back(0);
  p.push_back(two_byte ? 0x10 : 0xBE);
  p.push_back(two_byte ? 0x00 : 0xDE);
  p.push_back(0);
  p.push_back(static_cast<uint8_t>(ext.size() / 4));
  p.insert(p.end(), ext.begin(), ext.end());
  for (uint8_t b : {0x10, 0x20, 0x30, 0x40}) p.push_back(b);
  return p;
}

// Rewrites `in` with the descriptor and a transport-wide number under the given ids, and reads
// both back as a receiver would.
void RewriteAndReadBack(const std::vector<uint8_t>& in, uint8_t in_dd_id, uint8_t twcc_id, uint8_t dd_id, uint16_t expect_profile) {
  RtpHeader h;
  CHECK(ParseRtp(in.data(), in.size(), &h));
  const uint8_t* dd;
  size_t dd_len;
  CHECK(FindRtpExtension(in.data(), h, in_dd_id, &dd, &dd_len));
  RtpExtensionsOut ext;
  ext.twcc_id = twcc_id;
  ext.twcc_seq = 0x4242;
  ext.dd_id = dd_id;
  ext.dd = dd;
  ext.dd_len = static_cast<uint8_t>(dd_len);
  uint8_t out[1600];
  size_t header_end = 0;
  const size_t n = RewriteRtp(in.data(), in.size(), h, out, 0x5555, 96, 7, 9000, ext, &header_end);
  RtpHeader o;
  CHECK(ParseRtp(out, n, &o));
  CHECK_EQ(o.header_len, header_end);
  CHECK_EQ(Load16(out + o.csrc_end), expect_profile);
  CHECK_EQ(o.payload_len, size_t{4});
  CHECK_EQ(out[n - 1], 0x40);
  CHECK_EQ(o.ssrc, 0x5555u);
  const uint8_t* v;
  size_t len;
  CHECK(FindRtpExtension(out, o, dd_id, &v, &len));
  CHECK_EQ(len, dd_len);
  CHECK(len == dd_len && std::equal(v, v + len, dd));
  CHECK(FindRtpExtension(out, o, twcc_id, &v, &len) && len == 2 && Load16(v) == 0x4242);
  // An RTX copy: the original sequence number right after the header the rewrite reported.
  const size_t rtx = InsertRtxOsn(out, n, header_end, 7);
  CHECK(ParseRtp(out, rtx, &o));
  CHECK_EQ(Load16(out + o.header_len), 7);
}
}  // namespace

TEST(RewriteForwardsTheDescriptorInTheFormItFits) {
  DdSpec small;
  small.template_id = 2;
  const std::vector<uint8_t> three = WriteDd(small);
  const DdStructureSpec spec = test::L1T3Structure();
  DdSpec key;
  key.structure = &spec;
  const std::vector<uint8_t> big = WriteDd(key);
  CHECK(big.size() > 16);
  // Three bytes, small ids: the one-byte form.
  RewriteAndReadBack(PublisherPacket(three, false), 3, 5, 12, 0xBEDE);
  // The structure (over 16 bytes): the two-byte form, the publisher's own being two-byte too.
  RewriteAndReadBack(PublisherPacket(big, true), 13, 5, 12, 0x1000);
  // A viewer's DD id over 14 needs the two-byte form even for three bytes.
  RewriteAndReadBack(PublisherPacket(three, false), 3, 5, 20, 0x1000);
}

}  // namespace halfsec
