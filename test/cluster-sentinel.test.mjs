// Redis without a single point of failure: a primary, a replica and three Redis Sentinels on
// loopback; the primary is killed during a live stream and nothing changes for the viewers.
import test from 'ava';
import { spawnPeer, until, reportWhen } from './helpers.mjs';
import { startNode, startSentinelSet } from './cluster-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-sentinel-test-0123456';
const PACKETS = 700;
const range = (n) => Array.from({ length: n }, (_, i) => i);

test.serial('the Redis primary fails over to its replica during a live stream: every viewer gets every packet, and the cluster works on through the new primary', async (t) => {
  const set = await startSentinelSet(t);
  const opts = { clusterSecret: CLUSTER, redisSentinels: set.sentinels, redisMasterName: 'halfsec' };
  const a = await startNode(t, undefined, 'node-a', opts);
  const b = await startNode(t, undefined, 'node-b', opts);
  t.true(await until(() => a.relay.clusterStats().registryUp && a.relay.clusterStats().nodesSeen === 2, 8000), 'registered through the sentinels');

  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/sen`, String(PACKETS), '10', 'video']);
  await pub.waitFor('open');
  const v = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/sen`, '5'], { env: { VIEWER_PORT_BASE: '37000' } });
  t.is((await v.waitFor('ready', 30000)).open, 5);
  t.true(await until(() => b.relay.stats().publishers === 1, 10000));
  pub.send('start');
  await new Promise((r) => setTimeout(r, 500));

  const killedAt = Date.now();
  await set.killPrimary();
  t.true(await until(async () => (await set.masterPort()) === set.replica, 15000, 200), 'the sentinels promoted the replica');
  const failoverMs = Date.now() - killedAt;
  t.true(await until(() => [a, b].every((n) => n.relay.clusterStats().registryUp), 8000), 'both nodes reach the new primary');
  const backMs = Date.now() - killedAt;

  await pub.waitFor('sent', 30000);
  const report = await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= PACKETS), 5000);
  for (const x of report.viewers) {
    t.deepEqual(x.video, range(PACKETS), `viewer ${x.index}: every packet through the failover`);
    t.is(x.seqGaps, 0);
  }
  t.is(b.relay.clusterStats().pulls[0]?.upstream, 'node-a', 'the pull was never dropped');

  // The registry on the new primary serves new pulls: a third node joins and pulls.
  const c = await startNode(t, undefined, 'node-c', opts);
  t.true(await until(() => c.relay.clusterStats().registryUp && c.relay.clusterStats().nodesSeen === 3, 8000), 'a new node registers on the new primary');
  const res = await fetch(`${c.url}/api/director/sen`);
  t.is(res.status, 200);
  t.log(`primary SIGKILLed: sentinels promoted the replica after ${failoverMs} ms; both nodes' registry up again after ${backMs} ms; no viewer missed a packet`);
});
