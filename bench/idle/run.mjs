#!/usr/bin/env node
// Idle cost: relay CPU with N viewers connected and no media (the publisher holds), measured
// over a window after the joins have settled; also the joins/s of getting there. Paired
// before/after: `--relays this,/work/main` runs the relay of each checkout (its dist/ and
// native build) in turn for each N. Prints figures and writes JSON; asserts nothing.
//
//   node bench/idle/run.mjs [--sizes 1000,2000] [--runs 3] [--seconds 10] [--relays this,/path/to/other/checkout]
import { LoadRun } from '../../dist/load/run.js';
import { startRelayProcess } from '../fanout/relay-process.mjs';
import { loadavg, median, pairedRunArgs, printMachine, sleep, writeResults } from '../paired-runs.mjs';

// Besides the shared --sizes/--runs/--settle/--relays/--concurrency (bench/paired-runs.mjs).
const { a, sizes, relays } = pairedRunArgs('1000,2000', {
  seconds: { type: 'string', default: '10' },
  threads: { type: 'string', default: '1' },
});

async function measure(checkout, n, run) {
  const relay = await startRelayProcess(`${checkout}/bench/fanout/relay-child.mjs`, ['0']);
  let idle;
  try {
    const load = await LoadRun.start({
      url: relay.url, stream: 'idle', viewers: n, rateKbps: 100, fps: 30, packetSize: 1200, publish: true, peer: 'native',
      concurrency: Number(a.concurrency), threads: Number(a.threads), ipOctet: 100 + ((process.pid + run) % 100), joinTimeoutMs: 60000,
      holdWhileJoining: true,
      onJoinedHeld: async () => {
        await sleep(Number(a.settle) * 1000);
        const s0 = await relay.stats();
        const l0 = process.cpuUsage();
        const t0 = Date.now();
        await sleep(Number(a.seconds) * 1000);
        const s1 = await relay.stats();
        const l1 = process.cpuUsage();
        const secs = (Date.now() - t0) / 1000;
        idle = {
          cores: (s1.cpuUserUs + s1.cpuSystemUs - s0.cpuUserUs - s0.cpuSystemUs) / 1e6 / secs,
          loadGenCores: (l1.user + l1.system - l0.user - l0.system) / 1e6 / secs,
          viewers: s1.viewers,
          rssMiB: s1.rss / 2 ** 20,
          loadavg: loadavg(),
        };
      },
    });
    try {
      const t = Date.now();
      await load.joinAll();
      const joinSeconds = (Date.now() - t) / 1000;
      const c = load.viewers.counters();
      const connected = c.filter((v) => v.state === 'connected').length;
      return { checkout, n, run, joinSeconds, connected, joinsPerSecond: connected / joinSeconds, ...idle, usPerViewerSecond: (idle.cores * 1e6) / n };
    } finally {
      load.clients.engine.close();
    }
  } finally {
    await relay.stop();
  }
}

const rows = [];
for (const n of sizes) {
  for (let run = 0; run < Number(a.runs); run++) {
    for (const checkout of relays) {
      const r = await measure(checkout, n, run);
      process.stderr.write(`${checkout} N=${n} run ${run + 1}: ${JSON.stringify(r)}\n`);
      rows.push(r);
    }
  }
}
printMachine();
console.log('| relay | N | connected | joins/s | idle cores | µs per viewer-second | load generator cores | loadavg (runs) |\n|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  for (const checkout of relays) {
    const rs = rows.filter((r) => r.n === n && r.checkout === checkout);
    const m = (k) => median(rs.map((r) => r[k]));
    console.log(`| ${checkout} | ${n} | ${m('connected')} | ${m('joinsPerSecond')?.toFixed(0)} | ${m('cores')?.toFixed(4)} | ${m('usPerViewerSecond')?.toFixed(1)} | ${m('loadGenCores')?.toFixed(3)} | ${rs.map((r) => r.loadavg.split(' ')[0]).join(', ')} |`);
  }
}
writeResults('idle', a, rows);
