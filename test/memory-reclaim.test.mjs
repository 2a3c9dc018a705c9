import test from 'ava';
import { getHeapSpaceStatistics } from 'node:v8';
import { startRelay } from './helpers.mjs';
import { LoadRun } from '../dist/load/run.js';
import { native } from '../dist/native.js';
import { MemoryReclaim } from '../dist/ops/reclaim.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The schedule, with the real native reclaim (GC + malloc_trim) behind a call log.
function reclaimer(config) {
  const calls = [];
  const t0 = performance.now();
  const r = new MemoryReclaim({ reduceHeap: true, ...config }, undefined, (reduceHeap) => {
    calls.push(performance.now() - t0);
    return native.reclaimMemory(reduceHeap);
  });
  return { r, calls, t0 };
}

test.serial('reclaim runs once a burst of joins has gone quiet, not during it, and not for a few joins', async (t) => {
  const { r, calls } = reclaimer({ minChurn: 64, quietMs: 150, minIntervalMs: 400, maxWaitMs: 10_000 });
  t.teardown(() => r.close());
  // A burst: 100 joins over ~1 s.
  for (let i = 0; i < 100; i++) {
    r.churn();
    await sleep(10);
  }
  t.is(calls.length, 0, 'nothing ran while joins kept coming');
  await sleep(400);
  t.is(calls.length, 1, 'one reclaim after the quiet interval');
  t.is(r.stats().runs, 1);
  t.true(r.stats().last.trimMicros > 0, 'malloc_trim ran and was timed');
  // Steady media: no joins, no reclaim.
  await sleep(1000);
  t.is(calls.length, 1, 'no reclaim while nothing joins or leaves');
  // A handful of joins is not a burst.
  for (let i = 0; i < 20; i++) r.churn();
  await sleep(600);
  t.is(calls.length, 1, '20 joins are below minChurn');
});

test.serial('reclaims are at least minIntervalMs apart, and steady churn is reclaimed after maxWaitMs', async (t) => {
  const { r, calls } = reclaimer({ minChurn: 10, quietMs: 50, minIntervalMs: 800, maxWaitMs: 1500 });
  t.teardown(() => r.close());
  for (let i = 0; i < 20; i++) r.churn();
  await sleep(200);
  t.is(calls.length, 1);
  // A second burst right away waits for the interval.
  for (let i = 0; i < 20; i++) r.churn();
  await sleep(300);
  t.is(calls.length, 1, 'the second burst waits');
  await sleep(600);
  t.is(calls.length, 2, 'and runs once the interval passed');
  t.true(calls[1] - calls[0] >= 790, `${(calls[1] - calls[0]).toFixed(0)} ms apart`);
  // Churn that never goes quiet (a join every 20 ms): reclaimed after maxWaitMs anyway.
  const start = calls.length;
  const until = performance.now() + 2200;
  while (performance.now() < until) {
    r.churn();
    await sleep(20);
  }
  t.is(calls.length, start + 1, 'one reclaim within the 2.2 s of steady churn (maxWaitMs 1.5 s)');
});

test.serial('a relay reclaims after its viewers joined (V8 young generation shrunk) and not while media flows to them', async (t) => {
  const { url, relay } = await startRelay(t);
  const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size;
  const run = await LoadRun.start({
    url, stream: 'reclaim', viewers: 60, rateKbps: 300, fps: 30, packetSize: 1200, publish: true, peer: 'native', concurrency: 20, threads: 1, joinTimeoutMs: 10000,
  });
  t.teardown(() => run.close());
  await run.joinAll();
  // 60 joins, 61 handshakes: past minChurn (64); the reclaim follows 1 s after the last of them.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (relay.stats().memoryReclaim?.runs ?? 0) === 0) await sleep(50);
  const after = newSpace();
  const s = relay.stats().memoryReclaim;
  t.is(s.runs, 1, 'one reclaim after the joins');
  t.true(s.last.gcMicros > 0 && s.last.trimMicros > 0, `GC ${s.last.gcMicros.toFixed(0)} µs, trim ${s.last.trimMicros.toFixed(0)} µs`);
  // V8 keeps the new space at its grown size otherwise (up to 32 MiB); shrunk, it holds only what lives.
  t.true(after <= 4 * 1048576, `new space ${(after / 1048576).toFixed(1)} MiB right after the reclaim`);
  const [a, b] = await run.window(4);
  const w = run.summarize(a, b);
  t.true(w.window.deliveredMin >= 0.95, `every viewer received >= 95 % (min ${(w.window.deliveredMin * 100).toFixed(1)} %)`);
  t.is(relay.stats().memoryReclaim.runs, 1, 'no reclaim while media flowed and nobody joined');
});

test.serial('memoryReclaim: false turns it off', async (t) => {
  const { relay } = await startRelay(t, { memoryReclaim: false });
  t.is(relay.stats().memoryReclaim, undefined);
});
