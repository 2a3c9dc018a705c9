// Transport-wide congestion control toward viewers in the SDP: the viewer's offer decides
// (draft-holmer-rmcat-transport-wide-cc-extensions-01: the extension and `transport-cc` feedback
// together), the answer keeps both only then, and only ids the data plane can write (1..14).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { buildAnswer } from '../dist/media/answer.js';
import { parseOffer, TRANSPORT_CC_EXTENSION, transportCcId } from '../dist/media/sdp.js';

const fixture = (name) => readFileSync(new URL(`./fixtures/offers/${name}`, import.meta.url), 'utf8');
const FP = Array(32).fill('AB').join(':');

function viewerAnswer(offer, twcc) {
  return buildAnswer({
    role: 'viewer',
    offer,
    ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' },
    fingerprint: FP,
    candidates: [{ ip: '127.0.0.1', port: 40000 }],
    tracks: offer.tracks.map((t) => ({ kind: t.kind, mid: t.mid, codec: t.codecs[0], ssrc: 1234, ...(twcc ? { twccExtId: transportCcId(t, t.codecs[0].payloadType) } : {}) })),
    streamName: 's',
  });
}

test('Chromium and Firefox viewers offer transport-cc: their ids are taken and the answer keeps extension and feedback', (t) => {
  for (const [name, id] of [['chromium-viewer.sdp', 4], ['firefox-maxbundle-viewer.sdp', 7]]) {
    const offer = parseOffer(fixture(name), 'viewer');
    const video = offer.tracks.find((x) => x.kind === 'video');
    const vp8 = video.codecs.find((c) => c.name.toUpperCase() === 'VP8');
    t.is(transportCcId(video, vp8.payloadType), id, name);
    const answer = viewerAnswer(offer, true);
    const section = answer.slice(answer.indexOf('m=video'));
    t.true(section.includes(`a=extmap:${id} ${TRANSPORT_CC_EXTENSION}\r\n`), `${name}: extmap kept`);
    t.regex(section, new RegExp(`a=rtcp-fb:${video.codecs[0].payloadType} transport-cc\\r\\n`), `${name}: feedback kept`);
    // Without the data plane's stamping (no twccExtId) neither is answered.
    const plain = viewerAnswer(offer, false);
    t.false(plain.includes(TRANSPORT_CC_EXTENSION), `${name}: no extmap without stamping`);
    t.false(plain.includes('transport-cc'), `${name}: no feedback without stamping`);
  }
});

test('the extension alone, feedback for another format, or an id the one-byte form cannot carry: no transport-cc', (t) => {
  const base = parseOffer(fixture('chromium-viewer.sdp'), 'viewer').tracks.find((x) => x.kind === 'video');
  const pt = base.codecs[0].payloadType;
  const ext = [{ id: 4, uri: TRANSPORT_CC_EXTENSION }];
  t.is(transportCcId({ ...base, extensions: ext, rtcpFb: [{ payload: pt, type: 'nack' }] }, pt), undefined);
  t.is(transportCcId({ ...base, extensions: ext, rtcpFb: [{ payload: pt + 1, type: 'transport-cc' }] }, pt), undefined);
  t.is(transportCcId({ ...base, extensions: ext, rtcpFb: [{ payload: '*', type: 'transport-cc' }] }, pt), 4, 'a=rtcp-fb:* counts');
  t.is(transportCcId({ ...base, extensions: [{ id: 15, uri: TRANSPORT_CC_EXTENSION }], rtcpFb: [{ payload: pt, type: 'transport-cc' }] }, pt), undefined);
  t.is(transportCcId({ ...base, extensions: [], rtcpFb: [{ payload: pt, type: 'transport-cc' }] }, pt), undefined);
});
