import test from 'ava';
import { spawnPeer, until, sleep } from './helpers.mjs';
import { startNode, startRedis } from './cluster-helpers.mjs';

const PACKETS = 150;
const range = (n) => Array.from({ length: n }, (_, i) => i);
const pullsOf = (relay) => relay.clusterStats().pulls;

test.serial('origin → two edges: 10 viewers on each edge get every packet; each edge holds one pull; pulls close after the last viewer leaves', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a');
  const b = await startNode(t, redis.url, 'node-b');
  const c = await startNode(t, redis.url, 'node-c');

  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/live`, String(PACKETS), '10', 'both']);
  await pub.waitFor('open');
  const vb = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/live`, '10'], { env: { VIEWER_PORT_BASE: '30000' } });
  const vc = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/live`, '10'], { env: { VIEWER_PORT_BASE: '31000' } });
  t.is((await vb.waitFor('ready', 30000)).open, 10);
  t.is((await vc.waitFor('ready', 30000)).open, 10);

  t.is(a.relay.stats().viewers, 2, "the origin's only viewers are the two edges' pulls");
  t.is(b.relay.stats().viewers, 10);
  t.is(c.relay.stats().viewers, 10);
  t.deepEqual(pullsOf(b.relay), [{ stream: 'live', upstream: 'node-a', lost: false }]);
  t.deepEqual(pullsOf(c.relay), [{ stream: 'live', upstream: 'node-a', lost: false }]);
  t.deepEqual(pullsOf(a.relay), []);
  // The edges' pulls are connected (they count as publishers there) before media starts.
  t.true(await until(() => b.relay.stats().publishers === 1 && c.relay.stats().publishers === 1, 10000));

  pub.send('start');
  await pub.waitFor('sent', 30000);
  for (const [name, v] of [['B', vb], ['C', vc]]) {
    let report;
    await until(async () => {
      report = await v.request('report', 'report');
      return report.viewers.every((x) => x.video.length >= PACKETS && x.audio.length >= PACKETS);
    }, 5000, 200);
    for (const x of report.viewers) {
      t.deepEqual(x.video, range(PACKETS), `edge ${name} viewer ${x.index}: every video packet in order`);
      t.deepEqual(x.audio, range(PACKETS), `edge ${name} viewer ${x.index}: every audio packet in order`);
      t.is(x.bad, 0);
      t.is(x.seqGaps, 0);
    }
  }
  for (const n of [a, b, c]) t.is(n.relay.stats().workers.reduce((s, w) => s + w.srtpErrors, 0), 0);

  // The last viewer leaves B: B's pull closes within the linger (1 s here), C's stays.
  for (let i = 0; i < 10; i++) await vb.request(`leave ${i}`, 'left');
  const left = Date.now();
  t.true(await until(() => pullsOf(b.relay).length === 0, 3000), "B's pull closed");
  const took = Date.now() - left;
  t.true(took >= 800 && took < 2500, `closed after the linger, not before (${took} ms)`);
  t.true(await until(() => a.relay.stats().viewers === 1, 3000), 'the origin freed B\'s relay session');
  t.is(b.relay.stats().streams, 0);
  t.is(pullsOf(c.relay).length, 1);
});
