// The AV1 dependency descriptor (AV1 RTP spec) in the SDP: taken from an AV1 publisher that offers
// it (with a=extmap-allow-mixed echoed, since a descriptor carrying its template structure needs
// RFC 8285's two-byte form), and answered to a viewer of an AV1 stream only when it offers both
// the extension and a=extmap-allow-mixed; everyone else gets no descriptor (and the AV1 stream
// whole). Offers are Chromium 156's own (test/fixtures/offers/README.md).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { buildAnswer } from '../dist/media/answer.js';
import { planPublisher } from '../dist/media/publisher.js';
import { DEPENDENCY_DESCRIPTOR_EXTENSION, dependencyDescriptorId, parseOffer } from '../dist/media/sdp.js';
import { planViewer } from '../dist/media/viewer.js';

const fixture = (name) => readFileSync(new URL(`./fixtures/offers/${name}`, import.meta.url), 'utf8');
const FP = Array(32).fill('AB').join(':');
const DD_LINE = (id) => `a=extmap:${id} ${DEPENDENCY_DESCRIPTOR_EXTENSION}\r\n`;

function answer(role, offer, tracks) {
  return buildAnswer({ role, offer, ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' }, fingerprint: FP, candidates: [{ ip: '127.0.0.1', port: 40000 }], tracks, streamName: 's' });
}

/** A stream as a publisher's plan leaves it (what planViewer reads). */
function streamOf(plan) {
  return { name: 's', engineId: 1, codecs: plan.codecs, viewers: new Map(), rids: plan.rids, layerBitrates: [1e6] };
}

/** The offer text with the session-level and every media-level a=extmap-allow-mixed removed. */
const withoutMixed = (sdp) => sdp.replace(/a=extmap-allow-mixed\r?\n/g, '');
/** The offer text with the dependency descriptor moved to another id. */
const ddAt = (sdp, id) => sdp.replace(/a=extmap:\d+ (https:\/\/aomediacodec\.github\.io\/av1-rtp-spec\/#dependency-descriptor-rtp-header-extension)/, `a=extmap:${id} $1`);

test('an AV1 L1T3 publisher: the descriptor id goes to the data plane and stays in the answer with a=extmap-allow-mixed', (t) => {
  const offer = parseOffer(fixture('chromium-av1-l1t3-publisher.sdp'), 'publisher');
  t.true(offer.extmapAllowMixed);
  const video = offer.tracks.find((x) => x.kind === 'video');
  t.is(dependencyDescriptorId(video), 13);
  const plan = planPublisher(offer, 8e6);
  t.is(plan.codecs.video.name.toUpperCase(), 'AV1');
  t.is(plan.peer.ddExtId, 13);
  const text = answer('publisher', offer, plan.tracks);
  t.true(text.includes(DD_LINE(13)), 'the descriptor is answered');
  t.regex(text.split('m=')[0], /a=extmap-allow-mixed\r\n/, 'two-byte extensions allowed, at session level');
  t.false(text.includes('video-layers-allocation'), 'only the extensions the relay reads');
  // Without a=extmap-allow-mixed in the offer, the answer may not carry it (RFC 8285 §6).
  const plain = parseOffer(withoutMixed(fixture('chromium-av1-l1t3-publisher.sdp')), 'publisher');
  t.false(plain.extmapAllowMixed);
  const text2 = answer('publisher', plain, planPublisher(plain, 8e6).tracks);
  t.true(text2.includes(DD_LINE(13)));
  t.false(text2.includes('extmap-allow-mixed'));
});

test('a VP8 publisher offering the descriptor: not taken (its own payload descriptor has the layers)', (t) => {
  const sdp = fixture('chromium-av1-l1t3-publisher.sdp').replace(/AV1\/90000/g, 'VP8/90000').replace(/a=fmtp:45 .*\r\n/, '');
  const offer = parseOffer(sdp, 'publisher');
  const plan = planPublisher(offer, 8e6);
  t.is(plan.codecs.video.name.toUpperCase(), 'VP8');
  t.is(plan.peer.ddExtId, undefined);
  const text = answer('publisher', offer, plan.tracks);
  t.false(text.includes(DEPENDENCY_DESCRIPTOR_EXTENSION));
  t.false(text.includes('extmap-allow-mixed'));
});

test('viewers of an AV1 stream: the descriptor only with a=extmap-allow-mixed; ids up to 255', (t) => {
  const pub = planPublisher(parseOffer(fixture('chromium-av1-l1t3-publisher.sdp'), 'publisher'), 8e6);
  const st = streamOf(pub);
  const offer = parseOffer(fixture('chromium-dd-viewer.sdp'), 'viewer');
  const plan = planViewer(offer, st);
  t.is(plan.peer.ddExtId, 13);
  const text = answer('viewer', offer, plan.tracks);
  const video = text.slice(text.indexOf('m=video'), text.indexOf('m=audio') > text.indexOf('m=video') ? text.indexOf('m=audio') : undefined);
  t.true(video.includes(DD_LINE(13)), 'the descriptor is answered in the video section');
  t.regex(text.split('m=')[0], /a=extmap-allow-mixed\r\n/);
  // Two-byte ids (15..255) work too: the data plane then writes the two-byte form.
  const high = parseOffer(ddAt(fixture('chromium-dd-viewer.sdp'), 200), 'viewer');
  t.is(planViewer(high, st).peer.ddExtId, 200);
  // No a=extmap-allow-mixed: no descriptor (its structure would not fit the one-byte form).
  const mixedless = parseOffer(withoutMixed(fixture('chromium-dd-viewer.sdp')), 'viewer');
  const p2 = planViewer(mixedless, st);
  t.is(p2.peer.ddExtId, undefined);
  const text2 = answer('viewer', mixedless, p2.tracks);
  t.false(text2.includes(DEPENDENCY_DESCRIPTOR_EXTENSION));
  t.false(text2.includes('extmap-allow-mixed'));
  // Chromium's default viewer offer does not list the descriptor: none.
  const plainViewer = parseOffer(fixture('chromium-viewer.sdp'), 'viewer');
  t.is(planViewer(plainViewer, st).peer.ddExtId, undefined);
});

test('viewers of a VP8 stream that offer the descriptor: not answered', (t) => {
  const sdp = fixture('chromium-av1-l1t3-publisher.sdp').replace(/AV1\/90000/g, 'VP8/90000').replace(/a=fmtp:45 .*\r\n/, '');
  const st = streamOf(planPublisher(parseOffer(sdp, 'publisher'), 8e6));
  const offer = parseOffer(fixture('chromium-dd-viewer.sdp'), 'viewer');
  const plan = planViewer(offer, st);
  t.is(plan.peer.ddExtId, undefined);
  t.false(answer('viewer', offer, plan.tracks).includes(DEPENDENCY_DESCRIPTOR_EXTENSION));
});

test('dependencyDescriptorId: ids 1..255 only', (t) => {
  const base = parseOffer(fixture('chromium-dd-viewer.sdp'), 'viewer').tracks.find((x) => x.kind === 'video');
  for (const [id, want] of [[1, 1], [14, 14], [15, 15], [255, 255], [0, undefined], [256, undefined], [1.5, undefined]]) {
    t.is(dependencyDescriptorId({ ...base, extensions: [{ id, uri: DEPENDENCY_DESCRIPTOR_EXTENSION }] }), want, `id ${id}`);
  }
  t.is(dependencyDescriptorId({ ...base, extensions: [] }), undefined);
});
