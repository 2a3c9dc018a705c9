// `npm start`, the README's way to run the relay, under a process manager: the signal goes to
// npm, which passes it to its child. The start script execs node, so that child is the relay
// itself; with a shell in between (Debian's dash does not exec a lone command) the relay
// outlived npm's SIGTERM and kept its ports.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { freePort } from './cluster-helpers.mjs';
import { until } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The PIDs whose parent is `pid` (from /proc/<pid>/task/<pid>/children). */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('npm start runs the relay itself, and SIGTERM to npm stops it', async (t) => {
  const port = await freePort();
  const rtc = 47_000 + (port % 1000) * 2;
  const env = { ...process.env, HALFSEC_PORT: String(port), HALFSEC_WORKERS: '1', HALFSEC_RTC_PORTS: `${rtc}-${rtc + 1}`, HALFSEC_RTC_TCP_PORT: '0', HALFSEC_LOG_LEVEL: 'warn' };
  const npm = spawn('npm', ['start', '--silent'], { cwd: root, env, stdio: 'ignore', detached: true });
  const npmExit = new Promise((r) => npm.once('exit', (code, signal) => r({ code, signal })));
  // npm's process group: whatever it started, even what outlived it, goes with it.
  t.teardown(() => {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {}
  });
  const healthy = async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok === true;
  t.true(await until(healthy, 20_000, 200), 'the relay answered /healthz');
  const relays = childrenOf(npm.pid);
  t.is(relays.length, 1, `npm has one child: ${relays}`);
  t.is(readFileSync(`/proc/${relays[0]}/comm`, 'utf8').trim(), 'node', 'and it is the relay, not a shell');

  process.kill(npm.pid, 'SIGTERM');
  await npmExit;
  t.true(await until(() => !alive(relays[0]), 10_000, 100), 'the relay exited after npm was told to stop');
  t.false(await healthy(), 'and its HTTP port is closed');
});
