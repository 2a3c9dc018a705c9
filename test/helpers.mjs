import { spawn } from 'node:child_process';
import { killTimeoutGroup } from './netns.mjs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRelay } from '../dist/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The options every test relay starts from: loopback, its own port range, two workers, silent. */
function loopbackOptions(options) {
  const base = 41000 + Math.floor(Math.random() * 200) * 20;
  return {
    host: '127.0.0.1',
    rtcBindAddress: '127.0.0.1',
    rtcPortMin: base,
    rtcPortMax: base + 19,
    workers: 2,
    logLevel: 'silent',
    // Every test peer connects from 127.0.0.1; tests of the limit set it themselves.
    sessionsPerIpPerSecond: 0,
    ...options,
  };
}

/** A relay on loopback with its own port range, logging nothing. */
export async function startRelay(t, options = {}) {
  const relay = createRelay(loopbackOptions({ port: 0, ...options }));
  const { port } = await relay.listen();
  t.teardown(() => relay.close());
  return { relay, port, url: `http://127.0.0.1:${port}` };
}

/**
 * The same relay embedded in a node:http server through nodeHandler() (routes) and its upgrade
 * listener (WebSocket signaling over the `ws` library), instead of its own uWebSockets.js server.
 */
export async function startNodeRelay(t, options = {}) {
  const { createServer } = await import('node:http');
  const relay = createRelay(loopbackOptions(options));
  const handler = relay.nodeHandler();
  const server = createServer((req, res) => handler(req, res));
  server.on('upgrade', (req, socket, head) => {
    if (!handler.upgrade(req, socket, head)) socket.destroy();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await relay.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const { port } = server.address();
  return { relay, port, url: `http://127.0.0.1:${port}`, server };
}

/**
 * A peer script in its own process (node-datachannel peers of one stream must not share a
 * process with each other, see shared/PEERS.md), hard-killed after `limitSec`.
 */
export function spawnPeer(t, script, args, { limitSec = 90, env = {} } = {}) {
  const child = spawn('timeout', ['-s', 'KILL', String(limitSec), process.execPath, `${here}peers/${script}`, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const messages = [];
  const waiters = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    messages.push(msg);
    for (const w of [...waiters]) {
      if (w.match(msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(msg);
      }
    }
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`${script} exited before "${w.event}"; stderr: ${stderr.slice(-2000)}`));
  });
  t.teardown(() => {
    if (exited) return;
    // GNU timeout leads its own process group: kill the group, or the node peer outlives this
    // test holding our stdio pipes, and the test file only ends when the peer's watchdog fires.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  });
  return {
    child,
    messages,
    get stderr() {
      return stderr;
    },
    send(cmd) {
      child.stdin.write(`${cmd}\n`);
    },
    waitFor(event, ms = 20000) {
      const found = messages.find((m) => m.event === event);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { event, match: (m) => m.event === event, resolve, reject };
        if (exited) {
          reject(new Error(`${script} already exited; stderr: ${stderr.slice(-2000)}`));
          return;
        }
        waiters.push(w);
        setTimeout(() => reject(new Error(`timed out waiting for "${event}" from ${script}; stderr: ${stderr.slice(-2000)}`)), ms).unref();
      });
    },
    /** Asks for a fresh message of `event` after sending `cmd`. */
    async request(cmd, event, ms = 20000) {
      const before = messages.length;
      this.send(cmd);
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const m = messages.slice(before).find((x) => x.event === event);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`timed out waiting for "${event}" after "${cmd}"; stderr: ${stderr.slice(-2000)}`);
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(fn, ms = 10000, step = 50) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(step);
  }
  return false;
}

/** Asks a viewers.mjs process for reports until `done(report)` holds (or `ms` pass); the last one. */
export async function reportWhen(viewers, done, ms = 5000) {
  let report;
  await until(async () => {
    report = await viewers.request('report', 'report');
    return done(report);
  }, ms, 200);
  return report;
}

/**
 * Every viewer of a viewers.mjs report got each of `packets` video packets exactly once, with no
 * corrupted payload (and, with `inOrder`, in sending order).
 */
export function assertEveryPacketOnce(t, report, packets, { inOrder = false } = {}) {
  for (const v of report.viewers) {
    t.is(new Set(v.video).size, packets, `viewer ${v.index}: every packet once`);
    if (inOrder) t.deepEqual(v.video, [...v.video].sort((x, y) => x - y), `viewer ${v.index}: in order`);
    t.is(v.bad, 0, `viewer ${v.index}: no corrupted payload`);
  }
}

/**
 * `cmd args` under `timeout -s KILL limitSec` in a process group of its own, killed (the whole
 * group) at the test's teardown or by `kill()`, which resolves once it has exited.
 */
export function spawnGroup(t, cmd, args, { limitSec = 120, ...spawnOptions } = {}) {
  const child = spawn('timeout', ['-s', 'KILL', String(limitSec), cmd, ...args], { stdio: 'ignore', ...spawnOptions, detached: true });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killTimeoutGroup(child);
    await exited;
  };
  t.teardown(kill);
  return { child, exited, kill };
}
