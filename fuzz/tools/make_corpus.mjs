// Writes the seed corpora for the native fuzz targets (fuzz/corpus/<target>/). Run it again only
// to change the seeds; its output is committed. The SRTP seeds need the fuzzer's key, so they
// come from tools/srtp_seeds.cc (built here with the same compiler as the fuzzers).
// Usage: node fuzz/tools/make_corpus.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fuzz = fileURLToPath(new URL('..', import.meta.url));
const hex = (s) => Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex');
const put = (target, name, bytes) => {
  mkdirSync(join(fuzz, 'corpus', target), { recursive: true });
  writeFileSync(join(fuzz, 'corpus', target, name), bytes);
};

// ---- STUN: the RFC 5769 §2.1-2.4 sample messages, byte for byte.
put('stun', 'rfc5769-2.1-request', hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`));
put('stun', 'rfc5769-2.2-ipv4-response', hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`));
put('stun', 'rfc5769-2.3-ipv6-response', hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`));
put('stun', 'rfc5769-2.4-long-term-request', hex(`
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66`));
// An error response (487 Role Conflict) with USE-CANDIDATE and ICE-CONTROLLING, unsigned.
put('stun', 'error-487', hex(`
  01 11 00 24 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c
  00 09 00 11 00 00 04 57 52 6f 6c 65 20 43 6f 6e 66 6c 69 63 74 00 00 00
  00 25 00 00  80 2a 00 08 00 00 00 00 00 00 00 01`));

// ---- RTP
const rtp = ({ b0 = 0x80, pt = 102, marker = false, seq = 4660, ts = 90000, ssrc = 0x457, csrcs = [], ext, payload, pad = 0 }) => {
  const h = Buffer.alloc(12);
  h[0] = b0 | csrcs.length | (ext ? 0x10 : 0) | (pad ? 0x20 : 0);
  h[1] = (marker ? 0x80 : 0) | pt;
  h.writeUInt16BE(seq, 2);
  h.writeUInt32BE(ts, 4);
  h.writeUInt32BE(ssrc, 8);
  const parts = [h, ...csrcs.map((c) => { const b = Buffer.alloc(4); b.writeUInt32BE(c); return b; })];
  if (ext) parts.push(ext);
  parts.push(payload);
  if (pad) { const p = Buffer.alloc(pad); p[pad - 1] = pad; parts.push(p); }
  return Buffer.concat(parts);
};
const nal = Buffer.concat([Buffer.from([0x65, 0x88, 0x84]), Buffer.alloc(64, 0xab)]);
put('rtp', 'h264-idr', rtp({ payload: nal, marker: true }));
put('rtp', 'opus', rtp({ pt: 111, ts: 48000, ssrc: 0x8ae, payload: Buffer.alloc(40, 0xfc) }));
put('rtp', 'csrcs', rtp({ csrcs: [1, 2, 3], payload: nal }));
// One-byte header extension (RFC 8285) carrying mid "0".
put('rtp', 'ext-mid', rtp({ ext: hex('be de 00 01 10 30 00 00'), payload: nal }));
put('rtp', 'padding', rtp({ payload: nal, pad: 4 }));
put('rtp', 'everything', rtp({ csrcs: [7], ext: hex('10 00 00 02 01 02 03 04 05 06 07 08'), payload: nal, pad: 3, marker: true }));

// ---- RTCP
put('rtcp', 'rr-empty', hex('80 c9 00 01 00 00 08 ae'));
put('rtcp', 'sr-sdes', hex(`
  80 c8 00 06 00 00 04 57 e9 2a 1b 2c 00 00 00 00 00 01 5f 90 00 00 00 10 00 00 10 00
  81 ca 00 03 00 00 04 57 01 04 68 73 65 63 00 00`));
put('rtcp', 'rr-pli', hex('81 c9 00 07 00 00 08 ae 00 00 04 57 00 00 00 00 00 00 12 34 00 00 00 00 00 00 00 00 00 00 00 00  81 ce 00 02 00 00 08 ae 00 00 04 57'));
put('rtcp', 'fir', hex('84 ce 00 04 00 00 08 ae 00 00 00 00 00 00 04 57 01 00 00 00'));
put('rtcp', 'nack', hex('81 cd 00 03 00 00 08 ae 00 00 04 57 12 34 00 05'));
put('rtcp', 'remb', hex('8f ce 00 05 00 00 08 ae 00 00 00 00 52 45 4d 42 01 0a 7d 00 00 00 04 57'));

// ---- transport-cc feedback (RTPFB FMT=15): a two-bit status vector with a reordered (large,
// negative) delta, a run of losses, and a one-bit vector; each is a whole RTCP packet.
put('transport_cc', 'two-bit-vector', hex(`
  8f cd 00 06 11 11 11 11 22 22 22 22 00 05 00 07 00 00 0f 01
  d6 40 10 f4 ff 30 10 00`));
put('transport_cc', 'run-of-losses', hex(`
  8f cd 00 05 11 11 11 11 22 22 22 22 00 40 03 e8 00 00 10 02
  03 e8 00 00`));
put('transport_cc', 'one-bit-vector', hex(`
  8f cd 00 08 11 11 11 11 22 22 22 22 ff fa 00 0e 00 01 00 03
  bf ff 04 04 04 04 04 04 04 04 04 04 04 04 04 00`));

// ---- AV1 dependency descriptors (AV1 RTP spec, Appendix A), as the fuzz target reads them: a
// target byte, then [length][descriptor] pairs. Chromium's L1T3 shape: the keyframe's descriptor
// with the structure (5 templates, 3 decode targets, one chain, 640x360), then T0 T2 T1 T2, then
// one with custom DTIs, frame differences, chains and active decode targets.
put('dependency_descriptor', 'l1t3', hex(`
  01 14 80 00 00 80 02 14 ea a8 60 41 4d 14 10 20 84 27 02 7f 01 67 03 c1 00 01 03 c3 00 03
  03 c2 00 02 03 c4 00 04 08 c2 00 00 7b 29 18 4c 02`));

// ---- SRTP: built by the C++ helper with the fuzzer's key.
const cxx = process.env.CXX_FUZZ ?? 'clang++-14';
const tmp = mkdtempSync(join(tmpdir(), 'halfsec-seeds-'));
const bin = join(tmp, 'srtp_seeds');
execFileSync(cxx, ['-std=c++20', '-O1', '-fno-exceptions', `-I${join(fuzz, '../native')}`, join(fuzz, 'tools/srtp_seeds.cc'), join(fuzz, '../native/srtp/srtp_context.cc'), join(fuzz, '../native/srtp/srtp_cipher.cc'), join(fuzz, '../native/srtp/srtp_kdf.cc'), '-lcrypto', '-o', bin], { stdio: 'inherit' });
mkdirSync(join(fuzz, 'corpus', 'srtp'), { recursive: true });
execFileSync(bin, [join(fuzz, 'corpus', 'srtp')], { stdio: 'inherit' });
console.log('corpus written');
