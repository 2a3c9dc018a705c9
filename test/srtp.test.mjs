// SRTP/SRTCP (native/srtp/) against published test vectors, plus ROC, replay and parsing
// behaviour. Vector sources:
//   - RFC 3711 Appendix B.2 (AES-CM keystream) and B.3 (key derivation).
//   - libSRTP test/srtp_driver.c srtp_validate(): AES_CM_128_HMAC_SHA1_80 SRTP and SRTCP
//     reference packets (master key/salt = the RFC 3711 B.3 ones, SSRC 0xcafebabe).
//   - RFC 7714 section 16.1 (SRTP) and 17.1 / 17.3 (SRTCP) AEAD_AES_128_GCM vectors.
import test from 'ava';
import { native } from '../dist/native.js';

const t_ = native._test;
const { profiles, errors, maxTrailer } = t_.srtpConstants;
const CM = profiles.aesCm128HmacSha1_80;
const GCM = profiles.aeadAes128Gcm;

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Builds an RTP packet: V=2, optional CSRCs and a one-byte-header extension.
function rtp({ seq, ssrc = 0x11223344, ts = 0x01020304, pt = 96, payload = Buffer.alloc(20, 0x5a),
  csrcs = [], ext = null, marker = false }) {
  const head = Buffer.alloc(12 + 4 * csrcs.length);
  head[0] = 0x80 | (ext ? 0x10 : 0) | csrcs.length;
  head[1] = (marker ? 0x80 : 0) | pt;
  head.writeUInt16BE(seq & 0xffff, 2);
  head.writeUInt32BE(ts >>> 0, 4);
  head.writeUInt32BE(ssrc >>> 0, 8);
  csrcs.forEach((c, i) => head.writeUInt32BE(c >>> 0, 12 + 4 * i));
  const parts = [head];
  if (ext) {
    const e = Buffer.alloc(4);
    e.writeUInt16BE(0xbede, 0);
    e.writeUInt16BE(ext.length / 4, 2);
    parts.push(e, ext);
  }
  parts.push(payload);
  return Buffer.concat(parts);
}

// A receiver report (PT 201) with one report block, from `ssrc`.
function rtcpRr(ssrc = 0x55667788, fill = 0x33) {
  const b = Buffer.alloc(32, fill);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  return b;
}

const MASTER_KEY = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
const MASTER_SALT_CM = hex('0EC675AD498AFEEBB6960B3AABE6');
const MASTER_SALT_GCM = hex('0EC675AD498AFEEBB6960B3A');

function pair(profile) {
  const salt = profile === GCM ? MASTER_SALT_GCM : MASTER_SALT_CM;
  return [t_.srtpSession(profile, MASTER_KEY, salt), t_.srtpSession(profile, MASTER_KEY, salt)];
}

const BOTH = [['AES_CM_128_HMAC_SHA1_80', CM, 10], ['AEAD_AES_128_GCM', GCM, 16]];

// ---------------------------------------------------------------------------------------------
// Published vectors

test('RFC 3711 B.3: key derivation gives the published cipher key, cipher salt and auth key', (t) => {
  t.is(t_.srtpDeriveKey(MASTER_KEY, MASTER_SALT_CM, 0, 16).toString('hex'),
    'c61e7a93744f39ee10734afe3ff7a087');
  t.is(t_.srtpDeriveKey(MASTER_KEY, MASTER_SALT_CM, 2, 14).toString('hex'),
    '30cbbc08863d8c85d49db34a9ae1');
  // B.3 prints a 94-octet auth key; SHA1-80 uses its first 20 octets.
  t.deepEqual(t_.srtpDeriveKey(MASTER_KEY, MASTER_SALT_CM, 1, 94), hex(`
    CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
    E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
    6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2`));
  // Labels differ, so outputs differ.
  t.notDeepEqual(t_.srtpDeriveKey(MASTER_KEY, MASTER_SALT_CM, 3, 16),
    t_.srtpDeriveKey(MASTER_KEY, MASTER_SALT_CM, 0, 16));
});

test('KDF with a 12-byte GCM master salt uses salt * 2^16 (RFC 7714 errata 4938)', (t) => {
  // The 12-byte salt padded with two zero bytes must derive the same as the 14-byte form.
  const padded = Buffer.concat([MASTER_SALT_GCM, Buffer.alloc(2)]);
  for (const label of [0, 2, 3, 5]) {
    t.deepEqual(t_.srtpDeriveKey(MASTER_KEY, MASTER_SALT_GCM, label, 16),
      t_.srtpDeriveKey(MASTER_KEY, padded, label, 16));
  }
});

test('RFC 3711 B.2: AES-CM keystream through ProtectRtp (SSRC 0, ROC 0, SEQ 0)', (t) => {
  const s = t_.srtpSessionFromSessionKeys(CM, hex('2B7E151628AED2A6ABF7158809CF4F3C'),
    hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), Buffer.alloc(20));
  // Keystream segment length 1044512 octets (65282 AES blocks): encrypt that many zeros.
  const pkt = rtp({ seq: 0, ssrc: 0, ts: 0, payload: Buffer.alloc(1044512) });
  const out = s.protectRtp(pkt);
  t.true(Buffer.isBuffer(out));
  const ks = out.subarray(12, 12 + 1044512);
  t.is(ks.subarray(0, 48).toString('hex').toUpperCase(),
    'E03EAD0935C95E80E166B16DD92B4EB4' +
    'D23513162B02D0F72A43A2FE4A5F97AB' +
    '41E95B3BB0A2E8DD477901E4FCA894C0');
  t.is(ks.subarray(ks.length - 48).toString('hex').toUpperCase(),
    'EC8CDF7398607CB0F2D21675EA9EA1E4' +
    '362B7C3C6773516318A077D7FC5073AE' +
    '6A2CC3787889374FBEB4C81B17BA6C44');
});

const LIBSRTP_RTP_PLAIN = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16));
const LIBSRTP_SRTP = hex(`800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402
  b78d6acc99ea179b8dbb`);
const LIBSRTP_RTCP_PLAIN = hex('81c8000bcafebabe' + 'ab'.repeat(16));
const LIBSRTP_SRTCP = hex(`81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8
  80000001 993e08cd54d6c1230798`);

test('AES_CM_128_HMAC_SHA1_80 SRTP reference packet (libSRTP srtp_driver)', (t) => {
  const [tx, rx] = pair(CM);
  t.deepEqual(tx.protectRtp(LIBSRTP_RTP_PLAIN), LIBSRTP_SRTP);
  t.deepEqual(rx.unprotectRtp(LIBSRTP_SRTP), LIBSRTP_RTP_PLAIN);
});

test('AES_CM_128_HMAC_SHA1_80 SRTCP reference packet (libSRTP srtp_driver, SRTCP index 1)', (t) => {
  const [tx, rx] = pair(CM);
  // Our first SRTCP index is 0 (RFC 3711 3.3.2); the reference packet carries index 1.
  const first = tx.protectRtcp(LIBSRTP_RTCP_PLAIN);
  t.is(first.readUInt32BE(LIBSRTP_RTCP_PLAIN.length), 0x80000000);
  t.deepEqual(tx.protectRtcp(LIBSRTP_RTCP_PLAIN), LIBSRTP_SRTCP);
  t.deepEqual(rx.unprotectRtcp(LIBSRTP_SRTCP), LIBSRTP_RTCP_PLAIN);
});

const GCM_KEY = hex('000102030405060708090a0b0c0d0e0f');
const GCM_SALT = hex('517569642070726f2071756f'); // "Quid pro quo"
const GCM_RTP_PLAIN = hex(`8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e6973
  2064697669736120696e207061727465732074726573`);
const GCM_SRTP = hex(`8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bca
  be633bd50d294e6f42a5f47a51c7d19b36de3adf8833 899d7f27beb16a9152cf765ee4390cce`);
const GCM_RTCP_PLAIN = hex(`81c8000d4d617273 4e5450314e545032 525450200000042a 0000e9304c756e61
  deadbeefdeadbeefdeadbeefdeadbeefdeadbeef`);
const GCM_SRTCP = hex(`81c8000d4d617273 63e94885dcdab67ca727d7662f6b7e99 7ff5c0f76c06f32dc676a5f1730d6fda
  4ce09b4686303ded0bb9275b c84aa45896cf4d2fc5abf87245d9eade 800005d4`);
const GCM_SRTCP_TAG_ONLY = Buffer.concat([GCM_RTCP_PLAIN, hex('841dd9683dd78ec92ae58790125f62b3 000005d4')]);

const gcmSession = () => t_.srtpSessionFromSessionKeys(GCM, GCM_KEY, GCM_SALT);

test('RFC 7714 16.1: AEAD_AES_128_GCM SRTP protect and unprotect', (t) => {
  t.deepEqual(gcmSession().protectRtp(GCM_RTP_PLAIN), GCM_SRTP);
  t.deepEqual(gcmSession().unprotectRtp(GCM_SRTP), GCM_RTP_PLAIN);
});

test('RFC 7714 17.1: AEAD_AES_128_GCM SRTCP protect (index 0x5d4) and unprotect', (t) => {
  const tx = gcmSession();
  for (let i = 0; i < 0x5d4; i++) tx.protectRtcp(GCM_RTCP_PLAIN);
  t.deepEqual(tx.protectRtcp(GCM_RTCP_PLAIN), GCM_SRTCP);
  t.deepEqual(gcmSession().unprotectRtcp(GCM_SRTCP), GCM_RTCP_PLAIN);
});

test('RFC 7714 17.3: authenticated-only SRTCP (E=0) verifies; tampering fails', (t) => {
  const rx = gcmSession();
  t.deepEqual(rx.unprotectRtcp(GCM_SRTCP_TAG_ONLY), GCM_RTCP_PLAIN);
  const bad = Buffer.from(GCM_SRTCP_TAG_ONLY);
  bad[20] ^= 1;
  t.is(gcmSession().unprotectRtcp(bad), errors.authFail);
});

test('published vectors: any single flipped bit fails authentication', (t) => {
  for (const [mk, pkt, op] of [
    [() => pair(CM)[1], LIBSRTP_SRTP, 'unprotectRtp'],
    [() => pair(CM)[1], LIBSRTP_SRTCP, 'unprotectRtcp'],
    [gcmSession, GCM_SRTP, 'unprotectRtp'],
    [gcmSession, GCM_SRTCP, 'unprotectRtcp'],
  ]) {
    for (let i = 0; i < pkt.length; i++) {
      const bad = Buffer.from(pkt);
      bad[i] ^= 0x01;
      // Header, payload, SRTCP index and tag are all authenticated (the low bit never touches
      // the version field, so nothing here is merely malformed).
      t.is(mk()[op](bad), errors.authFail, `${op} byte ${i}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Behaviour, both profiles

for (const [name, profile, tagLen] of BOTH) {
  test(`${name}: round trip with CSRCs and a header extension; header stays clear`, (t) => {
    const [tx, rx] = pair(profile);
    const pkt = rtp({ seq: 1000, csrcs: [1, 2], ext: hex('10aa0000 22bbcc00'), payload: Buffer.from('hello, viewers') });
    const hdrLen = 12 + 8 + 4 + 8;
    const out = tx.protectRtp(pkt);
    t.is(out.length, pkt.length + tagLen);
    t.deepEqual(out.subarray(0, hdrLen), pkt.subarray(0, hdrLen));
    t.notDeepEqual(out.subarray(hdrLen, pkt.length), pkt.subarray(hdrLen));
    t.deepEqual(rx.unprotectRtp(out), pkt);
    // Empty payload is fine too.
    const empty = rtp({ seq: 1001, payload: Buffer.alloc(0) });
    t.deepEqual(rx.unprotectRtp(tx.protectRtp(empty)), empty);
  });

  test(`${name}: tampered payload, header extension or tag fails; window is not advanced`, (t) => {
    const [tx, rx] = pair(profile);
    const pkt = rtp({ seq: 7, ext: hex('10aa0000') });
    const prev = rtp({ seq: 6, ext: hex('10aa0000') });
    t.deepEqual(rx.unprotectRtp(tx.protectRtp(prev)), prev); // the receiver now tracks this SSRC
    const out = tx.protectRtp(pkt);
    for (const pos of [out.length - 1, 12 + 5, 30]) {
      const bad = Buffer.from(out);
      bad[pos] ^= 0x80;
      t.is(rx.unprotectRtp(bad), errors.authFail);
    }
    t.is(rx.stats().authFailures, 3);
    // Failed packets did not mark seq 7 as seen.
    t.deepEqual(rx.unprotectRtp(out), pkt);
  });

  test(`${name}: replayed packet is rejected and counted`, (t) => {
    const [tx, rx] = pair(profile);
    const a = tx.protectRtp(rtp({ seq: 50 }));
    const b = tx.protectRtp(rtp({ seq: 51 }));
    t.true(Buffer.isBuffer(rx.unprotectRtp(b)));
    t.true(Buffer.isBuffer(rx.unprotectRtp(a))); // late but new: accepted
    t.is(rx.unprotectRtp(a), errors.replay);
    t.is(rx.unprotectRtp(b), errors.replay);
    t.is(rx.stats().replays, 2);
  });

  test(`${name}: sequence wrap 65535 -> 0 bumps the ROC on both sides`, (t) => {
    const [tx, rx] = pair(profile);
    const seqs = [65533, 65534, 65535, 0, 1, 2];
    const sent = new Map(seqs.map((seq) => [seq, tx.protectRtp(rtp({ seq, payload: Buffer.alloc(24, seq & 0xff) }))]));
    for (const seq of [65533, 65535, 0, 1, 65534, 2]) { // 65534 arrives late, after the wrap
      t.deepEqual(rx.unprotectRtp(sent.get(seq)), rtp({ seq, payload: Buffer.alloc(24, seq & 0xff) }), `seq ${seq}`);
    }
    // The post-wrap packet used ROC 1: a fresh sender (ROC 0) produces different bytes for seq 0,
    // and a fresh receiver (which guesses ROC 0) cannot authenticate the ROC-1 packet.
    // Compare the encrypted payloads only (not the tag): the keystream itself must depend on ROC.
    const [fresh, freshRx] = pair(profile);
    const roc0 = fresh.protectRtp(rtp({ seq: 0, payload: Buffer.alloc(24, 0) }));
    t.notDeepEqual(roc0.subarray(12, 36), sent.get(0).subarray(12, 36));
    t.is(freshRx.unprotectRtp(sent.get(0)), errors.authFail);
    // Re-protecting 65534 after the wrap (a retransmission) keeps its ROC 0 keystream.
    t.deepEqual(tx.protectRtp(rtp({ seq: 65534, payload: Buffer.alloc(24, 65534 & 0xff) })), sent.get(65534));
  });

  test(`${name}: packets far behind the replay window are rejected, recent ones accepted`, (t) => {
    const [tx, rx] = pair(profile);
    const pkts = new Map();
    for (const seq of [10, 20, 600, 1500]) pkts.set(seq, tx.protectRtp(rtp({ seq })));
    t.true(Buffer.isBuffer(rx.unprotectRtp(pkts.get(10))));
    t.true(Buffer.isBuffer(rx.unprotectRtp(pkts.get(1500))));
    t.is(rx.unprotectRtp(pkts.get(20)), errors.replay); // 1480 behind: outside the window
    t.true(Buffer.isBuffer(rx.unprotectRtp(pkts.get(600)))); // 900 behind: inside, unseen
    t.is(rx.unprotectRtp(pkts.get(600)), errors.replay);
    t.is(rx.unprotectRtp(pkts.get(10)), errors.replay);
  });

  test(`${name}: reused cipher context leaks no keystream state between packets`, (t) => {
    const [tx] = pair(profile);
    const p1 = rtp({ seq: 1, payload: Buffer.alloc(13, 1) }); // odd lengths: partial AES blocks
    const p2 = rtp({ seq: 2, payload: Buffer.alloc(29, 2) });
    tx.protectRtp(p1);
    const twice = tx.protectRtp(p2);
    const [fresh] = pair(profile);
    t.deepEqual(fresh.protectRtp(p2), twice);
    const r1 = rtcpRr(9, 1);
    const r2 = rtcpRr(10, 2);
    tx.protectRtcp(r1);
    const [fresh2] = pair(profile);
    t.deepEqual(tx.protectRtcp(r2), fresh2.protectRtcp(r2));
  });

  test(`${name}: SRTCP round trip, index increments, replay and tamper rejected`, (t) => {
    const [tx, rx] = pair(profile);
    const trailer = profile === GCM ? 20 : 14;
    const idxAt = profile === GCM ? (b) => b.readUInt32BE(b.length - 4) : (b) => b.readUInt32BE(b.length - 14);
    const plain = [rtcpRr(0x1234, 1), rtcpRr(0x1234, 2), rtcpRr(0x1234, 3)];
    const prot = plain.map((p) => tx.protectRtcp(p));
    prot.forEach((b, i) => {
      t.is(b.length, plain[i].length + trailer);
      t.is(idxAt(b), (0x80000000 | i) >>> 0);
      t.deepEqual(b.subarray(0, 8), plain[i].subarray(0, 8));
      t.notDeepEqual(b.subarray(8, plain[i].length), plain[i].subarray(8));
    });
    t.deepEqual(rx.unprotectRtcp(prot[2]), plain[2]);
    t.deepEqual(rx.unprotectRtcp(prot[0]), plain[0]); // out of order within the window
    t.is(rx.unprotectRtcp(prot[2]), errors.replay);
    const bad = Buffer.from(prot[1]);
    bad[10] ^= 4;
    t.is(rx.unprotectRtcp(bad), errors.authFail);
    t.deepEqual(rx.unprotectRtcp(prot[1]), plain[1]);
    t.is(rx.unprotectRtcp(prot[1]), errors.replay);
    // Changing the SRTCP index (authenticated) fails.
    const moved = Buffer.from(prot[0]);
    moved[profile === GCM ? moved.length - 1 : moved.length - 11] ^= 0x10;
    t.is(rx.unprotectRtcp(moved), errors.authFail);
    t.deepEqual(rx.stats(), { authFailures: 2, replays: 2, malformed: 0 });
  });

  test(`${name}: malformed RTP/RTCP is rejected and counted`, (t) => {
    const [tx, rx] = pair(profile);
    const cases = [
      Buffer.alloc(0),
      Buffer.alloc(11, 0x80), // short header
      Buffer.concat([Buffer.from([0x40]), Buffer.alloc(30)]), // version 1
      (() => { const b = rtp({ seq: 1, payload: Buffer.alloc(8) }); b[0] = 0x8f; return b; })(), // 15 CSRCs don't fit
      (() => { const b = rtp({ seq: 1, ext: hex('10aa0000'), payload: Buffer.alloc(8) }); b.writeUInt16BE(200, 14); return b; })(), // ext too long
      (() => { const b = rtp({ seq: 1, payload: Buffer.alloc(0) }); b[0] = 0x90; return b; })(), // X set, no room for ext header
    ];
    for (const c of cases) t.is(tx.protectRtp(c), errors.malformed, c.toString('hex'));
    // Unprotect: too short to hold header + tag, or header reaching into the tag.
    t.is(rx.unprotectRtp(Buffer.alloc(12 + tagLen - 1, 0x80)), errors.malformed);
    const good = tx.protectRtp(rtp({ seq: 3, payload: Buffer.alloc(2) }));
    const csrcIntoTag = Buffer.from(good);
    csrcIntoTag[0] = 0x83; // 3 CSRCs = 12 bytes, but only 2 bytes precede the tag
    t.is(rx.unprotectRtp(csrcIntoTag), errors.malformed);
    t.is(tx.protectRtcp(Buffer.from([0x81, 0xc8, 0, 1, 0, 0, 0])), errors.malformed);
    t.is(tx.protectRtcp(Buffer.from([0x41, 0xc8, 0, 1, 0, 0, 0, 1])), errors.malformed);
    t.is(rx.unprotectRtcp(Buffer.alloc(8 + 4 + tagLen - 1, 0x80)), errors.malformed);
    t.is(tx.stats().malformed, cases.length + 2);
    t.is(rx.stats().malformed, 3);
  });

  test(`${name}: at most 64 SSRCs per context`, (t) => {
    const [tx, rx] = pair(profile);
    const prot = [];
    for (let i = 0; i < 65; i++) prot.push(tx.protectRtp(rtp({ seq: 1, ssrc: 1000 + i })));
    t.is(prot[64], errors.tooManySsrcs);
    for (let i = 0; i < 64; i++) t.true(Buffer.isBuffer(rx.unprotectRtp(prot[i])));
    // The 65th SSRC is refused by a receiver that already tracks 64 (before any crypto).
    const [tx2] = pair(profile);
    t.is(rx.unprotectRtp(tx2.protectRtp(rtp({ seq: 1, ssrc: 5000 }))), errors.tooManySsrcs);
    // Known SSRCs keep working.
    t.true(Buffer.isBuffer(rx.unprotectRtp(tx.protectRtp(rtp({ seq: 2, ssrc: 1000 })))));
    for (let i = 0; i < 64; i++) t.true(Buffer.isBuffer(tx.protectRtcp(rtcpRr(7000 + i))));
    t.is(tx.protectRtcp(rtcpRr(9999)), errors.tooManySsrcs);
  });

  test(`${name}: forged packets from unknown SSRCs do not use up SSRC slots`, (t) => {
    const [tx, rx] = pair(profile);
    for (let i = 0; i < 100; i++) {
      const forged = Buffer.concat([rtp({ seq: 1, ssrc: 20000 + i }), Buffer.alloc(tagLen)]);
      t.is(rx.unprotectRtp(forged), errors.authFail);
    }
    t.true(Buffer.isBuffer(rx.unprotectRtp(tx.protectRtp(rtp({ seq: 1, ssrc: 1 })))));
  });
}

test('sessions with different keys cannot read each other', (t) => {
  const tx = t_.srtpSession(CM, MASTER_KEY, MASTER_SALT_CM);
  const other = Buffer.from(MASTER_KEY);
  other[0] ^= 1;
  const rx = t_.srtpSession(CM, other, MASTER_SALT_CM);
  t.is(rx.unprotectRtp(tx.protectRtp(rtp({ seq: 1 }))), errors.authFail);
  const gtx = t_.srtpSession(GCM, MASTER_KEY, MASTER_SALT_GCM);
  const grx = t_.srtpSession(GCM, other, MASTER_SALT_GCM);
  t.is(grx.unprotectRtcp(gtx.protectRtcp(rtcpRr())), errors.authFail);
});

for (const [name, profile] of BOTH) {
  test(`${name}: the SRTCP send index never wraps (RFC 3711 §9.2): the last index is used once, then sending stops`, (t) => {
    const [tx, rx] = pair(profile);
    t.true(Buffer.isBuffer(tx.protectRtcp(rtcpRr())), 'a first packet creates the SSRC state');
    t.true(tx.setRtcpSendIndex(0x55667788, 0x7ffffffe));
    for (const want of [0x7ffffffe, 0x7fffffff]) {
      const p = tx.protectRtcp(rtcpRr());
      t.true(Buffer.isBuffer(p));
      t.is(p.readUInt32BE(p.length - (profile === GCM ? 4 : 14)) & 0x7fffffff, want, 'the E-flag word carries the index');
      t.true(Buffer.isBuffer(rx.unprotectRtcp(p)));
    }
    t.is(tx.protectRtcp(rtcpRr()), errors.indexExhausted, 'index 0 would repeat a keystream already used');
    t.is(tx.protectRtcp(rtcpRr()), errors.indexExhausted);
  });
}

test('the trailer never exceeds kSrtpMaxTrailer and bad arguments throw', (t) => {
  t.is(maxTrailer, 20);
  t.throws(() => t_.srtpSession(CM, Buffer.alloc(15), MASTER_SALT_CM), { instanceOf: TypeError });
  t.throws(() => t_.srtpSession(GCM, MASTER_KEY, MASTER_SALT_CM), { instanceOf: TypeError });
  t.throws(() => t_.srtpSession(3, MASTER_KEY, MASTER_SALT_CM), { instanceOf: TypeError });
  t.throws(() => pair(CM)[0].protectRtp('nope'), { instanceOf: TypeError });
});
