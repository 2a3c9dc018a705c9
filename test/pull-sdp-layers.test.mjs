// The layered pull's answer as the edge reads it (ts/cluster/pull-sdp.ts): rids from
// a=simulcast:send (each declared a=rid send), SSRCs from a=ssrc-group:SIM, in the same order.
import test from 'ava';
import { buildPullOffer, parsePullAnswer } from '../dist/cluster/pull-sdp.js';
import { buildAnswer } from '../dist/media/answer.js';
import { parseOffer } from '../dist/media/sdp.js';

const answer = (videoExtra) => [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=halfsec', 't=0 0', 'a=ice-lite', 'a=group:BUNDLE 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 102', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly', 'a=rtcp-mux',
  'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijkl',
  'a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99',
  'a=setup:passive', 'a=rtpmap:102 VP8/90000', 'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host',
  ...videoExtra, '',
].join('\r\n');

test('a layered answer gives the rids and SSRCs of every layer, lowest first', (t) => {
  const a = parsePullAnswer(answer(['a=rid:l send', 'a=rid:m send', 'a=rid:h send', 'a=simulcast:send l;m;h', 'a=ssrc-group:SIM 11 22 4294967295', 'a=ssrc:11 cname:x', 'a=ssrc:22 cname:x', 'a=ssrc:4294967295 cname:x']));
  t.deepEqual(a.layers, { rids: ['l', 'm', 'h'], ssrcs: [11, 22, 4294967295] });
});

test('an answer of one layer has no layers', (t) => {
  t.is(parsePullAnswer(answer(['a=ssrc:11 cname:x'])).layers, undefined);
});

test('layers that disagree are refused with a reason', (t) => {
  const bad = [
    ['a=rid:l send', 'a=rid:h send', 'a=simulcast:send l;h', 'a=ssrc-group:SIM 11'], // one SSRC for two rids
    ['a=rid:l send', 'a=simulcast:send l;h', 'a=ssrc-group:SIM 11 22'], // h not declared
    ['a=rid:l send', 'a=rid:h send', 'a=simulcast:send l;h', 'a=ssrc-group:SIM 11 11'], // one SSRC twice
    ['a=rid:l send', 'a=rid:h send', 'a=simulcast:send l;h', 'a=ssrc-group:SIM 11 0'], // SSRC out of range
    ['a=rid:l recv', 'a=rid:h recv', 'a=simulcast:recv l;h', 'a=ssrc-group:SIM 11 22'], // wrong direction
    ['a=ssrc-group:SIM 11 22'], // no rids
    ['a=rid:a send', 'a=rid:b send', 'a=rid:c send', 'a=rid:d send', 'a=rid:e send', 'a=simulcast:send a;b;c;d;e', 'a=ssrc-group:SIM 1 2 3 4 5'], // over 4
  ];
  for (const extra of bad) t.throws(() => parsePullAnswer(answer(extra)), { message: /simulcast layers/ }, extra.join(' '));
});

test('round trip: the origin answers the edge\'s pull offer with its layers, and the edge reads them back', (t) => {
  const fp = Array(32).fill('AB').join(':');
  const offer = parseOffer(buildPullOffer({ ufrag: 'edge', pwd: '0123456789abcdefghijklmnop' }, fp), 'viewer');
  const video = offer.tracks.find((x) => x.kind === 'video');
  const text = buildAnswer({
    role: 'viewer',
    offer,
    ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' },
    fingerprint: fp,
    candidates: [{ ip: '127.0.0.1', port: 40000 }],
    tracks: [{ kind: 'video', mid: video.mid, codec: video.codecs.find((c) => c.name === 'VP8'), ssrc: 5, layers: { rids: ['q', 'f'], ssrcs: [7, 9] } }],
    streamName: 's',
  });
  t.deepEqual(parsePullAnswer(text).layers, { rids: ['q', 'f'], ssrcs: [7, 9] });
  t.notRegex(text, /a=ssrc:5 /, 'only the layer SSRCs are announced');
});

test('the edge offers the AV1 dependency descriptor: an AV1 origin answers it and the edge reads its id; a VP8 one does not', async (t) => {
  const { planViewer } = await import('../dist/media/viewer.js');
  const fp = Array(32).fill('AB').join(':');
  const offer = parseOffer(buildPullOffer({ ufrag: 'edge', pwd: '0123456789abcdefghijklmnop' }, fp), 'viewer');
  t.true(offer.extmapAllowMixed, 'two-byte extensions offered');
  for (const [name, want] of [['AV1', 12], ['VP8', undefined]]) {
    const st = { name: 's', engineId: 1, codecs: { video: { payloadType: 45, name, clockRate: 90000 } }, viewers: new Map(), rids: [], layerBitrates: [1e6] };
    const plan = planViewer(offer, st);
    t.is(plan.peer.ddExtId, want, name);
    const text = buildAnswer({ role: 'viewer', offer, ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' }, fingerprint: fp, candidates: [{ ip: '127.0.0.1', port: 40000 }], tracks: plan.tracks, streamName: 's' });
    t.is(parsePullAnswer(text).ddExtId, want, `${name}: the edge reads the answered id`);
  }
});
