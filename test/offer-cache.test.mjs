// The offer-shape cache (ts/media/offer-cache.ts) returns what sdp-transform returns for the whole
// offer, on a miss and on a hit with another session's values, for every captured real offer;
// a cached shape is frozen, so no session can change what another one reads.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as sdpTransform from 'sdp-transform';
import { offerShapeCacheStats, parseOfferSdp } from '../dist/media/offer-cache.js';
import { buildOffer } from '../dist/load/sdp.js';
import { parseOffer } from '../dist/media/sdp.js';
import { buildAnswer, newIceParams } from '../dist/media/answer.js';
import { buildViewerAnswer } from '../dist/media/answer-cache.js';

const dir = new URL('./fixtures/offers/', import.meta.url);
const captured = readdirSync(dir).filter((f) => f.endsWith('.sdp')).map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]);

/** The same offer as another session would send it: new ICE credentials, fingerprint, origin, candidates, SSRCs. */
function anotherSession(sdp) {
  const hex = (n) => randomBytes(n).toString('hex');
  const fp = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  const ssrc = 1 + (randomBytes(4).readUInt32BE(0) % 0xfffffffe);
  return sdp
    .replace(/^a=ice-ufrag:.*$/gm, `a=ice-ufrag:${hex(4)}`)
    .replace(/^a=ice-pwd:.*$/gm, `a=ice-pwd:${hex(12)}`)
    .replace(/^(a=fingerprint:\S+) .*$/gm, `$1 ${fp}`)
    .replace(/^o=(\S+) \d+/gm, `o=$1 ${Date.now()}${ssrc}`)
    .replace(/^(a=candidate:\S+ \d \S+ \d+ )\S+ \d+/gm, `$1192.0.2.${ssrc % 250} ${1024 + (ssrc % 60000)}`)
    .replace(/^a=ssrc:\d+/gm, `a=ssrc:${ssrc}`)
    .replace(/^(a=ssrc-group:FID) \d+/gm, `$1 ${ssrc}`);
}

test('every captured offer parses as sdp-transform parses it, on a miss and on hits with other sessions\' values', (t) => {
  t.true(captured.length >= 10, 'the captured offers are there');
  for (const [name, sdp] of [...captured, ['load viewer', buildOffer({ role: 'viewer', ufrag: 'abcd', pwd: 'p'.repeat(24), fingerprint: 'AB:'.repeat(31) + 'CD', ip: '127.0.0.1', port: 4000 })]]) {
    const first = parseOfferSdp(sdp);
    t.deepEqual(JSON.parse(JSON.stringify(first)), JSON.parse(JSON.stringify(sdpTransform.parse(sdp))), `${name}: first parse`);
    for (let i = 0; i < 3; i++) {
      const other = anotherSession(sdp);
      t.not(other, sdp, `${name}: the session's values changed`);
      const before = offerShapeCacheStats().hits;
      const got = parseOfferSdp(other);
      t.is(offerShapeCacheStats().hits, before + 1, `${name}: the shape was reused`);
      t.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(sdpTransform.parse(other))), `${name}: session ${i}`);
    }
  }
});

test('a parsed offer carries its own session values, and the shared shape cannot be changed through it', (t) => {
  const [, sdp] = captured.find(([f]) => f === 'chromium-viewer.sdp');
  const a = parseOffer(anotherSession(sdp), 'viewer');
  const b = parseOffer(anotherSession(sdp), 'viewer');
  t.not(a.iceUfrag, b.iceUfrag);
  t.not(a.fingerprint, b.fingerprint);
  t.not(a.raw.media[0].iceUfrag, b.raw.media[0].iceUfrag);
  t.is(a.raw.media[0].rtp, b.raw.media[0].rtp, 'codecs are the shared shape');
  t.throws(() => a.raw.media[0].rtp.push({ payload: 1, codec: 'x', rate: 1 }), { instanceOf: TypeError });
  t.throws(() => {
    a.raw.media[0].rtp[0].codec = 'changed';
  }, { instanceOf: TypeError });
});

test('the cache stays bounded and an offer whose session lines collide with the shape is parsed whole', (t) => {
  for (let i = 0; i < 100; i++) parseOfferSdp(`v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=shape-${i}\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n`);
  t.true(offerShapeCacheStats().shapes <= 32);
  // Two a=ice-ufrag lines at different levels and an unknown attribute: still the whole-parse result.
  const odd = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=x-unknown:1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:efgh\r\na=candidate:bogus\r\na=x-other\r\na=rtpmap:96 VP8/90000\r\n';
  t.deepEqual(JSON.parse(JSON.stringify(parseOfferSdp(odd))), JSON.parse(JSON.stringify(sdpTransform.parse(odd))));
  t.deepEqual(JSON.parse(JSON.stringify(parseOfferSdp(odd))), JSON.parse(JSON.stringify(sdpTransform.parse(odd))));
});

// The answer template (ts/media/answer-cache.ts): the same text buildAnswer writes, for each
// captured viewer offer and fresh session values every time.
const sessId = (sdp) => /^o=- (\d+) /m.exec(sdp)?.[1];
const tracksFor = (offer, n) =>
  offer.tracks.map((t, i) => {
    const codec = t.codecs.find((c) => !/^(rtx|red|ulpfec)$/i.test(c.name)) ?? t.codecs[0];
    const rtx = t.codecs.find((c) => /^rtx$/i.test(c.name) && (c.fmtp ?? '').includes(`apt=${codec.payloadType}`));
    return { kind: t.kind, mid: t.mid, codec, ssrc: 1000 + n * 10 + i, ...(rtx ? { rtx, rtxSsrc: 5000 + n * 10 + i } : {}) };
  });

test('viewer answers from a template are the text buildAnswer writes, with each session\'s own values', (t) => {
  const viewers = captured.filter(([f]) => f.includes('viewer'));
  t.true(viewers.length >= 4);
  for (const [name, sdp] of viewers) {
    for (let n = 0; n < 4; n++) {
      const offer = parseOffer(anotherSession(sdp), 'viewer');
      const o = { role: 'viewer', offer, ice: newIceParams(), fingerprint: 'AA:'.repeat(31) + 'BB', candidates: [{ ip: '127.0.0.1', port: 40000 + (n % 2) }], tracks: tracksFor(offer, n), streamName: 'crowd' };
      const got = buildViewerAnswer(o);
      const want = buildAnswer({ ...o, sessionId: Number(sessId(got)) });
      t.is(got, want, `${name}, session ${n}`);
      t.true(got.includes(`a=ice-ufrag:${o.ice.ufrag}`) && got.includes(`a=ice-pwd:${o.ice.pwd}`), `${name}: its own credentials`);
    }
  }
});

test('an answer in which a stand-in value also appears (here in the stream name) is written whole', (t) => {
  const [, sdp] = captured.find(([f]) => f === 'chromium-viewer.sdp');
  const offer = parseOffer(anotherSession(sdp), 'viewer');
  const o = { role: 'viewer', offer, ice: newIceParams(), fingerprint: 'AA:'.repeat(31) + 'BB', candidates: [{ ip: '127.0.0.1', port: 40000 }], tracks: tracksFor(offer, 7), streamName: 'crowd-3141592601' };
  for (let i = 0; i < 2; i++) {
    const got = buildViewerAnswer(o);
    t.true(got.includes('a=msid:crowd-3141592601 '), 'the stream name is left alone');
    t.is(got, buildAnswer({ ...o, sessionId: Number(sessId(got)) }));
  }
});

test('per-session lines their grammar rule does not match (malformed, unusual) still parse as sdp-transform parses them', (t) => {
  const [, sdp] = captured.find(([f]) => f === 'chromium-viewer.sdp');
  const odd = [
    (s) => s.replace(/^a=candidate:.*$/m, 'a=candidate:garbage'),
    (s) => s.replace(/^a=fingerprint:.*$/m, 'a=fingerprint:sha-256'),
    (s) => s.replace(/^o=.*$/m, 'o=- x'),
    (s) => s.replace(/^a=ice-ufrag:.*$/m, 'a=ice-ufrag:123'),
    (s) => s.replace(/^a=ice-pwd:.*$/m, 'a=ice-pwd:abc\r\na=ice-pwd:def'),
    (s) => s.replace(/^(a=mid:.*)$/m, '$1\r\na=ssrc:12 cname:x\r\na=ssrc:x\r\na=msid:-\r\na=ssrc-group:FID 1 2'),
  ];
  for (const [i, change] of odd.entries()) {
    parseOfferSdp(anotherSession(sdp)); // the shape is cached
    const text = change(anotherSession(sdp));
    t.deepEqual(JSON.parse(JSON.stringify(parseOfferSdp(text))), JSON.parse(JSON.stringify(sdpTransform.parse(text))), `change ${i}`);
  }
});

test('crafted per-session lines (seeded mutations of every captured offer) parse as sdp-transform parses them', (t) => {
  // Inserted, cut, doubled and malformed ICE credentials, fingerprints, candidates, SSRCs, msids,
  // origins, grammar-key-named attributes and extra m= lines, with every line ending.
  let seed = 20261130;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
  const pick = (a) => a[rnd(a.length)];
  const attrs = ['ice-ufrag', 'ice-pwd', 'fingerprint', 'candidate', 'ssrc', 'ssrc-group', 'msid'];
  const tails = ['', ' ', ':', 'x', ' x y z', '1 1 udp 1 1.2.3.4 5 typ host', 'sha-256 AB:CD', 'FID 1 2', '1 cname:a', '1 msid:a b', '\t', ' typ relay raddr 1 rport 2', '0', '-', '__proto__', 'a b c d e f g h i j'];
  const own = (l) => /^(?:o=|a=(?:ice|fingerprint|candidate|ssrc|msid))/.test(l);
  const at = (ls, f) => { const i = ls.map((l, j) => (f(l) ? j : -1)).filter((j) => j >= 0); return i.length ? pick(i) : -1; };
  const mutations = [
    (ls) => ls.splice(rnd(ls.length), 0, `a=${pick(attrs)}${pick([':', '', '-', ' :', 'x:'])}${pick(tails)}`),
    (ls) => ls.splice(rnd(ls.length), 0, `${pick(['a=', 'o=', 'A=', ' a=', 'a= '])}${pick(attrs)}:${pick(tails)}`),
    (ls) => { const i = at(ls, own); if (i >= 0) ls[i] += pick(tails); },
    (ls) => { const i = at(ls, own); if (i >= 0) ls[i] = ls[i].slice(0, rnd(ls[i].length + 1)); },
    (ls) => { const i = at(ls, own); if (i >= 0) ls.splice(i, 0, ls[i]); },
    (ls) => ls.splice(rnd(ls.length), 0, `a=${pick(['invalid', 'rtp', 'fmtp', 'media', 'type', 'port', 'payloads', 'iceUfrag', 'constructor'])}:${pick(tails)}`),
    (ls) => ls.splice(rnd(ls.length), 0, `m=${pick(['audio', 'video'])} 9 UDP/TLS/RTP/SAVPF 111`),
    (ls) => { const i = at(ls, (l) => l.startsWith('o=')); if (i >= 0) ls[i] = 'o=' + pick(['- 1 2 IN IP4', '- x 2 IN IP4 1.1.1.1', 'a b c d e f']); },
  ];
  let slowest = 0;
  for (let n = 0; n < 3000; n++) {
    const [name, sdp] = pick(captured);
    parseOfferSdp(anotherSession(sdp)); // the shape is cached
    const ls = anotherSession(sdp).split(/\r\n|\r|\n/);
    for (let k = 1 + rnd(3); k > 0; k--) pick(mutations)(ls);
    const text = ls.join(pick(['\r\n', '\n', '\r']));
    const t0 = performance.now();
    const got = parseOfferSdp(text);
    slowest = Math.max(slowest, performance.now() - t0);
    const want = sdpTransform.parse(text);
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(want)))) {
      t.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(want)), `${name}, mutation ${n}`);
      return;
    }
  }
  t.pass();
  t.log(`slowest of 3000 crafted offers: ${slowest.toFixed(2)} ms`);
});

test('the offer line limit counts lines as the parser splits them: bare-CR line endings do not get past it', (t) => {
  const [, sdp] = captured.find(([f]) => f === 'chromium-viewer.sdp');
  for (const eol of ['\r\n', '\n', '\r']) {
    const text = anotherSession(sdp).replace(/\r\n/g, eol);
    t.true(parseOffer(text, 'viewer').tracks.length > 0, `an offer with ${JSON.stringify(eol)} endings still parses`);
    const long = text + `a=x${eol}`.repeat(2500);
    const err = t.throws(() => parseOffer(long, 'viewer'), undefined, JSON.stringify(eol));
    t.regex(err.message, /more than 2000 lines/, JSON.stringify(eol));
  }
});
