#!/usr/bin/env node
// Leak check: N viewers (and their publisher) join and all leave, `--cycles` times, against one
// relay process (bench/fanout/relay-child.mjs); after each cycle the relay is GC'd and trimmed
// and its RSS, glibc live bytes and V8 heap used are printed. What the first cycle leaves is the
// process sizing itself to the peak (arenas, tables); a leak grows with every cycle after it.
// Prints figures, asserts nothing.
//
//   node bench/memory/cycles.mjs [viewers 1000] [cycles 5] [same]   (same: one stream name for every cycle)
import { readFileSync } from 'node:fs';
import { LoadRun } from '../../dist/load/run.js';
import { startRelayProcess } from '../fanout/relay-process.mjs';
import { printMachine, sleep } from '../paired-runs.mjs';

const n = Number(process.argv[2] ?? 1000);
const cycles = Number(process.argv[3] ?? 5);
if (!Number.isInteger(n) || n < 1 || n > 20000 || !Number.isInteger(cycles) || cycles < 1 || cycles > 50) throw new Error('usage: cycles.mjs [viewers 1..20000] [cycles 1..50]');
setTimeout(() => process.exit(3), 30 * 60 * 1000).unref();
const relay = await startRelayProcess(new URL('../fanout/relay-child.mjs', import.meta.url).pathname, ['0'], 1800);
const MiB = (b) => (b / 1048576).toFixed(2);
const snap = async () => {
  const m = await relay.memory('trim');
  return `RSS ${MiB(m.rss)} MiB, glibc live ${MiB(m.malloc.uordblks + m.malloc.hblkhd)} MiB, V8 heap used ${MiB(m.heapUsed)} MiB, viewers ${m.viewers}`;
};
try {
  printMachine();
  await sleep(500);
  console.log(`before: ${await snap()}`);
  for (let c = 0; c < cycles; c++) {
    const load = await LoadRun.start({ url: relay.url, stream: process.argv[4] === "same" ? "cycle" : `cycle${c}`, viewers: n, rateKbps: 50, fps: 30, packetSize: 1200, publish: true, peer: 'native', concurrency: 20, threads: 1, ipOctet: 100 + (c % 100), joinTimeoutMs: 60000 });
    await load.joinAll();
    await sleep(2000);
    const connected = load.viewers.counters().filter((v) => v.state === 'connected').length;
    await load.close(true);
    await sleep(3000);
    console.log(`after cycle ${c + 1} (${connected} joined and left): ${await snap()}; loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  }
} finally {
  await relay.stop();
}
