// What a publisher's answer and native peer get for congestion control: transport-cc feedback
// (draft-holmer-rmcat-transport-wide-cc-extensions-01) where offered, REMB always, and the
// maxPublishKbps ceiling as REMB and b=AS / b=TIAS (RFC 3890) on video.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { buildAnswer } from '../dist/media/answer.js';
import { planPublisher } from '../dist/media/publisher.js';
import { parseOffer } from '../dist/media/sdp.js';
import { checkSdp } from './sdp-grammar.mjs';

const chromium = readFileSync(new URL('./fixtures/offers/chromium-publisher.sdp', import.meta.url), 'utf8');
const TCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

function answerFor(sdp, maxBps) {
  const offer = parseOffer(sdp, 'publisher');
  const plan = planPublisher(offer, maxBps);
  const answer = buildAnswer({
    role: 'publisher',
    offer,
    ice: { ufrag: 'wxyz', pwd: '0123456789abcdefghijklmnopqrstuv' },
    fingerprint: Array(32).fill('AB').join(':'),
    candidates: [{ ip: '127.0.0.1', port: 40000 }],
    tracks: plan.tracks,
    streamName: 's',
  });
  return { plan, answer, section: (kind) => answer.slice(answer.indexOf(`m=${kind}`)).split(/\r\n(?=m=)/)[0] };
}

test('a Chromium offer gets transport-cc on both sections, REMB and b=AS/b=TIAS at the ceiling on video', (t) => {
  const { plan, answer, section } = answerFor(chromium, 6_000_000);
  t.deepEqual(checkSdp(answer), []);
  t.is(plan.peer.transportCcExtId, 3, 'the offered extension id goes to the data plane');
  t.is(plan.peer.rembBps, 6_000_000);
  for (const kind of ['audio', 'video']) {
    const m = section(kind);
    t.regex(m, new RegExp(`a=extmap:3 ${TCC.replaceAll('.', '\\.')}\\r\\n`), `${kind}: extension answered`);
    t.regex(m, /a=rtcp-fb:\d+ transport-cc\r\n/, `${kind}: feedback answered`);
  }
  t.regex(section('video'), /b=AS:6000\r\nb=TIAS:6000000\r\n/);
  t.notRegex(section('audio'), /b=AS/);
  t.regex(section('video'), /a=rtcp-fb:\d+ goog-remb\r\n/, 'REMB stays');
  const pt = plan.tracks.find((x) => x.kind === 'video').codec.payloadType;
  t.regex(section('video'), new RegExp(`a=fmtp:${pt} \\S*;x-google-start-bitrate=1500\r\n`), "libwebrtc's estimator starts at 1.5 Mbit/s");
  t.regex(answerFor(chromium, 1_000_000).section('video'), /x-google-start-bitrate=1000\r\n/, 'never above the ceiling');
  t.notRegex(section('audio'), /x-google/);
});

test('an offer without transport-cc (REMB only) is answered without it; an extension without the feedback is not enough', (t) => {
  const noFb = chromium.replace(/^a=rtcp-fb:\d+ transport-cc\r\n/gm, '');
  const a = answerFor(noFb, 20_000_000);
  t.deepEqual(checkSdp(a.answer), []);
  t.is(a.plan.peer.transportCcExtId, undefined);
  t.false(a.answer.includes(TCC), 'the extension is not answered without feedback');
  t.false(a.answer.includes('transport-cc'));
  t.false(a.answer.includes('x-google-start-bitrate'), 'a REMB-only publisher starts from the REMB figure anyway');
  t.is(a.plan.peer.rembBps, 20_000_000);

  const noExt = chromium.replace(/^a=extmap:\d+ http:\/\/www\.ietf\.org\/id\/draft-holmer\S*\r\n/gm, '');
  const b = answerFor(noExt, 20_000_000);
  t.is(b.plan.peer.transportCcExtId, undefined);
  t.false(b.answer.includes('transport-cc'));
});

test('a section whose transport-wide-cc id differs from the first one is answered without it', (t) => {
  // Under BUNDLE one id names the extension on every section; a stray id is not believed.
  let seen = 0;
  const stray = chromium.replace(/^a=extmap:3 (http:\/\/www\.ietf\.org\/id\/draft-holmer\S*)\r\n/gm, (line, uri) => (seen++ === 0 ? line : `a=extmap:9 ${uri}\r\n`));
  const { plan, section } = answerFor(stray, 20_000_000);
  t.is(plan.peer.transportCcExtId, 3);
  t.regex(section('audio'), /transport-cc/);
  t.notRegex(section('video'), /transport-cc/);
});
