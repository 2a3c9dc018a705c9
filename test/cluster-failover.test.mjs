// Failover: the origin process dies; its publisher republishes where the director says; the edges
// re-pull from the new origin and their viewers go on, every packet, sequence numbers unbroken.
import test from 'ava';
import { spawnPeer, until, reportWhen } from './helpers.mjs';
import { startNode, startNodeProcess, startRedis } from './cluster-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-failover-test-0123456';
const range = (n) => Array.from({ length: n }, (_, i) => i);

test.serial('the origin dies: the publisher republishes where the director says, edges re-pull, every viewer resumes within seconds with its sequence numbers unbroken', async (t) => {
  const redis = await startRedis(t);
  const a = await startNodeProcess(t, redis.url, 'node-a', { secret: CLUSTER });
  const opts = { clusterSecret: CLUSTER };
  const b = await startNode(t, redis.url, 'node-b', opts);
  const c = await startNode(t, redis.url, 'node-c', opts);
  const d = await startNode(t, redis.url, 'node-d', opts);

  const pub1 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/f`, '60', '10', 'both']);
  await pub1.waitFor('open');
  const vb = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/f`, '5'], { env: { VIEWER_PORT_BASE: '36000' } });
  const vc = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/f`, '5'], { env: { VIEWER_PORT_BASE: '36400' } });
  t.is((await vb.waitFor('ready', 30000)).open, 5);
  t.is((await vc.waitFor('ready', 30000)).open, 5);
  t.true(await until(() => b.relay.stats().publishers === 1 && c.relay.stats().publishers === 1, 10000));
  pub1.send('start');
  await pub1.waitFor('sent', 30000);
  for (const v of [vb, vc]) await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= 60), 5000);

  // The origin process dies without a word.
  const killedAt = Date.now();
  await a.kill();
  t.true(await until(() => b.relay.clusterStats().pulls[0]?.lost && c.relay.clusterStats().pulls[0]?.lost, 5000), 'both edges noticed');
  const lostAfter = Date.now() - killedAt;

  // The publisher asks the director where to republish: a node that does not hold the stream.
  let dir;
  t.true(await until(async () => (dir = await (await fetch(`${b.url}/api/director/f?role=publish`)).json()).node === 'node-d', 5000), 'the director names the spare node');
  const pub2 = spawnPeer(t, 'publisher.mjs', [dir.whip, '100', '10', 'both']);
  await pub2.waitFor('open');
  t.true(await until(() => [b, c].every((n) => n.relay.clusterStats().pulls[0]?.lost === false && n.relay.clusterStats().pulls[0]?.upstream === 'node-d'), 8000), 'the edges re-pulled from the new origin');
  const resumedAfter = Date.now() - killedAt;
  t.is(b.relay.stats().viewers, 5, 'no viewer lost on B');
  t.is(c.relay.stats().viewers, 5, 'no viewer lost on C');
  t.true(await until(() => b.relay.stats().publishers === 1 && c.relay.stats().publishers === 1, 10000));

  pub2.send('start');
  await pub2.waitFor('sent', 30000);
  for (const [name, v] of [['B', vb], ['C', vc]]) {
    const report = await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= 160 && x.audio.length >= 160), 8000);
    for (const x of report.viewers) {
      t.deepEqual(x.video.slice(60), range(100), `${name} viewer ${x.index}: every video packet from the new origin`);
      t.deepEqual(x.audio.slice(60), range(100), `${name} viewer ${x.index}: every audio packet from the new origin`);
      t.is(x.seqGaps, 0, 'sequence numbers carry on across the failover');
      t.is(x.ssrcs, 2, 'and so do the SSRCs');
    }
  }
  t.log(`origin killed: edges noticed after ${lostAfter} ms, re-pulled from the new origin after ${resumedAfter} ms (publisher republished in between)`);
  t.true(resumedAfter < 8000, `viewers fed again within seconds (${resumedAfter} ms)`);
});
