import test from 'ava';
import { native } from '../dist/native.js';

const { rtpFindExtension, rtpIsKeyframe, rtpRewrite } = native._test;
const H264 = 1, VP8 = 2, VP9 = 3, AV1 = 4;

function rtp({ ext, payload = Buffer.from([1, 2, 3]) }) {
  const h = Buffer.alloc(12);
  h[0] = 0x80 | (ext ? 0x10 : 0);
  h[1] = 96;
  h.writeUInt16BE(7, 2);
  h.writeUInt32BE(1000, 4);
  h.writeUInt32BE(0xabcdef, 8);
  return Buffer.concat([h, ext ?? Buffer.alloc(0), payload]);
}

// RFC 8285 one-byte form: 0xBEDE, length in words, elements id<<4 | (len-1).
function oneByteExt(elements) {
  const body = Buffer.concat(elements.map(([id, v]) => Buffer.concat([Buffer.from([(id << 4) | (v.length - 1)]), v])));
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const hdr = Buffer.alloc(4);
  hdr.writeUInt16BE(0xbede, 0);
  hdr.writeUInt16BE(padded.length / 4, 2);
  return Buffer.concat([hdr, padded]);
}

test('one-byte header extensions are found by id, absent ids are not', (t) => {
  const p = rtp({ ext: oneByteExt([[1, Buffer.from('0')], [10, Buffer.from('f')], [3, Buffer.from([1, 2, 3])]]) });
  t.is(rtpFindExtension(p, 10).toString(), 'f');
  t.deepEqual([...rtpFindExtension(p, 3)], [1, 2, 3]);
  t.is(rtpFindExtension(p, 4), null);
  t.is(rtpFindExtension(rtp({}), 10), null);
});

test('two-byte header extensions are found by id', (t) => {
  const hdr = Buffer.from([0x10, 0x00, 0x00, 0x02, 12, 3, 0x68, 0x69, 0x21, 0, 0, 0]);
  t.is(rtpFindExtension(rtp({ ext: hdr }), 12).toString(), 'hi!');
});

test('extension elements that overrun the block are not returned', (t) => {
  const bad = Buffer.from([0xbe, 0xde, 0x00, 0x01, (10 << 4) | 7, 0x66, 0, 0]);
  t.is(rtpFindExtension(rtp({ ext: bad }), 10), null);
});

test('rewrite strips the extension and sets SSRC, payload type, sequence and timestamp', (t) => {
  const p = rtp({ ext: oneByteExt([[10, Buffer.from('f')]]), payload: Buffer.from('payload') });
  const out = rtpRewrite(p, 0x11223344, 100, 65535, 0xfffffff0);
  t.is(out[0] & 0x10, 0);
  t.is(out[1] & 0x7f, 100);
  t.is(out.readUInt16BE(2), 65535);
  t.is(out.readUInt32BE(4), 0xfffffff0);
  t.is(out.readUInt32BE(8), 0x11223344);
  t.is(out.subarray(12).toString(), 'payload');
});

test('keyframe starts are recognised per payload format', (t) => {
  // H.264: single IDR NAL, SPS, STAP-A holding SPS, FU-A start of IDR; P-slices and FU-A continuations are not.
  t.true(rtpIsKeyframe(H264, Buffer.from([0x65, 0x88])));
  t.true(rtpIsKeyframe(H264, Buffer.from([0x67, 0x42])));
  t.true(rtpIsKeyframe(H264, Buffer.from([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce])));
  t.true(rtpIsKeyframe(H264, Buffer.from([0x7c, 0x85, 0x00])));
  t.false(rtpIsKeyframe(H264, Buffer.from([0x41, 0x9a])));
  t.false(rtpIsKeyframe(H264, Buffer.from([0x7c, 0x05, 0x00])));
  t.false(rtpIsKeyframe(H264, Buffer.from([0x78, 0x00, 0x09, 0x67])), 'truncated STAP-A');
  // VP8: S=1, PID=0, then the frame header's P bit (0 = key frame), with and without extensions.
  t.true(rtpIsKeyframe(VP8, Buffer.from([0x10, 0x10, 0x02, 0x00])));
  t.false(rtpIsKeyframe(VP8, Buffer.from([0x10, 0x11, 0x02, 0x00])));
  t.true(rtpIsKeyframe(VP8, Buffer.from([0x90, 0x80, 0x81, 0x23, 0x50])));
  t.false(rtpIsKeyframe(VP8, Buffer.from([0x00, 0x10])), 'not the start of a partition');
  t.false(rtpIsKeyframe(VP8, Buffer.from([0x90, 0x80])), 'truncated descriptor');
  // VP9: B set and P clear. AV1: N set.
  t.true(rtpIsKeyframe(VP9, Buffer.from([0x08])));
  t.false(rtpIsKeyframe(VP9, Buffer.from([0x48])));
  t.true(rtpIsKeyframe(AV1, Buffer.from([0x18])));
  t.false(rtpIsKeyframe(AV1, Buffer.from([0x10])));
  t.false(rtpIsKeyframe(H264, Buffer.alloc(0)));
});
