// Redis without a single point of failure: a primary, a replica and three Redis Sentinels on
// loopback; the primary is killed during a live stream and nothing changes for the viewers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { spawnPeer, until, reportWhen } from './helpers.mjs';
import { freePort, startNode } from './cluster-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-sentinel-test-0123456';
const PACKETS = 700;
const range = (n) => Array.from({ length: n }, (_, i) => i);

function run(t, cmd, args) {
  const child = spawn('timeout', ['-s', 'KILL', '150', cmd, ...args], { stdio: 'ignore' });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await gone;
  };
  t.teardown(kill);
  return kill;
}

async function answers(port, command = ['ping']) {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(...command);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

/** Primary + replica + 3 sentinels (quorum 2, down after 1 s). */
async function startSentinelSet(t) {
  const dir = mkdtempSync(join(tmpdir(), 'halfsec-sentinel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const primary = await freePort();
  const replica = await freePort();
  const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const killPrimary = run(t, 'redis-server', ['--port', String(primary), ...base]);
  run(t, 'redis-server', ['--port', String(replica), '--replicaof', '127.0.0.1', String(primary), ...base]);
  const sentinels = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor halfsec 127.0.0.1 ${primary} 2`, 'sentinel down-after-milliseconds halfsec 1000', 'sentinel failover-timeout halfsec 10000', ''].join('\n'));
    run(t, 'redis-sentinel', [conf]);
    sentinels.push(port);
  }
  const ok = await until(async () => (await answers(replica, ['info', 'replication']))?.includes('master_link_status:up') && (await Promise.all(sentinels.map((p) => answers(p)))).every((x) => x === 'PONG'), 10000, 100);
  if (!ok) throw new Error('the Redis primary/replica/sentinel set did not come up (Debian packages redis-server and redis-sentinel: bash scripts/test-deps.sh)');
  // The sentinels must know each other and the replica before a failover can be elected.
  const otherSentinels = async () => {
    const fields = (await answers(sentinels[0], ['sentinel', 'master', 'halfsec'])) ?? [];
    return Number(fields[fields.indexOf('num-other-sentinels') + 1]);
  };
  if (!(await until(async () => (await otherSentinels()) === 2, 15000, 200))) throw new Error('the sentinels did not find each other');
  // Each sentinel learns the replica from the primary's INFO (every 10 s at first): all must know it.
  const knowReplica = async () => (await Promise.all(sentinels.map((p) => answers(p, ['sentinel', 'replicas', 'halfsec'])))).every((list) => Array.isArray(list) && list.length === 1);
  if (!(await until(knowReplica, 15000, 200))) throw new Error('the sentinels did not learn of the replica');
  const masterPort = async () => Number((await answers(sentinels[0], ['sentinel', 'get-master-addr-by-name', 'halfsec']))?.[1]);
  return { primary, replica, sentinels: sentinels.map((p) => `127.0.0.1:${p}`), killPrimary, masterPort };
}

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
