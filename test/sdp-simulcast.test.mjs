import test from 'ava';
import { buildAnswer } from '../dist/media/answer.js';
import { parseOffer } from '../dist/media/sdp.js';

const FP = Array(32).fill('AB').join(':');

/** A publisher offer shaped like Chromium's with three rid layers (trimmed to what matters). */
function simulcastOffer({ simulcast = 'a=simulcast:send q;h;f', rids = ['q', 'h', 'f'], ridExt = true } = {}) {
  return [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly',
    'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijklmn', `a=fingerprint:sha-256 ${FP}`, 'a=setup:actpass', 'a=rtcp-mux',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=rtpmap:111 opus/48000/2',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly',
    'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijklmn', `a=fingerprint:sha-256 ${FP}`, 'a=setup:actpass', 'a=rtcp-mux',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    ...(ridExt ? ['a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', 'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id'] : []),
    'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000', 'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    ...rids.map((r) => `a=rid:${r} send`),
    ...(simulcast ? [simulcast] : []),
    '',
  ].join('\r\n');
}

function answerFor(offerText) {
  const offer = parseOffer(offerText, 'publisher');
  const video = offer.tracks.find((t) => t.kind === 'video');
  return {
    offer,
    video,
    answer: buildAnswer({
      role: 'publisher',
      offer,
      ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' },
      fingerprint: FP,
      candidates: [{ ip: '127.0.0.1', port: 40000 }],
      tracks: offer.tracks.map((t) => ({ kind: t.kind, mid: t.mid, codec: t.codecs[0] })),
      streamName: 's',
    }),
  };
}

test('a simulcast offer exposes its rids in order and the rid extension ids', (t) => {
  const { video, offer } = answerFor(simulcastOffer());
  t.deepEqual(video.rids, ['q', 'h', 'f']);
  t.is(video.ridExtensionId, 10);
  t.is(video.repairedRidExtensionId, 11);
  t.deepEqual(offer.tracks.find((tr) => tr.kind === 'audio').rids, []);
});

test('the answer receives every simulcast layer and keeps the mid/rid/repaired-rid extensions', (t) => {
  const { answer } = answerFor(simulcastOffer());
  const video = answer.slice(answer.indexOf('m=video'));
  t.regex(video, /a=rid:q recv\r\n/);
  t.regex(video, /a=rid:h recv\r\n/);
  t.regex(video, /a=rid:f recv\r\n/);
  t.regex(video, /a=simulcast:recv q;h;f\r\n/);
  t.regex(video, /a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n/);
  t.regex(video, /a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n/);
  t.regex(video, /a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n/);
  t.notRegex(video, /transport-wide-cc/, 'extensions the relay does not handle are not accepted');
  t.notRegex(answer.slice(0, answer.indexOf('m=video')), /a=simulcast/, 'audio is not simulcast');
});

test('simulcast order, alternatives and paused layers follow the offer', (t) => {
  const { video, answer } = answerFor(simulcastOffer({ simulcast: 'a=simulcast:send f;~h,q', rids: ['f', 'h', 'q'] }));
  t.deepEqual(video.rids, ['f', 'h']);
  t.regex(answer, /a=simulcast:recv f;h\r\n/);
  t.notRegex(answer, /a=rid:q/);
});

test('rids without a=simulcast are not simulcast, and a layer needs its a=rid line', (t) => {
  t.deepEqual(answerFor(simulcastOffer({ simulcast: null })).video.rids, []);
  t.notRegex(answerFor(simulcastOffer({ simulcast: null })).answer, /a=(rid|simulcast)/);
  t.deepEqual(answerFor(simulcastOffer({ rids: ['q', 'f'] })).video.rids, ['q', 'f']);
});

test('simulcast without the rid header extension is refused with a reason', (t) => {
  const err = t.throws(() => parseOffer(simulcastOffer({ ridExt: false }), 'publisher'));
  t.is(err.status, 400);
  t.regex(err.message, /rtp-stream-id/);
});

test('a viewer offer never carries rids', (t) => {
  const viewer = simulcastOffer().replaceAll('a=sendonly', 'a=recvonly');
  t.deepEqual(parseOffer(viewer, 'viewer').tracks.find((tr) => tr.kind === 'video').rids, []);
});
