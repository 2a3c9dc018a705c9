// The Dockerfile's build, without a Docker daemon: the build stage's COPY sources go into a temp
// dir as the build context would, the script the Dockerfile RUNs builds there (bounded in time),
// and the result runs as an unprivileged user: it answers /healthz, takes a WHIP offer (the
// native addon loads), serves the dashboard's uPlot, and drains on SIGTERM.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { offer } from './sdp-fixtures.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BUILD_LIMIT_S = 900; // ~3 min on an idle 2-core machine, 6.5 min seen at loadavg 20

/** The Dockerfile's instructions by stage (continuation lines joined, comments dropped). */
function parseDockerfile(text) {
  const stages = [];
  const args = {};
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const [, op, rest] = m;
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k] = v;
      continue;
    }
    if (op === 'FROM') {
      const [image, , name] = rest.replace(/\$\{(\w+)\}/g, (_, k) => args[k] ?? '').split(/\s+/);
      stages.push({ image, name, ops: [] });
      continue;
    }
    stages.at(-1).ops.push({ op, args: rest.trim() });
  }
  return stages;
}

test('the Dockerfile: Debian 12 + Node 20 in both stages, build steps in one script, non-root, exec-form entrypoint', (t) => {
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  t.is(stages.length, 2, 'multi-stage: build, then runtime');
  const [build, run] = stages;
  t.is(build.image, 'node:20-bookworm');
  t.is(run.image, 'node:20-bookworm-slim', 'the runtime has the same Node build (the addon uses its OpenSSL)');
  const runs = build.ops.filter((o) => o.op === 'RUN').map((o) => o.args);
  t.deepEqual(runs, ['bash scripts/build-release.sh /src /opt/halfsec'], 'every build step is in the script this test runs');
  t.true(run.ops.some((o) => o.op === 'COPY' && o.args === '--from=build /opt/halfsec /opt/halfsec'));
  const user = run.ops.filter((o) => o.op === 'USER').at(-1)?.args;
  t.truthy(user && user !== 'root' && user !== '0', `runs as ${user}`);
  t.regex(run.ops.find((o) => o.op === 'ENTRYPOINT').args, /^\["node", "\/opt\/halfsec\/dist\/cli\.js", "serve"\]$/, 'exec form: SIGTERM reaches node (drain)');
  t.regex(run.ops.find((o) => o.op === 'EXPOSE').args, /8080\/tcp 40000-40099\/udp 40000\/tcp/, 'the default ports');
});

// The build takes 3-6 minutes (two `npm ci` and a full addon build), too long for every `npm test`:
// .ci/run runs it as a step of its own with HALFSEC_IMAGE_BUILD=1.
const imageBuild = process.env.HALFSEC_IMAGE_BUILD === '1' ? test.serial : test.serial.skip;

imageBuild('the Dockerfile\'s build script builds a relay that runs unprivileged (HALFSEC_IMAGE_BUILD=1; .ci/run runs it)', async (t) => {
  t.timeout((BUILD_LIMIT_S + 60) * 1000);
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'halfsec-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // the unprivileged run below must reach the output
  const ctx = join(dir, 'src');
  const out = join(dir, 'opt');
  // The build context as Docker sees it: exactly what the build stage COPYs.
  for (const { op, args } of stages[0].ops) {
    if (op !== 'COPY') continue;
    const parts = args.split(/\s+/);
    const dest = parts.pop();
    for (const src of parts) {
      const target = dest.endsWith('/') ? join(ctx, dest, src.endsWith('/') ? '' : src.split('/').pop()) : join(ctx, dest);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(join(root, src), target, { recursive: true });
    }
  }
  t.false(existsSync(join(ctx, 'test')), 'tests stay out of the image');
  const started = Date.now();
  // Asynchronously: a blocked event loop would stop AVA hearing this test's extended timeout.
  const build = await new Promise((resolve) => {
    const child = spawn('timeout', ['-s', 'KILL', String(BUILD_LIMIT_S), 'bash', join(ctx, 'scripts/build-release.sh'), ctx, out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-8000)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
  t.log(`build: ${((Date.now() - started) / 1000).toFixed(0)} s, loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  t.is(build.status, 0, `build-release.sh failed:\n${build.stderr.slice(-4000)}\n${build.stdout.slice(-2000)}`);
  if (build.status !== 0) return;
  t.true(existsSync(join(out, 'build/Release/halfsec.node')));
  t.false(existsSync(join(out, 'node_modules/typescript')), 'no devDependencies in the runtime tree');
  t.false(existsSync(join(out, 'native')), 'no sources in the runtime tree');
  t.is(readdirSync(join(out, 'node_modules/uWebSockets.js/binaries')).filter((f) => f.endsWith('.node')).length, 1, "uWebSockets.js keeps this platform's binary only");

  // Unprivileged (nobody), as the image's USER: the files are root's and only read.
  const port = 47000 + Math.floor(Math.random() * 500);
  const relay = spawn(
    'timeout',
    ['-s', 'KILL', '60', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(out, 'dist/cli.js'), 'serve',
      '--host', '127.0.0.1', '--port', '0', '--rtc-bind', '127.0.0.1', '--rtc-ports', `${port}-${port + 1}`, '--workers', '1', '--drain-timeout-ms', '1000'],
    { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: '/nonexistent' } },
  );
  t.teardown(() => {
    try {
      process.kill(-relay.pid, 'SIGKILL');
    } catch {
      relay.kill('SIGKILL');
    }
  });
  let stderr = '';
  relay.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: relay.stdout }).on('line', (l) => {
      const m = /"http":"([^"]+)"/.exec(l);
      if (m) resolve(`http://${m[1]}`);
    });
    relay.once('exit', (code) => reject(new Error(`relay exited (${code}): ${stderr}`)));
    setTimeout(() => reject(new Error(`relay did not start: ${stderr}`)), 20000).unref();
  });
  t.is((await fetch(`${url}/healthz`)).status, 200);
  const whip = await fetch(`${url}/whip/image`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer() });
  t.is(whip.status, 201, 'the native addon answers an offer');
  t.regex(await whip.text(), /a=ice-lite/);
  t.is((await fetch(`${url}/dashboard/uplot.js`)).status, 200, 'uPlot ships in the runtime tree');
  const exited = new Promise((resolve) => relay.once('exit', (code, signal) => resolve({ code, signal })));
  // `timeout` forwards SIGTERM to the relay: what `docker stop` / Kubernetes send.
  relay.kill('SIGTERM');
  t.deepEqual(await exited, { code: 0, signal: null }, 'SIGTERM drains and exits 0');
});
