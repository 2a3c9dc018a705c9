import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { startRelay, until } from './helpers.mjs';

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
  const { Redis } = await import('ioredis');
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
  const child = spawn('timeout', ['-s', 'KILL', '120', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await gone;
  };
  t.teardown(stop);
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

/** A relay in its own process (so it can die by SIGKILL), on the cluster's Redis. */
export async function startNodeProcess(t, redisUrl, nodeId, { secret, extra = [] } = {}) {
  const port = await freePort();
  const rtc = 47000 + Math.floor(Math.random() * 100) * 10;
  const child = spawn('timeout', ['-s', 'KILL', '120', process.execPath, 'dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', String(port), '--rtc-bind', '127.0.0.1',
    '--rtc-ports', `${rtc}-${rtc + 9}`, '--workers', '1', '--log-level', 'silent', '--redis', redisUrl, '--node-id', nodeId, '--cluster-heartbeat-ms', '300',
    '--sessions-per-ip-per-second', '0', ...extra], { stdio: 'ignore', detached: true, env: { ...process.env, ...(secret ? { HALFSEC_CLUSTER_SECRET: secret } : {}) } });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    await gone;
  };
  t.teardown(kill);
  const url = `http://127.0.0.1:${port}`;
  if (!(await until(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 10000, 100))) throw new Error(`${nodeId} did not start`);
  return { url, kill };
}

