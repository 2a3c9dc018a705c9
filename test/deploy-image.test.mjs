// The Dockerfile's build, without a Docker daemon: the build stage's COPY sources go into a temp
// dir as the build context would, the script the Dockerfile RUNs builds there (bounded in time),
// and the result runs as an unprivileged user: it answers /healthz, takes a WHIP offer (the
// native addon loads), serves the dashboard's uPlot, runs SRT ingest (halfsec-srt listens, FFmpeg
// has what ingest children use, an SRT caller's media reaches the data plane), and drains on
// SIGTERM. The runtime stage's packages (ffmpeg, libsrt) are checked against what the built
// halfsec-srt links; this machine's FFmpeg (Debian 12's, as in the image) stands in for the image's.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
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

/** Ingest in the image: FFmpeg runs every ingest child, halfsec-srt links libsrt's OpenSSL flavour. */
const RUNTIME_PACKAGES = ['ffmpeg', 'libsrt1.5-openssl'];

/** The packages a stage's `apt-get install` RUN steps name. */
function aptInstalls(stage) {
  return stage.ops.filter((o) => o.op === 'RUN').flatMap((o) => {
    const m = /apt-get install ([^&;]+)/.exec(o.args);
    return m ? m[1].split(/\s+/).filter((w) => w && !w.startsWith('-')) : [];
  });
}

test('the Dockerfile: Debian 12 + Node 20 in both stages, build steps in one script, non-root, exec-form entrypoint', (t) => {
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  t.is(stages.length, 2, 'multi-stage: build, then runtime');
  const [build, run] = stages;
  t.is(build.image, 'node:20-bookworm');
  t.is(run.image, 'node:20-bookworm-slim', 'the runtime has the same Node build (the addon uses its OpenSSL)');
  const runs = build.ops.filter((o) => o.op === 'RUN').map((o) => o.args);
  t.deepEqual(runs.filter((r) => !r.startsWith('apt-get ')), ['bash scripts/build-release.sh /src /opt/halfsec'], 'every build step is in the script this test runs');
  t.true(aptInstalls(build).includes('libsrt-openssl-dev'), 'the build stage has libsrt\'s headers: halfsec-srt is built');
  const runtime = aptInstalls(run);
  for (const pkg of RUNTIME_PACKAGES) t.true(runtime.includes(pkg), `the runtime stage installs ${pkg} (ingest)`);
  t.true(run.ops.findIndex((o) => o.op === 'RUN') < run.ops.findIndex((o) => o.op === 'USER'), 'packages are installed before dropping root');
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
  // halfsec-srt ships, and the one shared library of its own (libsrt) comes from a package the
  // runtime stage installs (the rest are libc, libstdc++ and OpenSSL, in the slim base image).
  const srtHelper = join(out, 'build/Release/halfsec-srt');
  t.true(existsSync(srtHelper), 'halfsec-srt is in the runtime tree');
  const ldd = spawnSync('ldd', [srtHelper], { encoding: 'utf8' }).stdout ?? '';
  t.notRegex(ldd, /not found/, ldd);
  const libsrt = /libsrt\S*\s+=>\s+(\S+)/.exec(ldd)?.[1];
  t.truthy(libsrt, `halfsec-srt links libsrt: ${ldd}`);
  const owner = libsrt ? (spawnSync('dpkg', ['-S', realpathSync(libsrt)], { encoding: 'utf8' }).stdout ?? '').split(':')[0] : '';
  t.true(RUNTIME_PACKAGES.includes(owner), `libsrt (${libsrt}) is from ${owner}, which the runtime stage installs`);

  // Unprivileged (nobody), as the image's USER: the files are root's and only read.
  const port = 47000 + Math.floor(Math.random() * 500);
  const relay = spawn(
    'timeout',
    ['-s', 'KILL', '60', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(out, 'dist/cli.js'), 'serve',
      '--host', '127.0.0.1', '--port', '0', '--rtc-bind', '127.0.0.1', '--rtc-ports', `${port}-${port + 1}`, '--workers', '1', '--drain-timeout-ms', '1000',
      '--srt-port', String(port + 2)],
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
  const logs = [];
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: relay.stdout }).on('line', (l) => {
      logs.push(l);
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
  // Ingest as the image runs it: the relay says SRT listens and FFmpeg has what ingest children
  // use, and an SRT caller's media reaches the data plane (the ingest publisher connects).
  const seen = (re) => logs.some((l) => re.test(l));
  const logged = async (re) => {
    for (let i = 0; i < 100 && !seen(re); i++) await new Promise((r) => setTimeout(r, 100));
    return seen(re);
  };
  t.true(await logged(/SRT ingest listening/), `halfsec-srt runs: ${logs.filter((l) => /SRT/.test(l)).join('\n')}`);
  t.true(await logged(/ingest: FFmpeg available/), `FFmpeg runs with what ingest needs: ${logs.filter((l) => /FFmpeg/.test(l)).join('\n')}`);
  const caller = spawn('timeout', ['-s', 'KILL', '20', 'ffmpeg', '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]', '-t', '10',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', `srt://127.0.0.1:${port + 2}?streamid=publish:image-srt`],
  { stdio: 'ignore', detached: true });
  t.teardown(() => {
    try {
      process.kill(-caller.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  let publishers = 0;
  for (let i = 0; i < 150 && publishers === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    publishers = (await (await fetch(`${url}/api/stats`)).json()).publishers;
  }
  t.is(publishers, 1, `an SRT caller's media reaches the data plane through an FFmpeg child: ${logs.filter((l) => /SRT|ingest/.test(l)).slice(-6).join('\n')}`);
  process.kill(-caller.pid, 'SIGKILL');
  const exited = new Promise((resolve) => relay.once('exit', (code, signal) => resolve({ code, signal })));
  // `timeout` forwards SIGTERM to the relay: what `docker stop` / Kubernetes send.
  relay.kill('SIGTERM');
  t.deepEqual(await exited, { code: 0, signal: null }, 'SIGTERM drains and exits 0');
});
