// Issue 12, "Every real client connects": what arrives when RTCP must be compound, when a
// publisher's encoder restarts (new SSRC, or its sequence numbers jump), and when viewers join
// a publisher that makes keyframes only when asked.
import test from 'ava';
import { startLossyProxy } from './lossy-proxy.mjs';
import { reportWhen, sleep, spawnPeer, startRelay, until } from './helpers.mjs';

const unique = (arr) => new Set(arr).size;
const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);
const keyframeRequests = (relay) => relay.stats().workers.reduce((sum, w) => sum + w.keyframeRequests, 0);

test.serial('every RTCP datagram to the publisher and to viewers is compound: SR or RR first, SDES CNAME', async (t) => {
  const { relay, url } = await startRelay(t, { workers: 1 });
  const target = { host: '127.0.0.1', port: relay.stats().workers[0].port };
  // Upstream loss makes the relay NACK the publisher; viewers' PLIs make it send a PLI.
  const proxy = await startLossyProxy(t, { target, toRelayLoss: 0.05, seed: 5 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/compound`, '300', '8', 'both'], { env: { PROXY_PORT: String(proxy.port) } });
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/compound`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  pub.send('start');
  await until(async () => (await viewers.request('report', 'report')).viewers.every((v) => v.video.length > 20), 5000, 100);
  await sleep(400);
  await viewers.request('pli', 'pli-sent');
  await pub.waitFor('sent', 30000);
  await sleep(1200); // a receiver report or two more
  const { datagrams } = await pub.request('rtcp', 'rtcp');
  const types = new Set(datagrams.flatMap((d) => d.types));
  t.true(types.has('205.1'), `the relay NACKed upstream (${[...types]})`);
  t.true(types.has('206.1'), `the relay sent a PLI upstream (${[...types]})`);
  const loose = datagrams.filter((d) => (d.first !== 200 && d.first !== 201) || !d.cname);
  t.deepEqual(loose, [], `${loose.length} of ${datagrams.length} datagrams to the publisher were not compound`);
  const report = await viewers.request('report', 'report');
  for (const v of report.viewers) {
    t.true(v.rtcp.length > 0, `viewer ${v.index} got sender reports`);
    t.deepEqual(v.rtcp.filter((d) => d.first !== 200 || !d.cname), [], `viewer ${v.index}: every SR carries SDES CNAME`);
  }
});

test.serial('a publisher that restarts on a new SSRC, then jumps its sequence numbers, is followed with one continuous line per viewer', async (t) => {
  const { url } = await startRelay(t);
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/restart`, '400', '10', 'both'], { env: { PUB_SWITCH_SSRC_AT: '150', PUB_RESTART_SEQ_AT: '300' } });
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/restart`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => r.viewers.every((v) => unique(v.video) >= 400 && unique(v.audio) >= 400), 4000);
  for (const v of report.viewers) {
    const video = new Set(v.video), audio = new Set(v.audio);
    t.deepEqual(range(150, 400).filter((c) => !video.has(c)), [], `viewer ${v.index}: video after the SSRC switch and the sequence restart`);
    t.deepEqual(range(150, 400).filter((c) => !audio.has(c)), [], `viewer ${v.index}: audio after both`);
    t.is(unique(v.video), 400);
    t.is(v.videoSsrcs, 1, 'one video SSRC for the viewer throughout');
    t.is(v.audioSsrcs, 1, 'one audio SSRC for the viewer throughout');
    t.is(v.seqGaps, 0, 'sequence numbers run on without a gap');
    t.is(v.bad, 0);
  }
});

test.serial('a late viewer gets the whole cached H.264 keyframe picture: SPS/PPS and every IDR slice', async (t) => {
  const { url } = await startRelay(t, { keyframeCacheMaxAgeMs: 10000 });
  // One keyframe picture at the start, as encoders packetize it: a STAP-A with SPS and PPS,
  // then two IDR slices (counters 0, 1, 2, one timestamp).
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/au`, '300', '10', 'video'], { env: { PUB_H264_AU: '1', PUB_KEYFRAME_EVERY: '100000' } });
  await pub.waitFor('open');
  pub.send('start');
  await sleep(700);
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/au`, '1']);
  t.is((await viewers.waitFor('ready', 30000)).open, 1);
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => unique(r.viewers[0].video) >= 300, 3000);
  t.deepEqual(report.viewers[0].video.slice(0, 10), range(0, 10), 'starts at the picture\'s first packet (SPS/PPS), then both slices');
  t.is(unique(report.viewers[0].video), 300);
});

for (const codec of ['H264', 'VP8', 'VP9', 'AV1']) {
  test.serial(`${codec}: viewers joining after the cached keyframe aged out get video within 1 s from one merged keyframe request`, async (t) => {
    const { relay, url } = await startRelay(t);
    // Keyframes only at the start and when asked (as a PLI-driven encoder does).
    const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/join${codec}`, '600', '10', 'video', codec], { env: { PUB_KEYFRAME_ON_PLI: '1' } });
    await pub.waitFor('open');
    pub.send('start');
    await sleep(1500); // the first keyframe is now older than keyframeCacheMaxAgeMs (1 s)
    const before = keyframeRequests(relay);
    const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/join${codec}`, '4', codec]);
    t.is((await viewers.waitFor('ready', 30000)).open, 4);
    const report = await reportWhen(viewers, (r) => r.viewers.every((v) => v.firstVideoMs >= 0), 3000);
    for (const v of report.viewers) {
      t.true(v.firstVideoMs >= 0 && v.firstVideoMs < 1000, `viewer ${v.index}: first video ${v.firstVideoMs} ms after its answer`);
      t.is(v.bad, 0);
    }
    t.is(keyframeRequests(relay) - before, 1, 'one keyframe request upstream for four joiners');
  });
}
