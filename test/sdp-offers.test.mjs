// Offers from real clients (test/fixtures/offers/, see its README), posted as WHIP and WHEP to a
// relay: every answer must accept what the client offered and the stream has (bundle-only
// sections included), take the right DTLS role, answer formats the client offered (a viewer's
// own fmtp line), answer rtcp-rsize when offered, and be valid SDP (test/sdp-grammar.mjs).
import test from 'ava';
import { readFileSync } from 'node:fs';
import * as sdpTransform from 'sdp-transform';
import { startRelay } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';
import { checkSdp } from './sdp-grammar.mjs';

const fixture = (name) => readFileSync(new URL(`./fixtures/offers/${name}`, import.meta.url), 'utf8');

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body });
  const text = await res.text();
  return { status: res.status, text, location: res.headers.get('Location') };
}

const errorOf = (r) => {
  try {
    return JSON.parse(r.text).error;
  } catch {
    return r.text;
  }
};

/** Publisher offers the WHEP fixtures are watched against (the relay's own hand-made offers). */
const SOURCES = {
  vp8: offer({ video: 'VP8' }),
  'h264-cb': offer({ video: 'H264' }),
  'h264-high': offer({ video: 'H264' }).replace('profile-level-id=42e01f', 'profile-level-id=640028'),
};

const midOf = (m, i) => (m.mid !== undefined ? String(m.mid) : String(i));

/**
 * Checks an answer against its offer. `accept`: the kinds that must be accepted; `setup`: the
 * relay's expected a=setup; `role`: publisher or viewer.
 */
function checkAnswer(t, label, offerText, answerText, { accept, setup, role }) {
  t.deepEqual(checkSdp(answerText), [], `${label}: the answer is valid SDP`);
  const o = sdpTransform.parse(offerText);
  const a = sdpTransform.parse(answerText);
  t.deepEqual(a.media.map(midOf), o.media.map(midOf), `${label}: the answer mirrors the offer's sections and mids`);
  const group = (a.groups ?? []).find((g) => g.type === 'BUNDLE');
  const bundled = group ? String(group.mids).split(' ') : [];
  const accepted = [];
  a.media.forEach((am, i) => {
    const om = o.media[i];
    const mid = midOf(am, i);
    if (am.port === 0) {
      t.false(bundled.includes(mid), `${label}: rejected mid ${mid} is not in the BUNDLE group`);
      t.is(am.bundleOnly, undefined, `${label}: rejected mid ${mid} has no bundle-only`);
      return;
    }
    accepted.push(am.type);
    t.true(bundled.includes(mid), `${label}: accepted mid ${mid} is in the BUNDLE group`);
    t.is(am.bundleOnly, undefined, `${label}: no bundle-only in an answer`);
    t.is(am.setup, setup, `${label}: mid ${mid} a=setup:${setup}`);
    t.is(am.direction, role === 'publisher' ? 'recvonly' : 'sendonly', `${label}: mid ${mid} direction`);
    t.is(am.rtcpRsize !== undefined, om.rtcpRsize !== undefined, `${label}: mid ${mid} rtcp-rsize answered iff offered`);
    const offeredPts = String(om.payloads).split(' ');
    for (const pt of String(am.payloads).split(' ')) t.true(offeredPts.includes(pt), `${label}: mid ${mid} payload type ${pt} was offered`);
    for (const r of am.rtp ?? []) {
      const or = (om.rtp ?? []).find((x) => x.payload === r.payload);
      t.is(r.codec.toLowerCase(), or?.codec.toLowerCase(), `${label}: mid ${mid} pt ${r.payload} is the codec the offer maps it to`);
      if (role === 'viewer' && r.codec.toLowerCase() !== 'rtx') {
        const ofmtp = (om.fmtp ?? []).find((f) => f.payload === r.payload)?.config;
        const afmtp = (am.fmtp ?? []).find((f) => f.payload === r.payload)?.config;
        t.is(afmtp, ofmtp, `${label}: mid ${mid} pt ${r.payload} carries the viewer's own fmtp`);
      }
    }
  });
  t.deepEqual(accepted.sort(), [...accept].sort(), `${label}: accepted kinds`);
  t.deepEqual(bundled, a.media.filter((m) => m.port !== 0).map(midOf), `${label}: the BUNDLE group is exactly the accepted sections`);
  return a;
}

const PUBLISHERS = [
  ['firefox-maxbundle-publisher.sdp', 'VP8'],
  ['firefox-balanced-publisher.sdp', 'VP8'],
  ['chromium-publisher.sdp', 'H264'],
  ['gstreamer-maxbundle-h264.sdp', 'H264'],
  ['gstreamer-maxbundle-vp8.sdp', 'VP8'],
  ['ffmpeg8-whip.sdp', 'H264'],
  ['ffmpeg8-whip-42001f.sdp', 'H264'],
  ['obs-libdatachannel.sdp', 'H264'],
  ['safari-viewer.sdp', 'H264', (s) => s.replace(/a=recvonly/g, 'a=sendonly')],
];

for (const [file, video, edit] of PUBLISHERS) {
  test(`WHIP: ${file}${edit ? ' (as a sendonly offer)' : ''} is answered with audio and video`, async (t) => {
    const { url } = await startRelay(t);
    const text = edit ? edit(fixture(file)) : fixture(file);
    const r = await post(`${url}/whip/s`, text);
    t.is(r.status, 201, errorOf(r));
    if (r.status !== 201) return;
    const setup = /a=setup:passive/.test(text) ? 'active' : 'passive';
    const a = checkAnswer(t, file, text, r.text, { accept: ['audio', 'video'], setup, role: 'publisher' });
    t.is(a.media.find((m) => m.type === 'video')?.rtp[0].codec.toUpperCase(), video.toUpperCase());
    const info = await (await fetch(`${url}/api/streams/s`)).json();
    t.deepEqual(info.codecs.map((c) => c.name.toLowerCase()).sort(), [video.toLowerCase(), 'opus'].sort());
  });
}

const VIEWERS = [
  ['firefox-maxbundle-viewer.sdp', ['vp8']],
  ['firefox-balanced-viewer.sdp', ['vp8']],
  ['chromium-viewer.sdp', ['vp8', 'h264-cb', 'h264-high']],
  ['safari-viewer.sdp', ['vp8', 'h264-cb']],
];

for (const [file, sources] of VIEWERS) {
  for (const source of sources) {
    test(`WHEP: ${file} watching a ${source} stream is answered with audio and video`, async (t) => {
      const { url } = await startRelay(t);
      t.is((await post(`${url}/whip/s`, SOURCES[source])).status, 201);
      const text = fixture(file);
      const r = await post(`${url}/whep/s`, text);
      t.is(r.status, 201, errorOf(r));
      if (r.status !== 201) return;
      checkAnswer(t, file, text, r.text, { accept: ['audio', 'video'], setup: 'passive', role: 'viewer' });
    });
  }
}

test('WHEP: a viewer offering only H.264 constrained baseline gets 406 for a High stream, naming codec and profile', async (t) => {
  const { url } = await startRelay(t);
  t.is((await post(`${url}/whip/hi`, SOURCES['h264-high'])).status, 201);
  const r = await post(`${url}/whep/hi`, offer({ direction: 'recvonly' }));
  t.is(r.status, 406, r.text);
  t.regex(errorOf(r), /H264 high/);
  t.regex(errorOf(r), /640028/);
  t.regex(errorOf(r), /m=video \(mid 0\)/);
  const info = await (await fetch(`${url}/api/streams/hi`)).json();
  t.is(info.viewers.length, 0, 'no viewer session is left behind');
});

test('WHEP: Safari gets its own 42e01f format and fmtp for a constrained baseline stream, never the publisher\'s', async (t) => {
  const { url } = await startRelay(t);
  // The publisher's line differs from Safari's (order, level) but is the same profile.
  const pub = SOURCES['h264-cb'].replace('level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', 'profile-level-id=42c028;packetization-mode=1');
  t.is((await post(`${url}/whip/cb`, pub)).status, 201);
  const r = await post(`${url}/whep/cb`, fixture('safari-viewer.sdp'));
  t.is(r.status, 201, errorOf(r));
  const video = sdpTransform.parse(r.text).media[0];
  t.is(video.payloads, '96 97');
  t.is(video.fmtp.find((f) => f.payload === 96).config, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
});

test('WHEP: a viewer whose audio section offers no Opus gets 406 naming the section, not a silent video-only 201', async (t) => {
  const { url } = await startRelay(t);
  t.is((await post(`${url}/whip/a`, SOURCES.vp8)).status, 201);
  const pcmu = offer({ direction: 'recvonly', video: 'VP8' }).replace('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'm=audio 9 UDP/TLS/RTP/SAVPF 0').replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000').replace(/a=fmtp:111 .*\r\n/, '');
  const r = await post(`${url}/whep/a`, pcmu);
  t.is(r.status, 406, r.text);
  t.regex(errorOf(r), /m=audio \(mid 1\).*opus\/48000\/2.*PCMU\/8000/);
});

test('WHIP: a publisher whose audio section offers no codec the relay forwards gets a 4xx naming it', async (t) => {
  const { url } = await startRelay(t);
  const pcmu = offer({ video: 'VP8' }).replace('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'm=audio 9 UDP/TLS/RTP/SAVPF 0').replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000').replace(/a=fmtp:111 .*\r\n/, '');
  const r = await post(`${url}/whip/a`, pcmu);
  t.is(r.status, 400, r.text);
  t.regex(errorOf(r), /m=audio \(mid 1\) offers no codec the relay supports \(PCMU\/8000\)/);
});

test('a section the relay rejects (a data channel, a second video) is valid SDP and outside the BUNDLE group', async (t) => {
  const { url } = await startRelay(t);
  const text = offer({ kinds: ['video', 'audio', 'video'], app: true });
  const r = await post(`${url}/whip/x`, text);
  t.is(r.status, 201, errorOf(r));
  checkAnswer(t, 'rejects', text, r.text, { accept: ['audio', 'video'], setup: 'passive', role: 'publisher' });
  const a = sdpTransform.parse(r.text);
  t.deepEqual(a.media.map((m) => m.port !== 0), [true, true, false, false]);
  t.deepEqual(a.media.map((m) => m.connection?.ip), ['0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0'], 'every section has its c= line');
});
