import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { createRelay } from '../dist/index.js';
import { spawnPeer, until, sleep, reportWhen } from './helpers.mjs';
import { freePort, startNode, startRedis } from './cluster-helpers.mjs';

const metric = async (url, name) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

test.serial('a node killed without deregistering expires from the registry, and the director stops sending viewers there', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a');
  const port = await freePort();
  const rtc = 45000 + Math.floor(Math.random() * 100) * 10;
  // node-0 sorts before node-a, so while both are idle the director picks it.
  const child = spawn('timeout', ['-s', 'KILL', '60', process.execPath, 'dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', String(port), '--rtc-bind', '127.0.0.1',
    '--rtc-ports', `${rtc}-${rtc + 9}`, '--workers', '1', '--log-level', 'silent', '--redis', redis.url, '--node-id', 'node-0', '--cluster-heartbeat-ms', '300'], { stdio: 'ignore' });
  t.teardown(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  });
  const director = async () => (await (await fetch(`${a.url}/api/director/anything`)).json()).node;
  t.true(await until(async () => (await director()) === 'node-0', 10000), 'the director sends viewers to node-0 while it lives');
  t.true(await until(async () => (await metric(a.url, 'halfsec_cluster_nodes')) === 2, 2000), 'the metric counts both nodes');

  const killed = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid, 'SIGKILL');
  await killed;
  const at = Date.now();
  t.true(await until(async () => (await director()) === 'node-a', 5000), 'after the TTL the director answers node-a');
  t.true(Date.now() - at < 3000, 'within about three heartbeats');
  const cluster = await (await fetch(`${a.url}/api/cluster`)).json();
  t.deepEqual(cluster.nodes.map((n) => n.id), ['node-a']);
  t.true(await until(async () => (await metric(a.url, 'halfsec_cluster_nodes')) === 1, 2000));
});

test.serial('Redis unavailable at start and mid-run: no crash, local streams keep flowing, the outage is logged and reported', async (t) => {
  const lines = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      cb();
    },
  });
  const redisPort = await freePort();
  const base = 46000 + Math.floor(Math.random() * 100) * 10;
  const relay = createRelay(
    { host: '127.0.0.1', port: 0, rtcBindAddress: '127.0.0.1', rtcPortMin: base, rtcPortMax: base + 9, workers: 2, redisUrl: `redis://127.0.0.1:${redisPort}`, nodeId: 'lonely', clusterHeartbeatMs: 300 },
    pino({ level: 'info' }, sink),
  );
  const { port } = await relay.listen();
  t.teardown(() => relay.close());
  const url = `http://127.0.0.1:${port}`;

  // No Redis yet: degraded, said once, and reported.
  t.true(await until(() => lines.some((l) => /redis unavailable/.test(l.msg)), 5000), 'the outage is logged');
  await sleep(800);
  t.is(lines.filter((l) => /redis unavailable/.test(l.msg)).length, 1, 'once per outage, not per retry');
  t.false(relay.clusterStats().registryUp);
  t.is(await metric(url, 'halfsec_cluster_registry_up'), 0);

  // A local stream works without the registry.
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/solo`, '200', '20', 'video']);
  await pub.waitFor('open');
  const v = spawnPeer(t, 'viewers.mjs', [`${url}/whep/solo`, '2']);
  t.is((await v.waitFor('ready', 30000)).open, 2);

  // Redis comes up: the node registers itself (and its stream) without a restart.
  const redis = await startRedis(t, redisPort);
  t.true(await until(() => relay.clusterStats().registryUp && relay.clusterStats().nodesSeen === 1, 8000), 'registered once Redis is up');
  t.true(lines.some((l) => /redis connected/.test(l.msg)));
  const director = await (await fetch(`${url}/api/director/solo`)).json();
  t.true(director.carries);

  // Redis dies mid-stream: packets keep flowing to the local viewers.
  pub.send('start');
  await sleep(600);
  await redis.stop();
  t.true(await until(() => !relay.clusterStats().registryUp, 3000));
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(v, (report) => report.viewers.every((x) => x.video.length >= 200), 5000);
  for (const x of report.viewers) t.is(x.video.length, 200, `viewer ${x.index} got every packet through the outage`);
  t.is(lines.filter((l) => /redis unavailable/.test(l.msg)).length, 2, 'the second outage is logged too');
  const res = await fetch(`${url}/healthz`);
  t.is(res.status, 200);
});

// ioredis ends a client for good (status 'end') when a connect attempt is cut short, e.g. its
// Sentinel failover detector disconnecting while a reconnect asks the sentinels: the registry
// must start it again. A disconnect the registry did not ask for reaches the same 'end'.
test.serial('a Redis client that ioredis ended without the registry asking is started again; close() ends it for good', async (t) => {
  const { RedisRegistry } = await import('../dist/cluster/redis-registry.js');
  const redis = await startRedis(t);
  const lines = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const registry = new RedisRegistry({ url: redis.url }, log);
  t.teardown(() => registry.close());
  t.true(await until(() => registry.healthy(), 5000), 'connected');
  registry['redis'].disconnect();
  t.true(await until(() => registry['redis'].status === 'end', 2000), 'ioredis ended the client');
  t.true(await until(() => registry.healthy(), 5000), 'the registry started it again');
  t.true(lines.some((l) => l.msg === 'redis client stopped reconnecting; starting it again'), 'and said so');
  await registry.close();
  await sleep(1000);
  t.false(registry.healthy(), 'after close() it stays closed');
});
