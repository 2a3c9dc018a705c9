// STUN (native/stun.cc) through the addon's test hooks: RFC 5769 vectors, builders, and
// hostile input. MESSAGE-INTEGRITY and FINGERPRINT are also recomputed here with node:crypto and
// node:zlib, so the native code is checked against an independent implementation.
import test from 'ava';
import { seeded } from './prng.mjs';
import { createHash, createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { native } from '../dist/native.js';

const t_ = native._test;

// ---------------------------------------------------------------------------------------------
// RFC 5769 test vectors, as printed in RFC 5769 §2.1-§2.4 (the same bytes appear in its
// Appendix A `req`, `respv4`, `respv6` and `reqltc` arrays).

const hex = (s) => Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex');

const PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';
const TXID_5769 = hex('b7 e7 a7 01 bc 34 d6 86 fa 87 df ae');

// §2.1 Sample Request: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME "evtj:h6vY",
// MESSAGE-INTEGRITY, FINGERPRINT. Padding bytes are spaces (0x20), as the RFC prints them.
const SAMPLE_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);

// §2.2 Sample IPv4 Response: XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const SAMPLE_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);

// §2.3 Sample IPv6 Response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const SAMPLE_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

// §2.4 Sample Request with Long-Term Authentication: USERNAME (katakana "matrix"), NONCE,
// REALM "example.org", MESSAGE-INTEGRITY keyed with MD5(username:realm:SASLprep(password)),
// where the password SASLpreps to "TheMatrIX". No FINGERPRINT.
const SAMPLE_LONG_TERM_REQUEST = hex(`
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66`);
const LONG_TERM_USERNAME = '\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9';

const VECTORS = [
  ['§2.1 request', SAMPLE_REQUEST],
  ['§2.2 IPv4 response', SAMPLE_IPV4_RESPONSE],
  ['§2.3 IPv6 response', SAMPLE_IPV6_RESPONSE],
];

// ---------------------------------------------------------------------------------------------
// Independent (JavaScript) reference computations and helpers.

// Attribute walk with no checks beyond what the well-formed inputs here need.
function attrs(buf) {
  const out = [];
  for (let off = 20; off + 4 <= buf.length; ) {
    const type = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    out.push({ type, len, off });
    off += 4 + ((len + 3) & ~3);
  }
  return out;
}
const findAttr = (buf, type) => attrs(buf).find((a) => a.type === type);

function withLength(buf, end) {
  const head = Buffer.from(buf.subarray(0, 20));
  head.writeUInt16BE(end - 20, 2);
  return head;
}

// MESSAGE-INTEGRITY per RFC 5389 §15.4, with node:crypto.
function jsIntegrityOk(buf, key) {
  const mi = findAttr(buf, 0x0008);
  if (!mi) return false;
  const h = createHmac('sha1', key);
  h.update(withLength(buf, mi.off + 24));
  h.update(buf.subarray(20, mi.off));
  return h.digest().equals(buf.subarray(mi.off + 4, mi.off + 24));
}

// FINGERPRINT value per RFC 5389 §15.5, with node:zlib.
function jsFingerprint(buf, fpOff) {
  const c = crc32(buf.subarray(20, fpOff), crc32(withLength(buf, fpOff + 8)));
  return (c ^ 0x5354554e) >>> 0;
}
function jsFingerprintOk(buf) {
  const fp = findAttr(buf, 0x8028);
  return !!fp && fp.off + 8 === buf.length && jsFingerprint(buf, fp.off) === buf.readUInt32BE(fp.off + 4);
}

function attr(type, value) {
  const v = Buffer.from(value);
  const a = Buffer.alloc(4 + ((v.length + 3) & ~3));
  a.writeUInt16BE(type, 0);
  a.writeUInt16BE(v.length, 2);
  v.copy(a, 4);
  return a;
}

// A message from a header and attributes, with the header length set to match.
function message(type, txid, ...attributes) {
  const head = Buffer.alloc(20);
  head.writeUInt16BE(type, 0);
  head.writeUInt32BE(0x2112a442, 4);
  Buffer.from(txid).copy(head, 8);
  const m = Buffer.concat([head, ...attributes]);
  m.writeUInt16BE(m.length - 20, 2);
  return m;
}

// Appends a correct FINGERPRINT (computed here) to a message.
function addFingerprint(buf) {
  const m = Buffer.concat([buf, Buffer.alloc(8)]);
  m.writeUInt16BE(m.length - 20, 2);
  m.writeUInt16BE(0x8028, buf.length);
  m.writeUInt16BE(4, buf.length + 2);
  m.writeUInt32BE(jsFingerprint(m, buf.length), buf.length + 4);
  return m;
}

const rng = seeded;
const randInt = (r, n) => Math.floor(r() * n);
const randBytes = (r, n) => Buffer.from(Array.from({ length: n }, () => randInt(r, 256)));

const TXID = hex('00 11 22 33 44 55 66 77 88 99 aa bb');
const KEY = 'a-22-char-ice-password';

// ---------------------------------------------------------------------------------------------
// CRC-32 and the cheap demultiplexing test.

test('CRC-32 is the ISO-HDLC one: check value and agreement with zlib', (t) => {
  t.is(t_.stunCrc32(Buffer.from('123456789')), 0xcbf43926);
  t.is(t_.stunCrc32(Buffer.alloc(0)), 0);
  const r = rng(1);
  for (let i = 0; i < 200; i++) {
    const b = randBytes(r, randInt(r, 300));
    t.is(t_.stunCrc32(b), crc32(b));
  }
});

test('LooksLikeStun accepts the vectors and rejects other protocols and bad headers', (t) => {
  for (const [name, v] of VECTORS) t.true(t_.stunLooksLike(v), name);
  t.true(t_.stunLooksLike(SAMPLE_LONG_TERM_REQUEST));
  const bad = (mutate) => {
    const b = Buffer.from(SAMPLE_REQUEST);
    mutate(b);
    return t_.stunLooksLike(b);
  };
  t.false(bad((b) => (b[0] = 0x04)), 'first byte must be 0..3');
  t.false(bad((b) => (b[0] = 0x16)), 'a DTLS handshake record');
  t.false(bad((b) => (b[0] = 0x80)), 'an RTP packet');
  t.false(bad((b) => (b[0] = 0x40)), 'a TURN ChannelData frame');
  t.false(bad((b) => (b[4] ^= 1)), 'magic cookie');
  t.false(bad((b) => b.writeUInt16BE(0x56, 2)), 'length not a multiple of 4');
  t.false(bad((b) => b.writeUInt16BE(0x54, 2)), 'length shorter than the datagram');
  t.false(bad((b) => b.writeUInt16BE(0x5c, 2)), 'length longer than the datagram');
  t.false(t_.stunLooksLike(SAMPLE_REQUEST.subarray(0, 19)));
  t.false(t_.stunLooksLike(Buffer.alloc(0)));
  t.true(t_.stunLooksLike(message(0x0001, TXID)), 'a bare 20-byte header');
});

// ---------------------------------------------------------------------------------------------
// RFC 5769.

test('RFC 5769 §2.1 sample request parses to its documented fields', (t) => {
  const m = t_.stunParse(SAMPLE_REQUEST);
  t.truthy(m);
  t.is(m.type, 0x0001);
  t.deepEqual(m.transactionId, TXID_5769);
  t.is(m.username, 'evtj:h6vY');
  t.is(m.usernameLength, 9);
  t.is(m.priority, 0x6e0001ff);
  t.true(m.iceControlled);
  t.false(m.iceControlling);
  t.is(m.tieBreaker, 0x932ff9b151263b36n);
  t.false(m.useCandidate);
  t.is(m.errorCode, 0);
  t.is(m.mapped, null);
  t.true(m.hasIntegrity);
  t.is(m.integrityOffset, 76);
  t.true(m.hasFingerprint);
  t.is(m.fingerprintOffset, 100);
});

test('RFC 5769 §2.2 and §2.3 responses decode XOR-MAPPED-ADDRESS', (t) => {
  const v4 = t_.stunParse(SAMPLE_IPV4_RESPONSE);
  t.is(v4.type, 0x0101);
  t.deepEqual(v4.transactionId, TXID_5769);
  t.deepEqual(v4.mapped, { family: 'IPv4', port: 32853, address: '192.0.2.1' });
  t.is(v4.username, null);
  t.true(v4.hasIntegrity);
  t.true(v4.hasFingerprint);
  const v6 = t_.stunParse(SAMPLE_IPV6_RESPONSE);
  t.is(v6.type, 0x0101);
  t.deepEqual(v6.mapped, { family: 'IPv6', port: 32853, address: '2001:db8:1234:5678:11:2233:4455:6677' });
});

test('RFC 5769 §2.1-§2.3: MESSAGE-INTEGRITY and FINGERPRINT check; a wrong password does not', (t) => {
  for (const [name, v] of VECTORS) {
    t.true(jsIntegrityOk(v, PASSWORD), `${name}: the reference HMAC agrees with the RFC`);
    t.true(t_.stunVerifyIntegrity(v, PASSWORD), `${name}: integrity`);
    t.true(t_.stunVerifyIntegrity(v, Buffer.from(PASSWORD)), `${name}: integrity, key as bytes`);
    t.true(t_.stunVerifyFingerprint(v), `${name}: fingerprint`);
    t.false(t_.stunVerifyIntegrity(v, 'VOkJxbRl1RmTxUk/WvJxBT'), `${name}: wrong password`);
    t.false(t_.stunVerifyIntegrity(v, PASSWORD.slice(0, -1)), `${name}: truncated password`);
    t.false(t_.stunVerifyIntegrity(v, ''), `${name}: empty password`);
  }
});

test('RFC 5769 §2.4 long-term request: parses, has no fingerprint, integrity checks under the MD5 key', (t) => {
  const v = SAMPLE_LONG_TERM_REQUEST;
  const m = t_.stunParse(v);
  t.truthy(m);
  t.is(m.username, LONG_TERM_USERNAME);
  t.is(m.usernameLength, 18);
  t.true(m.hasIntegrity);
  t.false(m.hasFingerprint);
  t.false(t_.stunVerifyFingerprint(v));
  const key = (pw) => createHash('md5').update(`${LONG_TERM_USERNAME}:example.org:${pw}`).digest();
  t.true(t_.stunVerifyIntegrity(v, key('TheMatrIX')));
  t.false(t_.stunVerifyIntegrity(v, key('TheMatrix')));
  t.false(t_.stunVerifyIntegrity(v, 'TheMatrIX'));
});

test('RFC 5769: changing any one byte breaks FINGERPRINT, and MESSAGE-INTEGRITY where it covers it', (t) => {
  for (const [name, v] of VECTORS) {
    const miEnd = t_.stunParse(v).integrityOffset + 24;
    let parsed = 0;
    for (let i = 0; i < v.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const b = Buffer.from(v);
        b[i] ^= x;
        const m = t_.stunParse(b);
        if (m === null) {
          t.false(t_.stunVerifyIntegrity(b, PASSWORD));
          t.false(t_.stunVerifyFingerprint(b));
          continue;
        }
        parsed++;
        t.false(t_.stunVerifyFingerprint(b), `${name}: byte ${i} ^ ${x}: fingerprint`);
        if (i < miEnd) {
          t.false(t_.stunVerifyIntegrity(b, PASSWORD), `${name}: byte ${i} ^ ${x}: integrity`);
        } else {
          t.true(t_.stunVerifyIntegrity(b, PASSWORD), `${name}: byte ${i} is not covered by integrity`);
        }
      }
    }
    t.true(parsed > v.length, `${name}: most single-byte changes still parse (${parsed})`);
  }
  // The flipped byte in the username, specifically.
  const b = Buffer.from(SAMPLE_REQUEST);
  b[64] ^= 0x20; // 'e' -> 'E'
  t.is(t_.stunParse(b).username, 'Evtj:h6vY');
  t.false(t_.stunVerifyIntegrity(b, PASSWORD));
  t.false(t_.stunVerifyFingerprint(b));
});

// ---------------------------------------------------------------------------------------------
// RFC 5389 §15.4 / §15.5 placement rules.

test('attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored and not covered', (t) => {
  const req = t_.stunBuildRequest(TXID, 'remote:local', KEY, 1234, true, 5n, false);
  const fp = findAttr(req, 0x8028).off;
  const mi = findAttr(req, 0x0008).off;
  // Insert USE-CANDIDATE, a second PRIORITY, ICE-CONTROLLED and USERNAME between
  // MESSAGE-INTEGRITY and FINGERPRINT.
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(0xffffffff);
  const tampered = addFingerprint(
    Buffer.concat([
      req.subarray(0, fp),
      attr(0x0025, []),
      attr(0x0024, prio),
      attr(0x8029, Buffer.alloc(8, 0xee)),
      attr(0x0006, 'attacker:x'),
    ]),
  );
  const m = t_.stunParse(tampered);
  t.truthy(m);
  t.false(m.useCandidate);
  t.is(m.priority, 1234);
  t.false(m.iceControlled);
  t.is(m.tieBreaker, 5n);
  t.is(m.username, 'remote:local');
  t.is(m.integrityOffset, mi);
  t.is(m.fingerprintOffset, tampered.length - 8);
  t.true(t_.stunVerifyIntegrity(tampered, KEY), 'integrity covers only up to itself');
  t.true(t_.stunVerifyFingerprint(tampered));
  // The same USE-CANDIDATE before MESSAGE-INTEGRITY counts.
  t.true(t_.stunParse(t_.stunBuildRequest(TXID, 'remote:local', KEY, 1234, true, 5n, true)).useCandidate);
});

test('FINGERPRINT must be last, and known attributes must have their sizes', (t) => {
  const ok = t_.stunBuildSuccess(TXID, '192.0.2.1', 1000, KEY);
  t.truthy(t_.stunParse(ok));
  const after = Buffer.concat([ok, attr(0x8022, 'software')]);
  after.writeUInt16BE(after.length - 20, 2);
  t.is(t_.stunParse(after), null, 'an attribute after FINGERPRINT');
  t.is(t_.stunParse(addFingerprint(ok)), null, 'two FINGERPRINTs');
  const sizes = [
    [0x0008, 19], [0x0008, 21], [0x8028, 3], [0x8028, 8], [0x0024, 3], [0x0024, 8],
    [0x0025, 4], [0x802a, 4], [0x8029, 12], [0x0020, 7], [0x0020, 9], [0x0020, 3],
  ];
  for (const [type, len] of sizes) {
    const body = Buffer.alloc(len);
    if (type === 0x0020) body[1] = len === 9 ? 1 : 2;
    t.is(t_.stunParse(message(0x0001, TXID, attr(type, body))), null, `type ${type.toString(16)} len ${len}`);
  }
  // XOR-MAPPED-ADDRESS with an unknown family, or the wrong length for its family.
  const xma = (family, len) => {
    const v = Buffer.alloc(len);
    v[1] = family;
    return message(0x0101, TXID, attr(0x0020, v));
  };
  t.truthy(t_.stunParse(xma(1, 8)));
  t.truthy(t_.stunParse(xma(2, 20)));
  t.is(t_.stunParse(xma(3, 8)), null);
  t.is(t_.stunParse(xma(1, 20)), null);
  t.is(t_.stunParse(xma(2, 8)), null);
  // ERROR-CODE classes outside 3..6 and numbers over 99.
  const ec = (cls, num) => message(0x0111, TXID, attr(0x0009, [0, 0, cls, num]));
  t.is(t_.stunParse(ec(4, 87)).errorCode, 487);
  t.is(t_.stunParse(ec(6, 99)).errorCode, 699);
  t.is(t_.stunParse(ec(2, 0)), null);
  t.is(t_.stunParse(ec(7, 0)), null);
  t.is(t_.stunParse(ec(4, 100)), null);
  t.is(t_.stunParse(message(0x0111, TXID, attr(0x0009, [0, 0, 4]))), null, 'ERROR-CODE shorter than 4');
  // The first of duplicated attributes wins.
  const p1 = Buffer.alloc(4);
  p1.writeUInt32BE(1);
  const p2 = Buffer.alloc(4);
  p2.writeUInt32BE(2);
  const dup = t_.stunParse(message(0x0001, TXID, attr(0x0006, 'first'), attr(0x0024, p1), attr(0x0006, 'second'), attr(0x0024, p2)));
  t.is(dup.username, 'first');
  t.is(dup.priority, 1);
  // Unknown attributes (comprehension-required or not) are skipped.
  const unk = t_.stunParse(message(0x0001, TXID, attr(0x7777, 'xyz'), attr(0xc001, Buffer.alloc(9)), attr(0x0006, 'u')));
  t.is(unk.username, 'u');
});

// ---------------------------------------------------------------------------------------------
// Builders.

function checkBuilt(t, buf, key, label) {
  t.truthy(buf, label);
  t.true(t_.stunLooksLike(buf), `${label}: looks like STUN`);
  t.is(buf.length % 4, 0);
  t.true(jsIntegrityOk(buf, key), `${label}: reference HMAC`);
  t.true(jsFingerprintOk(buf), `${label}: reference CRC`);
  t.true(t_.stunVerifyIntegrity(buf, key), `${label}: integrity`);
  t.false(t_.stunVerifyIntegrity(buf, `${key}x`), `${label}: integrity, wrong key`);
  t.true(t_.stunVerifyFingerprint(buf), `${label}: fingerprint`);
  const m = t_.stunParse(buf);
  t.deepEqual(m.transactionId, TXID);
  t.true(m.hasIntegrity);
  t.true(m.hasFingerprint);
  t.is(m.integrityOffset, buf.length - 32);
  t.is(m.fingerprintOffset, buf.length - 8);
  return m;
}

test('BuildStunBindingSuccess round-trips IPv4 and IPv6 mapped addresses', (t) => {
  const cases = [
    ['192.0.2.1', 32853, 'IPv4', '192.0.2.1'],
    ['203.0.113.77', 1, 'IPv4', '203.0.113.77'],
    ['255.255.255.255', 65535, 'IPv4', '255.255.255.255'],
    ['0.0.0.0', 0, 'IPv4', '0.0.0.0'],
    ['2001:db8:1234:5678:11:2233:4455:6677', 32853, 'IPv6', '2001:db8:1234:5678:11:2233:4455:6677'],
    ['2001:db8::1', 443, 'IPv6', '2001:db8::1'],
    ['fe80::1:2:3:4', 9, 'IPv6', 'fe80::1:2:3:4'],
    ['::ffff:192.0.2.7', 3478, 'IPv4', '192.0.2.7'], // IPv4-mapped: written as IPv4
  ];
  for (const [ip, port, family, address] of cases) {
    const b = t_.stunBuildSuccess(TXID, ip, port, KEY);
    const m = checkBuilt(t, b, KEY, `${ip}:${port}`);
    t.is(m.type, 0x0101);
    t.deepEqual(m.mapped, { family, port, address });
    t.is(b.length, family === 'IPv4' ? 20 + 12 + 24 + 8 : 20 + 24 + 24 + 8);
    // XOR on the wire: the port is XORed with the cookie's top half.
    t.is(b.readUInt16BE(26) ^ 0x2112, port);
  }
  // The RFC 5769 §2.2/§2.3 XOR-MAPPED-ADDRESS attributes come out byte for byte.
  const v4 = t_.stunBuildSuccess(TXID_5769, '192.0.2.1', 32853, PASSWORD);
  t.deepEqual(v4.subarray(20, 32), SAMPLE_IPV4_RESPONSE.subarray(36, 48));
  const v6 = t_.stunBuildSuccess(TXID_5769, '2001:db8:1234:5678:11:2233:4455:6677', 32853, PASSWORD);
  t.deepEqual(v6.subarray(20, 44), SAMPLE_IPV6_RESPONSE.subarray(36, 60));
});

test('BuildStunBindingError carries the code and reason', (t) => {
  const b = t_.stunBuildError(TXID, 487, 'Role Conflict', KEY);
  const m = checkBuilt(t, b, KEY, '487');
  t.is(m.type, 0x0111);
  t.is(m.errorCode, 487);
  const ec = findAttr(b, 0x0009);
  t.is(ec.len, 4 + 'Role Conflict'.length);
  t.deepEqual([...b.subarray(ec.off + 4, ec.off + 8)], [0, 0, 4, 87]);
  t.is(b.subarray(ec.off + 8, ec.off + 8 + 13).toString(), 'Role Conflict');
  t.is(t_.stunParse(t_.stunBuildError(TXID, 400, 'Bad Request', KEY)).errorCode, 400);
  t.is(t_.stunParse(t_.stunBuildError(TXID, 699, '', KEY)).errorCode, 699);
  t.is(t_.stunParse(t_.stunBuildError(TXID, 300, 'Try Alternate', KEY)).errorCode, 300);
  t.is(t_.stunBuildError(TXID, 299, 'x', KEY), null);
  t.is(t_.stunBuildError(TXID, 700, 'x', KEY), null);
  t.is(t_.stunBuildError(TXID, 0, 'x', KEY), null);
  t.truthy(t_.stunBuildError(TXID, 500, 'r'.repeat(763), KEY));
  t.is(t_.stunBuildError(TXID, 500, 'r'.repeat(764), KEY), null);
  // Without a key (400/401 to unauthenticated requests): no MESSAGE-INTEGRITY, still FINGERPRINT.
  const nokey = t_.stunBuildError(TXID, 401, 'Unauthorized', '');
  const n = t_.stunParse(nokey);
  t.false(n.hasIntegrity);
  t.true(n.hasFingerprint);
  t.true(t_.stunVerifyFingerprint(nokey));
  t.true(jsFingerprintOk(nokey));
  t.false(t_.stunVerifyIntegrity(nokey, KEY));
});

test('BuildStunBindingRequest carries USERNAME, PRIORITY, the role and USE-CANDIDATE', (t) => {
  const a = t_.stunBuildRequest(TXID, 'remoteUfrag:localUfrag', KEY, 0x6e0001ff, true, 0xfedcba9876543210n, true);
  const ma = checkBuilt(t, a, KEY, 'controlling');
  t.is(ma.type, 0x0001);
  t.is(ma.username, 'remoteUfrag:localUfrag');
  t.is(ma.priority, 0x6e0001ff);
  t.true(ma.iceControlling);
  t.false(ma.iceControlled);
  t.is(ma.tieBreaker, 0xfedcba9876543210n);
  t.true(ma.useCandidate);

  const b = t_.stunBuildRequest(TXID, 'u:v', KEY, 0xffffffff, false, 0xffffffffffffffffn, false);
  const mb = checkBuilt(t, b, KEY, 'controlled');
  t.is(mb.username, 'u:v');
  t.is(mb.priority, 0xffffffff);
  t.false(mb.iceControlling);
  t.true(mb.iceControlled);
  t.is(mb.tieBreaker, 0xffffffffffffffffn);
  t.false(mb.useCandidate);

  // The same inputs give the same bytes; a different key gives a different MAC only.
  t.deepEqual(t_.stunBuildRequest(TXID, 'u:v', KEY, 0xffffffff, false, 0xffffffffffffffffn, false), b);
  const other = t_.stunBuildRequest(TXID, 'u:v', 'another-password-here!', 0xffffffff, false, 0xffffffffffffffffn, false);
  t.deepEqual(other.subarray(0, other.length - 28), b.subarray(0, b.length - 28));
  t.notDeepEqual(other, b);

  // USERNAME bounds: up to 513 bytes (RFC 5389 §15.3 says "less than 513"; one byte of slack).
  const u513 = t_.stunBuildRequest(TXID, 'x'.repeat(513), KEY, 1, true, 1n, false);
  t.is(t_.stunParse(u513).usernameLength, 513);
  t.is(t_.stunBuildRequest(TXID, 'x'.repeat(514), KEY, 1, true, 1n, false), null);
  // An empty username leaves USERNAME out.
  const nouser = t_.stunBuildRequest(TXID, '', KEY, 1, true, 1n, false);
  t.is(t_.stunParse(nouser).username, null);
  t.true(t_.stunVerifyIntegrity(nouser, KEY));
});

test('builders return 0 (null here) for every cap short of the message, and never write past cap', (t) => {
  const builds = [
    (cap) => t_.stunBuildSuccess(TXID, '192.0.2.1', 1, KEY, cap),
    (cap) => t_.stunBuildSuccess(TXID, '2001:db8::1', 1, KEY, cap),
    (cap) => t_.stunBuildError(TXID, 487, 'Role Conflict', KEY, cap),
    (cap) => t_.stunBuildError(TXID, 401, 'Unauthorized', '', cap),
    (cap) => t_.stunBuildRequest(TXID, 'abcd:efgh', KEY, 7, true, 9n, true, cap),
    (cap) => t_.stunBuildRequest(TXID, 'abcd:efgh', KEY, 7, false, 9n, false, cap),
  ];
  for (const build of builds) {
    const full = build(undefined);
    t.truthy(full);
    // The test hook throws if a builder writes past cap (it checks a canary after the window).
    for (let cap = 0; cap < full.length; cap++) t.is(build(cap), null, `cap ${cap} of ${full.length}`);
    t.deepEqual(build(full.length), full);
    t.deepEqual(build(full.length + 3), full);
  }
});

test('test hooks throw TypeError on bad argument types', (t) => {
  const te = { instanceOf: TypeError };
  t.throws(() => t_.stunParse('not a buffer'), te);
  t.throws(() => t_.stunParse(), te);
  t.throws(() => t_.stunLooksLike(42), te);
  t.throws(() => t_.stunVerifyIntegrity(SAMPLE_REQUEST, 42), te);
  t.throws(() => t_.stunVerifyFingerprint(null), te);
  t.throws(() => t_.stunBuildSuccess(Buffer.alloc(11), '192.0.2.1', 1, KEY), te);
  t.throws(() => t_.stunBuildSuccess(TXID, 'not-an-ip', 1, KEY), te);
  t.throws(() => t_.stunBuildSuccess(TXID, '192.0.2.1', '1', KEY), te);
  t.throws(() => t_.stunBuildSuccess(TXID, '192.0.2.1', 70000, KEY), { instanceOf: RangeError });
  t.throws(() => t_.stunBuildError(TXID, '487', 'x', KEY), te);
  t.throws(() => t_.stunBuildRequest(TXID, 'u', KEY, 1, true, 1, false), te);
  t.throws(() => t_.stunBuildRequest(TXID, 'u', KEY, 1, true, 1n << 64n, false), { instanceOf: RangeError });
  // Uint8Array is as good as a Buffer.
  t.true(t_.stunVerifyFingerprint(new Uint8Array(SAMPLE_REQUEST)));
});

// ---------------------------------------------------------------------------------------------
// Hostile input.

test('every truncation of the vectors is rejected', (t) => {
  for (const v of [...VECTORS.map(([, b]) => b), SAMPLE_LONG_TERM_REQUEST]) {
    for (let k = 0; k < v.length; k++) {
      const b = Buffer.from(v.subarray(0, k));
      t.is(t_.stunParse(b), null);
      t.false(t_.stunVerifyIntegrity(b, PASSWORD));
      t.false(t_.stunVerifyFingerprint(b));
    }
  }
});

test('truncations with the header length patched to match parse only at attribute boundaries', (t) => {
  const v = SAMPLE_REQUEST;
  const boundaries = new Set([20, ...attrs(v).map((a) => a.off + 4 + ((a.len + 3) & ~3))]);
  t.deepEqual([...boundaries], [20, 40, 48, 60, 76, 100, 108]);
  for (let k = 20; k <= v.length; k++) {
    const b = Buffer.from(v.subarray(0, k));
    b.writeUInt16BE(k - 20, 2);
    const m = t_.stunParse(b);
    if (!boundaries.has(k)) {
      t.is(m, null, `cut at ${k}`);
      continue;
    }
    t.truthy(m, `cut at ${k}`);
    t.is(m.hasIntegrity, k >= 100);
    t.is(m.hasFingerprint, k === 108);
    // Cut right after MESSAGE-INTEGRITY: integrity (whose length ends there anyway) still checks.
    t.is(t_.stunVerifyIntegrity(b, PASSWORD), k >= 100);
    t.is(t_.stunVerifyFingerprint(b), k === 108);
  }
});

test('attribute lengths that overrun the message are rejected', (t) => {
  for (const v of [...VECTORS.map(([, b]) => b), SAMPLE_LONG_TERM_REQUEST]) {
    for (const a of attrs(v)) {
      const room = v.length - a.off - 4; // bytes available for this attribute's value
      const lens = [room + 1, room + 2, room + 3, room + 4, room + 100, 0xfffc, 0xffff];
      for (const len of lens) {
        if (len > 0xffff) continue;
        const b = Buffer.from(v);
        b.writeUInt16BE(len, a.off + 2);
        t.is(t_.stunParse(b), null, `attr at ${a.off} len ${len}`);
        t.false(t_.stunVerifyIntegrity(b, PASSWORD));
        t.false(t_.stunVerifyFingerprint(b));
      }
    }
  }
  // A lone attribute header with no room for its value.
  t.is(t_.stunParse(message(0x0001, TXID, Buffer.from([0x00, 0x06, 0x00, 0x04]))), null);
  // Fewer than 4 bytes left for an attribute header cannot occur with a length that is a multiple
  // of 4; a header-only attribute with length 0 is fine.
  t.truthy(t_.stunParse(message(0x0001, TXID, Buffer.from([0x80, 0x22, 0x00, 0x00]))));
});

test('oversized USERNAME is rejected; large messages up to 64 KiB are walked', (t) => {
  t.is(t_.stunParse(message(0x0001, TXID, attr(0x0006, 'u'.repeat(513)))).usernameLength, 513);
  for (const n of [514, 600, 4096, 65000]) {
    t.is(t_.stunParse(message(0x0001, TXID, attr(0x0006, 'u'.repeat(n)))), null, `username ${n}`);
  }
  // A username attribute claiming 0xffff bytes in a small message.
  const huge = message(0x0001, TXID, attr(0x0006, 'abcd'));
  huge.writeUInt16BE(0xffff, 22);
  t.is(t_.stunParse(huge), null);
  // The largest message the 16-bit length allows: a 65528-byte SOFTWARE then a FINGERPRINT.
  const big = addFingerprint(message(0x0001, TXID, attr(0x8022, Buffer.alloc(0xfffc - 12, 0x61))));
  t.is(big.length, 20 + 0xfffc);
  const m = t_.stunParse(big);
  t.truthy(m);
  t.is(m.fingerprintOffset, big.length - 8);
  t.true(t_.stunVerifyFingerprint(big));
  // One more byte and the header length can no longer describe it.
  t.false(t_.stunLooksLike(Buffer.concat([big, Buffer.alloc(4)])));
});

test('seeded random buffers never crash and never verify', (t) => {
  const r = rng(0x5eed);
  const types = [0x0006, 0x0008, 0x0009, 0x0020, 0x0024, 0x0025, 0x8028, 0x8029, 0x802a, 0x8022, 0x7fff];
  const sizes = { 0x0008: 20, 0x0009: 4, 0x0020: 8, 0x0024: 4, 0x0025: 0, 0x8028: 4, 0x8029: 8, 0x802a: 8 };
  let parsed = 0;
  let withIntegrity = 0;
  for (let i = 0; i < 6000; i++) {
    let b;
    const kind = i % 3;
    if (kind === 0) {
      // Pure noise.
      b = randBytes(r, randInt(r, 200));
    } else if (kind === 1) {
      // A plausible header over noise, so the attribute walk runs.
      b = randBytes(r, 20 + 4 * randInt(r, 40));
      b[0] = randInt(r, 4);
      b.writeUInt32BE(0x2112a442, 4);
      b.writeUInt16BE(b.length - 20, 2);
    } else {
      // Well-framed attributes of the interesting types, usually with the right sizes.
      const parts = [];
      for (let n = randInt(r, 8); n > 0; n--) {
        const type = types[randInt(r, types.length)];
        let len = type in sizes && r() < 0.8 ? sizes[type] : randInt(r, 40);
        if (type === 0x0020 && r() < 0.8) len = r() < 0.5 ? 8 : 20;
        const v = randBytes(r, len);
        if (type === 0x0020 && v.length >= 2) v[1] = len === 8 ? 1 : 2;
        if (type === 0x0009 && v.length >= 4) v[2] = 3 + randInt(r, 4);
        if (type === 0x0009 && v.length >= 4) v[3] = randInt(r, 100);
        parts.push(attr(type, v));
      }
      b = message(randInt(r, 0x400), randBytes(r, 12), ...parts);
    }
    const m = t_.stunParse(b);
    t.true(m === null || typeof m === 'object');
    if (m !== null) {
      parsed++;
      if (m.hasIntegrity) withIntegrity++;
      t.true(m.usernameLength <= 513);
    }
    t.false(t_.stunVerifyIntegrity(b, PASSWORD));
    t.false(t_.stunVerifyFingerprint(b));
  }
  // The structured third must have reached the deep paths.
  t.true(parsed > 1000, `parsed ${parsed}`);
  t.true(withIntegrity > 100, `with integrity ${withIntegrity}`);
});

test('seeded random mutations of valid messages never crash and never verify', (t) => {
  const r = rng(42);
  const seeds = [
    ...VECTORS.map(([, b]) => b),
    t_.stunBuildRequest(TXID, 'remote:local', KEY, 99, true, 7n, true),
    t_.stunBuildError(TXID, 487, 'Role Conflict', KEY),
    t_.stunBuildSuccess(TXID, '2001:db8::1', 5000, KEY),
  ];
  for (let i = 0; i < 3000; i++) {
    const src = seeds[i % seeds.length];
    const key = i % seeds.length < 3 ? PASSWORD : KEY;
    const b = Buffer.from(src);
    let changed = false;
    for (let n = 1 + randInt(r, 4); n > 0; n--) {
      const at = randInt(r, b.length);
      const val = randInt(r, 256);
      if (b[at] !== val) changed = true;
      b[at] = val;
    }
    const m = t_.stunParse(b);
    t.true(m === null || typeof m === 'object');
    if (changed) t.false(t_.stunVerifyFingerprint(b), `mutation ${i}`);
    // Integrity holds only if every change fell in the FINGERPRINT attribute.
    if (t_.stunVerifyIntegrity(b, key)) t.true(b.subarray(0, b.length - 8).equals(src.subarray(0, src.length - 8)));
  }
});
