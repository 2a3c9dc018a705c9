import test from 'ava';
import { spawnPeer, startRelay, until, sleep, reportWhen } from './helpers.mjs';

const PACKETS = 150;

function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}

for (const codec of ['H264', 'VP8']) {
  test.serial(`${codec} + Opus: one WHIP publisher reaches 20 WHEP viewers, every packet, in order`, async (t) => {
    const { relay, url } = await startRelay(t);
    const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/live`, String(PACKETS), '10', 'both', codec]);
    await pub.waitFor('open');
    const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/live`, '20', codec]);
    const ready = await viewers.waitFor('ready', 30000);
    t.is(ready.open, 20, 'all 20 viewers have open tracks');
    t.true(await until(() => relay.stats().viewers === 20));

    pub.send('start');
    await pub.waitFor('sent', 30000);
    // Loopback delivery is immediate; give the last packets a moment.
    const report = await reportWhen(viewers, (report) => report.viewers.every((v) => v.video.length >= PACKETS && v.audio.length >= PACKETS), 5000);

    for (const v of report.viewers) {
      t.deepEqual(v.video, range(PACKETS), `viewer ${v.index} got every video packet in order`);
      t.deepEqual(v.audio, range(PACKETS), `viewer ${v.index} got every audio packet in order`);
      t.is(v.bad, 0, `viewer ${v.index} saw no corrupted payload`);
      t.is(v.seqGaps, 0, `viewer ${v.index} saw continuous sequence numbers`);
      t.is(v.ssrcs, 2, `viewer ${v.index} saw one SSRC per track`);
    }
    const stats = relay.stats();
    t.is(stats.workers.reduce((a, w) => a + w.srtpErrors, 0), 0);
    t.true(stats.workers.every((w) => w.viewers > 0), 'viewers are spread over both workers');
  });
}

test.serial('a viewer leaving does not disturb the others; the publisher DELETE ends the viewers', async (t) => {
  const { relay, url } = await startRelay(t);
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/s2`, '100', '10', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/s2`, '3']);
  t.is((await viewers.waitFor('ready', 30000)).open, 3);
  const left = await viewers.request('leave 1', 'left');
  t.is(left.status, 200);
  t.true(await until(() => relay.stats().viewers === 2));
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (report) => [0, 2].every((i) => report.viewers[i].video.length >= 100), 5000);
  t.deepEqual(report.viewers[0].video, range(100));
  t.deepEqual(report.viewers[2].video, range(100));
  t.true(report.viewers[1].video.length < 100, 'the viewer that left stopped receiving');

  const del = await pub.request('delete', 'deleted');
  t.is(del.status, 200);
  t.true(await until(() => relay.stats().viewers === 0 && relay.stats().streams === 0), 'viewers and stream are gone');
  const res = await fetch(`${url}/whep/s2`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' });
  t.is(res.status, 404);
  await sleep(100);
  const after = relay.stats().workers.reduce((a, w) => a + w.peers, 0);
  t.is(after, 0, 'no native peer is left behind');
});

test.serial('a viewer whose DTLS certificate does not match its SDP fingerprint is closed and gets nothing', async (t) => {
  const { relay, url } = await startRelay(t);
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/fp`, '50', '10', 'video']);
  await pub.waitFor('open');
  const left = [];
  relay.on('viewer:leave', (e) => left.push(e));
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/fp`, '1', 'H264', 'badfp']);
  const ready = await viewers.waitFor('ready', 20000);
  t.is(ready.open, 0, 'the viewer never gets a working connection');
  t.true(await until(() => left.length === 1, 15000), 'the relay closed the viewer');
  t.is(left[0].reason, 'dtls-failed');
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await viewers.request('report', 'report');
  t.is(report.viewers[0].video.length, 0);
});
