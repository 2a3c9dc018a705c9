// The negotiation rules of ts/sdp.ts on their own: H.264 profiles (RFC 6184 §8.1 and WebRTC's
// profile-level-id patterns), DTLS roles (RFC 8842 §5), bundle-only (RFC 8843 §6), rtcp-rsize.
import test from 'ava';
import { HttpError } from '../dist/ops/errors.js';
import { answerSetup, buildAnswer } from '../dist/media/answer.js';
import { h264Profile, matchViewerCodec } from '../dist/media/codecs.js';
import { parseOffer } from '../dist/media/sdp.js';
import { offer } from './sdp-fixtures.mjs';
import { checkSdp } from './sdp-grammar.mjs';

test('H.264 profiles by profile_idc and the constraint flags that matter; level does not', (t) => {
  for (const id of ['42e01f', '42c01f', '42401f', '42e00a', '42C034', '4d801f', '58c01f']) t.is(h264Profile(id), 'constrained baseline', id);
  for (const id of ['42001f', '42000a', '42201f', '58801f']) t.is(h264Profile(id), 'baseline', id);
  t.is(h264Profile('4d001f'), 'main');
  t.is(h264Profile('640028'), 'high');
  t.is(h264Profile('640c1f'), 'constrained high');
  t.is(h264Profile('f4001f'), 'predictive high 4:4:4');
  t.is(h264Profile(undefined), 'baseline', 'RFC 6184: no profile-level-id means Baseline level 1');
  t.is(h264Profile('6e001f'), 'profile 6e00');
});

const track = (fmtps) => ({ kind: 'video', mid: '0', index: 0, rids: [], rtcpFb: [], extensions: [], rtcpRsize: false, codecs: fmtps.map((f, i) => ({ payloadType: 100 + i, name: 'H264', clockRate: 90000, fmtp: f })) });

test('a viewer format matches by profile and packetization mode, preferring the same profile over a superset', (t) => {
  const source = { payloadType: 102, name: 'H264', clockRate: 90000, fmtp: 'packetization-mode=1;profile-level-id=42e034' };
  const viewer = track(['packetization-mode=1;profile-level-id=640c1f', 'packetization-mode=0;profile-level-id=42e01f', 'packetization-mode=1;profile-level-id=42001f', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f']);
  t.is(matchViewerCodec(viewer, source)?.payloadType, 103, 'same profile and mode; its own fmtp line');
  t.is(matchViewerCodec(viewer, source)?.fmtp, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
  t.is(matchViewerCodec(track(['packetization-mode=1;profile-level-id=640c1f']), source)?.payloadType, 100, 'a constrained-high decoder plays constrained baseline');
  const high = { ...source, fmtp: 'packetization-mode=1;profile-level-id=640028' };
  t.is(matchViewerCodec(track(['packetization-mode=1;profile-level-id=42e01f']), high), undefined, 'constrained baseline cannot play high');
  t.is(matchViewerCodec(track(['packetization-mode=0;profile-level-id=640028']), high), undefined, 'packetization mode must match');
  const vp9 = (pid) => ({ payloadType: 98, name: 'VP9', clockRate: 90000, ...(pid ? { fmtp: `profile-id=${pid}` } : {}) });
  const viewerVp9 = { ...track([]), codecs: [vp9('2'), { ...vp9(undefined), payloadType: 99 }] };
  t.is(matchViewerCodec(viewerVp9, vp9('0'))?.payloadType, 99, 'VP9 profile-id defaults to 0');
  t.is(matchViewerCodec({ ...viewerVp9, codecs: [vp9('2')] }, vp9(undefined)), undefined);
  const av1 = { payloadType: 45, name: 'AV1', clockRate: 90000, fmtp: 'profile=1' };
  t.is(matchViewerCodec({ ...track([]), codecs: [{ ...av1, fmtp: undefined }] }, av1), undefined, 'AV1 profile defaults to 0');
});

test('a=setup: the offer\'s role is exposed and the relay takes the other one', (t) => {
  t.is(parseOffer(offer(), 'publisher').dtlsSetup, 'actpass');
  t.is(parseOffer(offer().replaceAll('a=setup:actpass', 'a=setup:active'), 'publisher').dtlsSetup, 'active');
  t.is(parseOffer(offer().replaceAll('a=setup:actpass', 'a=setup:passive'), 'publisher').dtlsSetup, 'passive');
  t.is(answerSetup('actpass'), 'passive');
  t.is(answerSetup('active'), 'passive');
  t.is(answerSetup('passive'), 'active');
  const mixed = offer().replace('a=setup:actpass', 'a=setup:passive');
  t.throws(() => parseOffer(mixed, 'publisher'), { instanceOf: HttpError, message: /a=setup/ });
  t.throws(() => parseOffer(offer().replaceAll('a=setup:actpass', 'a=setup:holdconn'), 'publisher'), { instanceOf: HttpError, message: /holdconn/ });
});

test('bundle-only sections inside the BUNDLE group are accepted; port 0 without bundle-only is not', (t) => {
  const bundleOnly = offer().replace('m=audio 9 ', 'm=audio 0 ').replace('a=mid:1', 'a=mid:1\r\na=bundle-only');
  const p = parseOffer(bundleOnly, 'publisher');
  t.deepEqual(p.sections.map((s) => [s.accepted, s.bundleOnly]), [[true, false], [true, true]]);
  const disabled = parseOffer(offer().replace('m=audio 9 ', 'm=audio 0 '), 'publisher');
  t.deepEqual(disabled.sections.map((s) => s.accepted), [true, false]);
  t.regex(disabled.sections[1].reason, /port 0/);
  const outside = offer().replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0').replace('m=audio 9 ', 'm=audio 0 ').replace('a=mid:1', 'a=mid:1\r\na=bundle-only');
  t.deepEqual(parseOffer(outside, 'publisher').sections.map((s) => s.accepted), [true, false], 'bundle-only outside the group is a plain port 0');
});

test('rtcp-rsize is exposed per section and for the session, and answered where offered', (t) => {
  const both = offer().replaceAll('a=rtcp-mux', 'a=rtcp-mux\r\na=rtcp-rsize');
  const videoOnly = offer().replace('a=rtcp-mux', 'a=rtcp-mux\r\na=rtcp-rsize');
  t.true(parseOffer(both, 'publisher').rtcpRsize);
  const v = parseOffer(videoOnly, 'publisher');
  t.false(v.rtcpRsize, 'only when every accepted section offers it');
  t.deepEqual(v.tracks.map((x) => x.rtcpRsize), [true, false]);
  const answer = buildAnswer({
    role: 'publisher',
    offer: v,
    ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' },
    fingerprint: Array(32).fill('AB').join(':'),
    candidates: [{ ip: '127.0.0.1', port: 40000 }],
    tracks: v.tracks.map((x) => ({ kind: x.kind, mid: x.mid, codec: x.codecs[0] })),
    streamName: 's',
  });
  t.deepEqual(checkSdp(answer), []);
  t.is(answer.split('a=rtcp-rsize').length - 1, 1);
  t.regex(answer.slice(answer.indexOf('m=video'), answer.indexOf('m=audio')), /a=rtcp-rsize/);
});

test('msid ids stay within RFC 8830\'s 64 characters for long stream names', (t) => {
  const name = 'x'.repeat(128);
  const v = parseOffer(offer({ direction: 'recvonly' }), 'viewer');
  const answer = buildAnswer({
    role: 'viewer',
    offer: v,
    ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' },
    fingerprint: Array(32).fill('AB').join(':'),
    candidates: [{ ip: '127.0.0.1', port: 40000 }],
    tracks: v.tracks.map((x, i) => ({ kind: x.kind, mid: x.mid, codec: x.codecs[0], ssrc: 1000 + i })),
    streamName: name,
  });
  t.deepEqual(checkSdp(answer), []);
});
