// Churn soak: a relay in this process, one publisher process, and viewer processes joining and
// leaving continuously. Reports the relay's RSS, native peers and open file descriptors at the
// start, at the peak and after everyone has left, and whether every viewer that stayed got media.
// Loopback only; stops by itself. See README.md.
//
// node bench/soak/soak.mjs [--seconds 300] [--concurrent 300] [--rate 20] [--procs 6] [--pps 25]
//                          [--min-stay 3] [--no-netns] [--out file.json]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const cfg = {
  seconds: Number(opt('seconds', '300')),
  concurrent: Number(opt('concurrent', '300')),
  rate: Number(opt('rate', '20')),
  procs: Number(opt('procs', '6')),
  pps: Number(opt('pps', '25')),
  minStaySec: Number(opt('min-stay', '3')),
};
const outFile = opt('out', join(root, 'bench', 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));

// PEERS.md: peers must see only loopback, or they gather and try every address of the machine.
// As root, re-run inside a fresh network namespace holding just `lo`.
if (!args.includes('--no-netns') && !process.env.HALFSEC_SOAK_NETNS && process.getuid?.() === 0) {
  // --expose-gc: a collection before the final figures separates garbage not yet collected from
  // memory still held.
  const r = spawnSync('unshare', ['-n', '--', 'bash', '-c', 'ip link set lo up && exec "$@"', 'soak', process.execPath, '--expose-gc', fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit',
    env: { ...process.env, HALFSEC_SOAK_NETNS: '1' },
  });
  process.exit(r.status ?? 1);
}

const { createRelay } = await import(join(root, 'dist', 'index.js'));

const limitSec = cfg.seconds + 120; // hard stop for every child, whatever happens here
const hardStop = setTimeout(() => {
  console.error('soak: hard time limit reached; exiting');
  process.exit(4);
}, (limitSec + 30) * 1000);
hardStop.unref();

const relay = createRelay({
  host: '127.0.0.1',
  port: 0,
  rtcBindAddress: '127.0.0.1',
  rtcPortMin: 41000,
  rtcPortMax: 41019,
  workers: 2,
  logLevel: 'silent',
  // Every load-generator request comes from 127.0.0.1: the per-address session rate would
  // throttle the load itself.
  sessionsPerIpPerSecond: 0,
});
const { port } = await relay.listen();
const base = `http://127.0.0.1:${port}`;
const stream = 'soak';

// ---- measurements of this process (the relay) ----
const cpuStart = process.cpuUsage();
const wallStart = performance.now();
// Open descriptors by kind: sockets are what a leak would show in; pipes are the children's stdio.
function fdKinds() {
  const kinds = { socket: 0, pipe: 0, other: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the descriptor readdir itself used, already closed
    }
    if (target.startsWith('socket:')) kinds.socket++;
    else if (target.startsWith('pipe:')) kinds.pipe++;
    else kinds.other++;
  }
  return kinds;
}
let liveChildren = 0;
const mb = (n) => Math.round((n / 2 ** 20) * 10) / 10;
function sample() {
  const w = relay.stats().workers;
  const mem = process.memoryUsage();
  const fdk = fdKinds();
  return {
    rssMB: mb(mem.rss),
    heapMB: mb(mem.heapUsed),
    externalMB: mb(mem.external),
    peers: w.reduce((n, x) => n + x.peers, 0),
    viewersNative: w.reduce((n, x) => n + x.viewers, 0),
    fds: readdirSync('/proc/self/fd').length,
    fdKinds: fdk,
    // Node gives children their stdio as socketpairs: 3 sockets per live child are not the relay's.
    relaySockets: fdk.socket - 3 * liveChildren,
    txPackets: w.reduce((n, x) => n + x.txPackets, 0),
    srtpErrors: w.reduce((n, x) => n + x.srtpErrors, 0),
  };
}
const peak = { rssMB: 0, heapMB: 0, peers: 0, fds: 0, relaySockets: 0 };
const notePeak = (s) => {
  peak.heapMB = Math.max(peak.heapMB, s.heapMB ?? 0);
  peak.relaySockets = Math.max(peak.relaySockets, s.relaySockets ?? 0);
  peak.rssMB = Math.max(peak.rssMB, s.rssMB);
  peak.peers = Math.max(peak.peers, s.peers);
  peak.fds = Math.max(peak.fds, s.fds);
};

// ---- child processes ----
function child(script, childArgs) {
  const p = spawn('timeout', ['-s', 'KILL', String(limitSec), process.execPath, join(here, script), ...childArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  liveChildren++;
  p.on('close', () => liveChildren--);
  const handlers = [];
  let stderr = '';
  p.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  createInterface({ input: p.stdout }).on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    for (const h of handlers) h(msg);
  });
  p.stdin.on('error', () => {}); // a child that died must not take the soak down with EPIPE
  return {
    proc: p,
    on: (h) => handlers.push(h),
    send: (cmd) => p.stdin.writable && p.stdin.write(`${cmd}\n`),
    stderr: () => stderr,
    waitFor(event, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script}: no "${event}" in ${ms} ms; stderr: ${stderr}`)), ms);
        handlers.push((m) => {
          if (m.event === event) {
            clearTimeout(timer);
            resolve(m);
          }
          if (m.event === 'error') {
            clearTimeout(timer);
            reject(new Error(`${script}: ${m.error}`));
          }
        });
        p.on('exit', (code) => reject(new Error(`${script} exited (${code}) before "${event}"; stderr: ${stderr}`)));
      });
    },
  };
}

const atStart = sample();
const publisher = child('publisher.mjs', [`${base}/whip/${stream}`, String(cfg.pps), String(limitSec)]);
await publisher.waitFor('open', 20000);
await new Promise((r) => setTimeout(r, 500));
const withPublisher = sample();
notePeak(withPublisher);

// Viewer hosts. Each gets its own 1000-port range for its PeerConnections.
const hosts = [];
for (let i = 0; i < cfg.procs; i++) {
  const h = child('viewers.mjs', [`${base}/whep/${stream}`, String(20000 + i * 1000), String(limitSec)]);
  h.load = 0;
  hosts.push(h);
}
await Promise.all(hosts.map((h) => h.waitFor('ready', 10000)));

// ---- churn ----
const viewers = new Map(); // id -> { host, joinedAt, plannedLeave, media, mediaMs, joinMs }
const results = { joined: 0, left: 0, failed: 0, withMedia: 0, stayedWithoutMedia: 0, badPayloads: 0, deleteNot200: 0, failures: [] };
const joinMs = [];
const mediaMs = [];
let nextId = 0; // join slots elapsed (skipped ones at the cap included): ids and pacing
let started = 0;
const meanLifeMs = (cfg.concurrent / cfg.rate) * 1000;

for (const h of hosts) {
  h.on((m) => {
    const v = viewers.get(m.id);
    if (m.event === 'joined') {
      results.joined++;
      joinMs.push(m.ms);
    } else if (m.event === 'media') {
      results.withMedia++;
      mediaMs.push(m.ms);
      if (v) v.media = true;
    } else if (m.event === 'failed') {
      results.failed++;
      if (results.failures.length < 20) results.failures.push(m.error);
    } else if (m.event === 'left') {
      results.left++;
      results.badPayloads += m.bad;
      if (m.status !== 200 && m.status !== 0) results.deleteNot200++;
    }
  });
}

function leave(id) {
  const v = viewers.get(id);
  if (!v) return;
  viewers.delete(id);
  v.host.load--;
  // A viewer that stayed long enough must have had media by now.
  if (!v.media && performance.now() - v.joinedAt >= cfg.minStaySec * 1000) results.stayedWithoutMedia++;
  v.host.send(`leave ${id}`);
}

const t0 = performance.now();
const endAt = t0 + cfg.seconds * 1000;
let lastProgress = 0;
const timeline = [];
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const now = performance.now();
    for (const [id, v] of viewers) if (now >= v.plannedLeave) leave(id);
    if (now >= endAt) {
      clearInterval(tick);
      resolve();
      return;
    }
    // Joins due since the last tick at `rate` per second, up to the concurrency cap.
    const due = Math.floor(((now - t0) / 1000) * cfg.rate) - nextId;
    for (let k = 0; k < due && viewers.size < cfg.concurrent; k++) {
      const id = nextId++;
      const host = hosts.reduce((a, b) => (b.load < a.load ? b : a));
      host.load++;
      // Lifetimes spread over 0.5..1.5 of the mean that keeps `concurrent` viewers at `rate` joins/s.
      viewers.set(id, { host, joinedAt: now, plannedLeave: now + meanLifeMs * (0.5 + Math.random()), media: false });
      started++;
      host.send(`join ${id}`);
    }
    if (viewers.size >= cfg.concurrent) nextId = Math.max(nextId, Math.floor(((now - t0) / 1000) * cfg.rate));
    if (now - lastProgress >= 5000) {
      lastProgress = now;
      const s = sample();
      notePeak(s);
      const cpu = process.cpuUsage(cpuStart);
      const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - wallStart)) * 100);
      timeline.push({ t: Math.round((now - t0) / 1000), viewers: viewers.size, ...s });
      console.log(
        `[${String(Math.round((now - t0) / 1000)).padStart(4)}s] viewers ${String(viewers.size).padStart(4)}  joined ${results.joined}  left ${results.left}  media ${results.withMedia}  failed ${results.failed}  starved ${results.stayedWithoutMedia}  | peers ${s.peers}  rss ${s.rssMB} MB  fds ${s.fds}  relay cpu ${cpuPct}%`,
      );
    } else {
      notePeak({ rssMB: 0, fds: 0, peers: relay.stats().workers.reduce((n, x) => n + x.peers, 0) });
    }
  }, 20);
});

// ---- drain: everyone leaves, then the publisher ----
for (const id of [...viewers.keys()]) leave(id);
const drainBy = performance.now() + 20000;
while (performance.now() < drainBy && (results.left < started || sample().peers > 1)) {
  await new Promise((r) => setTimeout(r, 200));
}
// The viewer hosts exit too: their idle keep-alive HTTP connections to the relay (hundreds after
// a burst of DELETEs) would otherwise count as open relay sockets.
const exited = (c) => new Promise((r) => (c.proc.exitCode !== null ? r() : c.proc.on('close', r)));
for (const h of hosts) h.send('exit');
await Promise.race([Promise.all(hosts.map(exited)), new Promise((r) => setTimeout(r, 5000))]);
await new Promise((r) => setTimeout(r, 1000)); // let closes settle before measuring
globalThis.gc?.();
const afterViewers = sample();
publisher.send('stop');
await publisher.waitFor('stopped', 10000).catch(() => null);
await Promise.race([exited(publisher), new Promise((r) => setTimeout(r, 5000))]);
await new Promise((r) => setTimeout(r, 1000));
globalThis.gc?.();
const afterAll = sample();
for (const h of [...hosts, publisher]) if (h.proc.exitCode === null) h.proc.kill('SIGKILL');
await relay.close();

const pct = (arr, p) => {
  if (arr.length === 0) return null;
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const summary = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGB: Math.round(totalmem() / 2 ** 30), node: process.version },
  config: cfg,
  viewers: {
    started,
    joined: results.joined,
    failed: results.failed,
    gotMedia: results.withMedia,
    stayedWithoutMedia: results.stayedWithoutMedia,
    badPayloads: results.badPayloads,
    deleteNot200: results.deleteNot200,
    joinMs: { p50: pct(joinMs, 50), p95: pct(joinMs, 95), max: pct(joinMs, 100) },
    firstMediaMs: { p50: pct(mediaMs, 50), p95: pct(mediaMs, 95), max: pct(mediaMs, 100) },
    failures: results.failures,
  },
  relay: {
    start: atStart,
    withPublisher,
    peak,
    afterViewersLeft: afterViewers,
    afterPublisherLeft: afterAll,
    cpuSeconds: (() => {
      const c = process.cpuUsage(cpuStart);
      return Math.round((c.user + c.system) / 1e4) / 100;
    })(),
  },
  timeline,
};
// Sockets back to where they were with only the publisher (its HTTP connection may be gone by then).
const ok =
  results.failed === 0 &&
  results.stayedWithoutMedia === 0 &&
  results.badPayloads === 0 &&
  afterViewers.peers <= 1 &&
  afterAll.peers === 0 &&
  afterViewers.relaySockets <= withPublisher.relaySockets &&
  afterAll.relaySockets <= atStart.relaySockets;

console.log('\n== soak summary ==');
console.log(`duration ${cfg.seconds}s, ${started} viewers started (${cfg.rate}/s, cap ${cfg.concurrent}), ${results.joined} joined, ${results.withMedia} got media, ${results.failed} failed, ${results.stayedWithoutMedia} stayed >= ${cfg.minStaySec}s without media`);
console.log(`join p50/p95 ${summary.viewers.joinMs.p50}/${summary.viewers.joinMs.p95} ms, first media p50/p95 ${summary.viewers.firstMediaMs.p50}/${summary.viewers.firstMediaMs.p95} ms`);
console.log('                      rss MB  heap MB   peers   fds  relay sockets');
for (const [name, s] of [['start', atStart], ['publisher up', withPublisher], ['peak', peak], ['viewers left', afterViewers], ['publisher left', afterAll]]) {
  const col = (v, w) => String(v ?? '-').padStart(w);
  console.log(`${name.padEnd(20)} ${col(s.rssMB, 7)} ${col(s.heapMB, 8)} ${col(s.peers, 7)} ${col(s.fds, 5)} ${col(s.relaySockets, 14)}`);
}
console.log(ok ? 'result: OK' : 'result: PROBLEMS (see JSON)');
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify({ ...summary, timeline: undefined }));
console.log(`json: ${outFile}`);
process.exit(ok ? 0 : 1);
