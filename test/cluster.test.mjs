import test from 'ava';
import { spawnPeer, until, sleep, reportWhen } from './helpers.mjs';
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
    const report = await reportWhen(v, (report) => report.viewers.every((x) => x.video.length >= PACKETS && x.audio.length >= PACKETS), 5000);
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

test.serial('the origin publisher leaves and returns: the edge keeps its viewers and re-pulls; redirect when full; drain', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a');
  const c = await startNode(t, redis.url, 'node-c', { capacityViewers: 3, whepRedirect: true });

  const pub1 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/back`, '60', '10', 'both']);
  await pub1.waitFor('open');
  const v = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/back`, '3']);
  t.is((await v.waitFor('ready', 30000)).open, 3);
  t.true(await until(() => c.relay.stats().publishers === 1, 10000));
  pub1.send('start');
  await pub1.waitFor('sent', 30000);
  t.true(await until(async () => (await v.request('report', 'report')).viewers.every((x) => x.video.length >= 60), 5000, 200));

  // C is full (3 viewers, capacity 3): a new viewer is sent to A, per the WHEP redirect.
  const redirected = await fetch(`${c.url}/whep/back`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n', redirect: 'manual' });
  t.is(redirected.status, 307);
  t.is(redirected.headers.get('location'), `${a.url}/whep/back`);

  // The publisher leaves: C's pull loses its source, C's viewers stay.
  t.is((await pub1.request('delete', 'deleted')).status, 200);
  t.true(await until(() => c.relay.clusterStats().pulls[0]?.lost === true, 5000), 'the edge noticed the source is gone');
  t.is(c.relay.stats().viewers, 3, 'viewers stay on the edge meanwhile');

  // It comes back: the edge re-pulls by itself, and the same viewer sessions get the new media.
  const pub2 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/back`, '100', '10', 'both']);
  await pub2.waitFor('open');
  t.true(await until(() => c.relay.clusterStats().pulls[0]?.lost === false && c.relay.stats().publishers === 1, 10000), 'the edge re-pulled');
  pub2.send('start');
  await pub2.waitFor('sent', 30000);
  const report = await reportWhen(v, (report) => report.viewers.every((x) => x.video.length >= 160 && x.audio.length >= 160), 5000);
  for (const x of report.viewers) {
    t.deepEqual(x.video.slice(60), range(100), `viewer ${x.index}: every video packet after the return`);
    t.deepEqual(x.audio.slice(60), range(100), `viewer ${x.index}: every audio packet after the return`);
    t.is(x.seqGaps, 0, 'the sequence numbers carry on across the source change');
    t.is(x.ssrcs, 2, 'and so does the SSRC');
  }

  // Drain: no new viewers (503 + Retry-After), the registry says so, the node closes at the timeout.
  const drained = c.relay.drain(800);
  const refused = await fetch(`${c.url}/whep/back`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' });
  t.is(refused.status, 503);
  t.is(refused.headers.get('retry-after'), '5');
  const cluster = await (await fetch(`${a.url}/api/cluster`)).json();
  t.true(cluster.nodes.find((n) => n.id === 'node-c')?.draining, 'the registry shows C draining');
  const director = await (await fetch(`${a.url}/api/director/back`)).json();
  t.is(director.node, 'node-a', 'the director sends no one to a draining node');
  await drained;
  t.is(c.relay.stats().viewers, 0, 'closed after the drain timeout');
});

test.serial('a pull that would loop is refused', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a');
  const res = await fetch(`${a.url}/whep/x`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', 'X-Halfsec-Path': 'node-b,node-a,node-c' }, body: 'v=0\r\n' });
  t.is(res.status, 508);
  t.regex((await res.json()).error, /loop/);
});

test.serial('a WebSocket view on an edge pulls the stream too', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a');
  const b = await startNode(t, redis.url, 'node-b');
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/wsv`, '50', '10', 'video']);
  await pub.waitFor('open');
  const v = spawnPeer(t, 'viewers.mjs', [`ws://127.0.0.1:${new URL(b.url).port}/ws?stream=wsv`, '1']);
  t.is((await v.waitFor('ready', 30000)).open, 1);
  t.deepEqual(b.relay.clusterStats().pulls.map((p) => p.upstream), ['node-a']);
  t.true(await until(() => b.relay.stats().publishers === 1, 10000));
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(v, (report) => report.viewers[0].video.length >= 50, 5000);
  t.deepEqual(report.viewers[0].video, range(50));
});
