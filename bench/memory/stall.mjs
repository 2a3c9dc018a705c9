#!/usr/bin/env node
// Does the relay's memoryReclaim (a V8 GC on the JS thread, malloc_trim on a pool thread) stall
// media? N native viewers join while the publisher sends (no hold), so the reclaim fires ~1 s
// after the last join with media flowing; the relay's residence histogram (packet arrival to the
// return of its send) is read over the `--window` s after the joins, with memoryReclaim on and
// off in turn (paired per run). Prints figures, asserts nothing.
//
//   node bench/memory/stall.mjs [--sizes 1000] [--runs 3] [--rate-kbps 300] [--window 5]
import { fileURLToPath } from 'node:url';
import { LoadRun } from '../../dist/load/run.js';
import { native } from '../../dist/native.js';
import { startRelayProcess } from '../fanout/relay-process.mjs';
import { benchArgs, loadavg, printMachine, sleep } from '../paired-runs.mjs';

// Not pairedRunArgs: one checkout only (no --relays, no --settle), and a half-hour watchdog.
const { a, sizes } = benchArgs({
  sizes: { type: 'string', default: '1000' },
  runs: { type: 'string', default: '3' },
  'rate-kbps': { type: 'string', default: '300' },
  window: { type: 'string', default: '5' },
  concurrency: { type: 'string', default: '20' },
}, 30);
const relayChild = fileURLToPath(new URL('../fanout/relay-child.mjs', import.meta.url));
const bounds = native.residenceBucketsSeconds;
// Quantile of a bucket histogram: the upper bound (ms) of the bucket holding it.
const quantile = (h, q) => {
  const total = h.reduce((s, c) => s + c, 0);
  let acc = 0;
  for (let i = 0; i < h.length; i++) {
    acc += h[i];
    if (acc >= q * total) return i < bounds.length ? bounds[i] * 1000 : Infinity;
  }
  return NaN;
};
const over = (h, ms) => h.reduce((s, c, i) => s + ((i < bounds.length ? bounds[i] * 1000 : Infinity) > ms ? c : 0), 0);

async function measure(n, reclaim, run) {
  const env = { ...process.env, HALFSEC_BENCH_MEMORY_RECLAIM: reclaim ? 'true' : 'false' };
  const relay = await startRelayProcess(relayChild, ['0'], 600, env);
  try {
    const load = await LoadRun.start({
      url: relay.url, stream: 'stall', viewers: n, rateKbps: Number(a['rate-kbps']), fps: 30, packetSize: 1200, publish: true, peer: 'native',
      concurrency: Number(a.concurrency), threads: 1, ipOctet: 100 + ((process.pid + run) % 100), joinTimeoutMs: 60000,
    });
    try {
      await load.joinAll();
      const s0 = await relay.stats();
      await sleep(Number(a.window) * 1000);
      const s1 = await relay.stats();
      const h = s1.residenceBuckets.map((c, i) => c - s0.residenceBuckets[i]);
      const packets = h.reduce((s, c) => s + c, 0);
      return {
        n, reclaim, run, loadavg: loadavg(), packets, p50Ms: quantile(h, 0.5), p99Ms: quantile(h, 0.99), p999Ms: quantile(h, 0.999), maxMs: quantile(h, 1),
        over5ms: over(h, 5), over10ms: over(h, 10), reclaims: (s1.memoryReclaim?.runs ?? 0) - (s0.memoryReclaim?.runs ?? 0),
        reclaimGcMs: (s1.memoryReclaim?.last?.gcMicros ?? NaN) / 1000, reclaimTrimMs: (s1.memoryReclaim?.last?.trimMicros ?? NaN) / 1000,
      };
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
    for (const reclaim of [true, false]) {
      const r = await measure(n, reclaim, run);
      process.stderr.write(`${JSON.stringify(r)}\n`);
      rows.push(r);
    }
  }
}
const f = (x) => (Number.isFinite(x) ? x.toFixed(x < 1 ? 3 : 1) : String(x));
printMachine(`residence over the ${a.window} s after the joins (bucket upper bounds, ms)`);
console.log('| N | memoryReclaim | run | reclaims in window | reclaim GC ms | reclaim trim ms | packets | p50 | p99 | p99.9 | max bucket | > 5 ms | > 10 ms | loadavg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.n} | ${r.reclaim ? 'on' : 'off'} | ${r.run + 1} | ${r.reclaims} | ${f(r.reclaimGcMs)} | ${f(r.reclaimTrimMs)} | ${r.packets} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.p999Ms)} | ${f(r.maxMs)} | ${r.over5ms} | ${r.over10ms} | ${r.loadavg.split(' ')[0]} |`);
