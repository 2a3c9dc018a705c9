// Real Firefox ESR (puppeteer-core over WebDriver BiDi, fake camera and microphone) publishes and
// watches through the relay: the relay's own /publish and /watch pages, and a plain page using
// web/whip-whep.js with bundlePolicy max-bundle and balanced (VP8, the relay's choice), and with
// VP9 and AV1 asked for (Firefox has no H.264 here). Each test runs its scenario
// (test/peers/firefox-run.mjs) in a network namespace of its own with a veth pair: Firefox
// gathers no candidate on `lo` alone (shared/PEERS.md). Needs root (CI runs as root).
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { firefoxAvailable } from './firefox-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

const why = !firefoxAvailable() ? 'no /usr/bin/firefox-esr' : netnsUnavailable();
const run = (scenario) => runInNetns(process.execPath, [fileURLToPath(new URL('./peers/firefox-run.mjs', import.meta.url)), scenario], { veth: true, limitSec: 110 });
// One Firefox run serves both tests of the page client (bundle policies, codecs).
let plainRun;
const plain = () => (plainRun ??= run('plain'));
const ffTest = why ? test.skip : test.serial;
if (why) test('Firefox tests are skipped', (t) => t.log(why) || t.pass());

function messages(t, r) {
  const errors = r.messages.filter((m) => m.event === 'error');
  t.deepEqual(errors, [], `no error in the Firefox run; stderr: ${r.stderr.slice(-1500)}`);
  t.is(r.code, 0, `exit code; stderr: ${r.stderr.slice(-1500)}`);
  return (event) => r.messages.filter((m) => m.event === event);
}

ffTest('Firefox publishes from /publish and plays it on /watch (max-bundle, VP8): frames decoded, one viewer session', async (t) => {
  const get = messages(t, await run('pages'));
  const [pub] = get('publisher');
  t.is(pub?.state, 'live', `publisher: ${pub?.error}`);
  const [v] = get('viewer');
  t.truthy(v, 'the viewer reported');
  if (!v) return;
  t.true(v.first > 0, `frames decoded: ${v.first} (${v.state}: ${v.error})`);
  t.true(v.later > v.first, `and still decoding: ${v.first} → ${v.later}`);
  t.is(v.codec, 'VP8');
  t.is(v.connects, 1, 'connected at the first attempt');
  t.is(v.viewers, 1, 'no viewer session left behind by retries');
});

ffTest('Firefox publishes and watches with bundlePolicy max-bundle and balanced through web/whip-whep.js', async (t) => {
  const get = messages(t, await plain());
  const runs = get('plain').filter((r) => r.policy);
  t.deepEqual(runs.map((r) => r.policy), ['max-bundle', 'balanced']);
  for (const r of runs) {
    t.is(r.pub, 'connected', `${r.policy}: publisher connection`);
    t.is(r.view, 'connected', `${r.policy}: viewer connection`);
    t.true(r.first > 0 && r.later > r.first, `${r.policy}: frames decoded ${r.first} → ${r.later}`);
    t.is(r.codec, 'video/VP8', r.policy);
    t.is(r.viewers, 1, r.policy);
  }
  t.true(runs[0]?.offerHasBundleOnly, 'the max-bundle offers had bundle-only sections');
  t.false(runs[1]?.offerHasBundleOnly ?? true, 'the balanced offers had none');
});

ffTest('Firefox publishes VP9 and AV1 chosen with web/whip-whep.js and watches each: frames decoded in that codec', async (t) => {
  const get = messages(t, await plain());
  const runs = get('plain').filter((r) => r.videoCodec);
  t.deepEqual(runs.map((r) => r.videoCodec), ['vp9', 'av1']);
  for (const r of runs) {
    const mime = `video/${r.videoCodec.toUpperCase()}`;
    t.is(r.pubCodec, mime, `${r.videoCodec}: the publisher sends it`);
    t.is(r.codec, mime, `${r.videoCodec}: the viewer decodes it`);
    t.is(r.pub, 'connected', `${r.videoCodec}: publisher connection`);
    t.is(r.view, 'connected', `${r.videoCodec}: viewer connection`);
    t.true(r.first > 0 && r.later > r.first, `${r.videoCodec}: frames decoded ${r.first} (after ${r.firstMs} ms) → ${r.later}`);
    t.is(r.viewers, 1, r.videoCodec);
  }
});

ffTest('the page client DELETEs its session when the answer does not apply or the connection fails', async (t) => {
  const get = messages(t, await run('cleanup'));
  const [c] = get('cleanup');
  t.truthy(c);
  if (!c) return;
  t.regex(c.failed ?? '', /SIPCC/, 'watch() rejected with the browser\'s error');
  t.is(c.afterBadAnswer, 0, 'no session left after an answer that did not apply');
  t.is(c.whileUp, 1);
  t.is(c.afterFailed, 0, 'no session left after a failed connection');
});
