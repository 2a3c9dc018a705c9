import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createServer } from 'node:net';
import { spawnGroup, startRelay, until } from './helpers.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function ping(port) {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** A throwaway redis-server on a free loopback port, killed at teardown (or by `stop()`). */
export async function startRedis(t, port) {
  port ??= await freePort();
  const { kill: stop } = spawnGroup(t, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  if (!(await until(() => ping(port), 5000, 50))) {
    throw new Error('redis-server did not start; the cluster tests need Debian\'s redis-server: as root, `bash scripts/test-deps.sh` (npm test runs it) or `apt-get install -y redis-server`');
  }
  return { port, url: `redis://127.0.0.1:${port}`, stop };
}

/** One cluster node: a relay in this process with the test's cluster timings. */
export function startNode(t, redisUrl, nodeId, options = {}) {
  return startRelay(t, { redisUrl, nodeId, clusterHeartbeatMs: 300, pullLingerMs: 1000, ...options });
}

export async function viewerCount(url) {
  const r = await fetch(`${url}/api/stats`);
  return (await r.json()).viewers;
}

/**
 * A relay in its own process (so it can die by SIGKILL), on the cluster's Redis. `uid`: run it as
 * that user and group (the 7-node tree tells its regions apart by socket owner in nftables).
 * NODE_LOG_DIR=<dir> in the environment: each node logs (level info) to <dir>/<node id>.log.
 */
export async function startNodeProcess(t, redisUrl, nodeId, { secret, extra = [], ip = '127.0.0.1', limitSec = 120, uid } = {}) {
  const port = await freePort();
  const rtc = 47000 + Math.floor(Math.random() * 100) * 10;
  const { kill, child } = spawnGroup(t, process.execPath, ['dist/cli.js', 'serve', '--host', ip, '--port', String(port), '--rtc-bind', ip, '--public-url', `http://${ip}:${port}`,
    '--rtc-ports', `${rtc}-${rtc + 9}`, '--workers', '1', '--log-level', process.env.NODE_LOG_DIR ? 'info' : 'silent', ...(redisUrl ? ['--redis', redisUrl] : []), '--node-id', nodeId, '--cluster-heartbeat-ms', '300',
    '--sessions-per-ip-per-second', '0', ...extra], { limitSec, env: { ...process.env, ...(secret ? { HALFSEC_CLUSTER_SECRET: secret } : {}) }, ...(uid !== undefined ? { uid, gid: uid } : {}), ...(process.env.NODE_LOG_DIR ? { stdio: ['ignore', openSync(`${process.env.NODE_LOG_DIR}/${nodeId}.log`, 'a'), openSync(`${process.env.NODE_LOG_DIR}/${nodeId}.log`, 'a')] } : {}) });
  const url = `http://${ip}:${port}`;
  if (!(await until(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 10000, 100))) throw new Error(`${nodeId} did not start`);
  // The relay's own pid (the group leader is GNU timeout), for its CPU time in /proc.
  const relayPid = () => Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  return { url, kill, port, relayPid };
}


function run(t, cmd, args) {
  return spawnGroup(t, cmd, args, { limitSec: 150 }).kill;
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
export async function startSentinelSet(t) {
  const dir = mkdtempSync(join(tmpdir(), 'halfsec-sentinel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const primary = await freePort();
  const replica = await freePort();
  // --dir: a replica's full sync writes an RDB file there, never into the working tree.
  const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
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

