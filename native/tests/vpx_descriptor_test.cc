#include "rtp/vpx_descriptor.h"
#include "tests/check.h"

namespace halfsec {

TEST(Vp8DescriptorReadsTidSyncAndTl0) {
  // X=1 S=1 PID=0; I L T set; 15-bit picture id 0x1234; TL0PICIDX 9; TID 2, Y 1, KEYIDX 0.
  const uint8_t p[] = {0x90, 0xe0, 0x92, 0x34, 0x09, 0xa0, 0x55};
  const VpxLayers v = ParseVpxDescriptor(Codec::kVp8, p, sizeof p);
  CHECK(v.parsed);
  CHECK(v.has_tid);
  CHECK_EQ(v.tid, 2);
  CHECK(v.switch_up);
  CHECK(v.begins);
  CHECK(v.has_picture_id);
  CHECK_EQ(v.picture_id, 0x1234);
  CHECK_EQ(v.tl0picidx, 9);
  CHECK_EQ(v.descriptor_len, 6u);
}

TEST(Vp8DescriptorWithoutTemporalLayers) {
  // X=0: a one-byte descriptor, no TID; S=0 (a continuation).
  const uint8_t p[] = {0x00, 0x11};
  const VpxLayers v = ParseVpxDescriptor(Codec::kVp8, p, sizeof p);
  CHECK(v.parsed);
  CHECK(!v.has_tid);
  CHECK(!v.begins);
  // K without T: the byte is there but carries no TID.
  const uint8_t k[] = {0x80, 0x10, 0x45, 0x11};
  const VpxLayers kv = ParseVpxDescriptor(Codec::kVp8, k, sizeof k);
  CHECK(kv.parsed);
  CHECK(!kv.has_tid);
}

TEST(Vp8DescriptorIsBounded) {
  const uint8_t p[] = {0x90, 0xe0, 0x92, 0x34, 0x09, 0xa0, 0x55};
  // Every truncation short of a byte of payload is refused, never read past.
  for (size_t n = 0; n < 7; n++) CHECK(!ParseVpxDescriptor(Codec::kVp8, p, n).parsed);
  CHECK(!ParseVpxDescriptor(Codec::kH264, p, sizeof p).parsed);
}

TEST(Vp9DescriptorNonFlexibleLayers) {
  // I P L F=0 B E V=0 Z=0: 0xec; 7-bit picture id 5; TID 1 U 1 SID 2 D 1 = 0x35; TL0PICIDX 7.
  const uint8_t p[] = {0xec, 0x05, 0x35, 0x07, 0x80};
  const VpxLayers v = ParseVpxDescriptor(Codec::kVp9, p, sizeof p);
  CHECK(v.parsed);
  CHECK_EQ(v.tid, 1);
  CHECK(v.switch_up);
  CHECK_EQ(v.sid, 2);
  CHECK(v.begins);
  CHECK(v.ends);
  CHECK(v.inter_predicted);
  CHECK_EQ(v.picture_id, 5);
  CHECK_EQ(v.tl0picidx, 7);
  CHECK_EQ(v.descriptor_len, 4u);
  for (size_t n = 0; n < sizeof p; n++) CHECK(!ParseVpxDescriptor(Codec::kVp9, p, n).parsed);
}

TEST(Vp9DescriptorFlexibleAndScalabilityStructure) {
  // Flexible (F=1) with P: two P_DIFF bytes (first with N set); no TL0PICIDX.
  const uint8_t f[] = {0xf8, 0x85, 0x01, 0x20, 0x03, 0x04, 0x99};
  const VpxLayers v = ParseVpxDescriptor(Codec::kVp9, f, sizeof f);
  CHECK(v.parsed);
  CHECK(!v.has_tl0picidx);
  CHECK_EQ(v.tid, 1);
  CHECK_EQ(v.picture_id, 0x0501);
  CHECK_EQ(v.descriptor_len, 6u);
  // Four P_DIFF bytes all with N: more than the three allowed.
  const uint8_t bad[] = {0x70, 0x00, 0x03, 0x03, 0x03, 0x03, 0x99};
  CHECK(!ParseVpxDescriptor(Codec::kVp9, bad, sizeof bad).parsed);
  // A keyframe with V: N_S=3 (2), Y, G; three sizes, N_G 1 with one reference.
  const uint8_t ss[] = {0x8a, 0x01, 0x58, 0, 1, 0, 1, 0, 2, 0, 2, 0, 4, 0, 4, 0x01, 0x04, 0x02, 0xaa};
  const VpxLayers s = ParseVpxDescriptor(Codec::kVp9, ss, sizeof ss);
  CHECK(s.parsed);
  CHECK(!s.inter_predicted);
  CHECK_EQ(s.descriptor_len, sizeof ss - 1);
  for (size_t n = 0; n < sizeof ss; n++) CHECK(!ParseVpxDescriptor(Codec::kVp9, ss, n).parsed);
}

}  // namespace halfsec
