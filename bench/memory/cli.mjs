#!/usr/bin/env node
// Memory per viewer of the relay as a user runs it: `halfsec serve` (dist/cli.js, its defaults
// but for loopback addresses and an unlimited session rate for the one-address load), RSS read
// from /proc/<pid>/status, nothing inside the process touched. Per size, a fresh relay: a
// warm-up of 70 viewers joins and leaves (its own memoryReclaim then runs, as after any burst,
// so the baseline holds no more than the process will hold again later), the load publisher
// joins (baseline), N viewers join with the publisher held (joined), media flows (after media).
// The slope between two sizes needs no baseline at all. Prints figures, asserts nothing.
//
//   node bench/memory/cli.mjs [--sizes 1000,10000] [--runs 1] [--rate-kbps 50] [--settle 12] [--node-options ""]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LoadRun } from '../../dist/load/run.js';
import { benchArgs, checkouts, loadavg, printMachine, sleep } from '../paired-runs.mjs';

// Not pairedRunArgs: other defaults (one run, a longer settle) and no --concurrency.
const { a, sizes } = benchArgs({
  sizes: { type: 'string', default: '1000,10000' },
  runs: { type: 'string', default: '1' },
  'rate-kbps': { type: 'string', default: '50' },
  // Seconds after the last join before "joined" is read (the reclaim runs 1-10 s after a burst).
  settle: { type: 'string', default: '12' },
  'media-seconds': { type: 'string', default: '5' },
  // NODE_OPTIONS for the relay, e.g. "--max-semi-space-size=2".
  'node-options': { type: 'string', default: '' },
  relays: { type: 'string', default: 'this' },
});
const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const relays = checkouts(a.relays);

// Each relay runs in a process group of its own (`timeout` and the relay under it), killed whole
// when a run ends or this script is stopped (Ctrl-C, SIGTERM), so none outlives the benchmark.
const groups = new Set();
const killGroup = (pgid) => {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {}
  groups.delete(pgid);
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const g of [...groups]) killGroup(g);
    process.exit(130);
  });
}

async function startCli(checkout) {
  const base = 43000 + (process.pid % 200) * 10;
  const env = { ...process.env, NODE_OPTIONS: a['node-options'] };
  const child = spawn('timeout', ['-s', 'KILL', '900', process.execPath, `${checkout}/dist/cli.js`, 'serve', '--host', '127.0.0.1', '--port', '0', '--rtc-bind', '127.0.0.1',
    '--rtc-ports', `${base}-${base + 9}`, '--sessions-per-ip-per-second', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(child.pid);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      killGroup(child.pid);
      reject(new Error(`no listening line; ${stderr}`));
    }, 15000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = /"http":"[^"]*:(\d+)"/.exec(l);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  // `timeout` is the child; the relay is its only child.
  const pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  return { child, port, pid, url: `http://127.0.0.1:${port}` };
}

const apiStats = async (url) => (await fetch(`${url}/api/stats`)).json();

async function measure(checkout, n, run) {
  const relay = await startCli(checkout);
  const out = { checkout, n, run };
  try {
    const warm = await LoadRun.start({ url: relay.url, stream: 'warm', viewers: 70, rateKbps: 50, fps: 30, packetSize: 1200, publish: true, peer: 'native', concurrency: 20, threads: 1, ipOctet: 50 + (run % 50), joinTimeoutMs: 30000 });
    await warm.joinAll();
    await warm.close(true);
    await sleep(3000);
    const load = await LoadRun.start({
      url: relay.url, stream: 'mem', viewers: n, rateKbps: Number(a['rate-kbps']), fps: 30, packetSize: 1200, publish: true, peer: 'native',
      concurrency: 20, threads: 1, ipOctet: 100 + ((process.pid + run) % 100), joinTimeoutMs: 60000, holdWhileJoining: true,
      onJoinedHeld: async () => {
        await sleep(Number(a.settle) * 1000);
        out.joined = rssOf(relay.pid);
        out.reclaimsJoined = (await apiStats(relay.url)).memoryReclaim?.runs;
      },
    });
    try {
      await sleep(2000);
      out.base = rssOf(relay.pid);
      out.reclaimsBase = (await apiStats(relay.url)).memoryReclaim?.runs;
      const t = Date.now();
      await load.joinAll();
      out.joinSeconds = (Date.now() - t) / 1000;
      out.connected = load.viewers.counters().filter((v) => v.state === 'connected').length;
      await sleep(Number(a['media-seconds']) * 1000);
      out.media = rssOf(relay.pid);
      out.loadavg = loadavg().split(' ')[0];
    } finally {
      load.clients.engine.close();
    }
  } finally {
    killGroup(relay.child.pid);
    await sleep(500);
  }
  return out;
}

const rows = [];
for (let run = 0; run < Number(a.runs); run++) {
  for (const checkout of relays) {
    for (const n of sizes) {
      const r = await measure(checkout, n, run);
      process.stderr.write(`${JSON.stringify(r)}\n`);
      rows.push(r);
    }
  }
}
const MiB = (b) => (b / 1048576).toFixed(1);
const kib = (b, n) => (b / 1024 / n).toFixed(1);
printMachine(`halfsec serve, NODE_OPTIONS="${a['node-options']}"`);
console.log('| relay | N | connected | join s | RSS MiB base (publisher) | joined | after media | KiB/viewer joined | KiB/viewer after media | reclaims (base, joined) | loadavg |\n|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.checkout} | ${r.n} | ${r.connected} | ${r.joinSeconds.toFixed(1)} | ${MiB(r.base)} | ${MiB(r.joined)} | ${MiB(r.media)} | ${kib(r.joined - r.base, r.connected)} | ${kib(r.media - r.base, r.connected)} | ${r.reclaimsBase}, ${r.reclaimsJoined} | ${r.loadavg} |`);
// Marginal cost between sizes of the same run and checkout: no baseline involved.
for (const checkout of relays) for (let run = 0; run < Number(a.runs); run++) {
  const rs = rows.filter((r) => r.checkout === checkout && r.run === run).sort((x, y) => x.n - y.n);
  for (let i = 1; i < rs.length; i++) {
    const [p, q] = [rs[i - 1], rs[i]];
    console.log(`slope ${checkout} run ${run + 1}, ${p.n} -> ${q.n}: joined ${kib(q.joined - p.joined, q.connected - p.connected)} KiB/viewer, after media ${kib(q.media - p.media, q.connected - p.connected)} KiB/viewer`);
  }
}
