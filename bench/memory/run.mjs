#!/usr/bin/env node
// Memory per connected viewer, split by owner: the relay's RSS growth per viewer once N native
// viewers joined (publisher held: no media), then again after a media window, each before and
// after a JS GC + malloc_trim, with V8's heap (used / committed) and glibc's heap (live bytes,
// free bytes kept inside arenas, number of arenas) beside it. `--arena-max 2,0` runs the relay
// with MALLOC_ARENA_MAX=2 and unset (0) in turn, paired per N; `--reclaim 1,0` with the relay's
// memoryReclaim on and off. Then every viewer leaves (WHEP DELETE) and, after `--leave-wait` s,
// the relay's RSS is compared with its RSS before they joined (a leak shows as growth that stays).
// Beside each figure: the relay's CPU per join and V8's GC pauses over the join phase. Prints
// figures, asserts nothing.
//
//   node bench/memory/run.mjs [--sizes 1000] [--runs 3] [--media-seconds 3] [--arena-max 0] [--reclaim 1] [--leave-wait 12] [--relays this,/other/checkout]
import { LoadRun } from '../../dist/load/run.js';
import { startRelayProcess } from '../fanout/relay-process.mjs';
import { loadavg, median, pairedRunArgs, printMachine, sleep, writeResults } from '../paired-runs.mjs';

// Besides the shared --sizes/--runs/--settle/--relays/--concurrency (bench/paired-runs.mjs).
const { a, sizes, relays } = pairedRunArgs('1000', {
  'media-seconds': { type: 'string', default: '3' },
  'rate-kbps': { type: 'string', default: '300' },
  'arena-max': { type: 'string', default: '0' },
  // V8's young generation: --max-semi-space-size for the relay process (MiB, 0: Node's default).
  'semi-space': { type: 'string', default: '0' },
  // The relay's memoryReclaim option: 1 on (its default), 0 off (a checkout without it ignores this).
  reclaim: { type: 'string', default: '1' },
  // After the media window every viewer leaves; the "left" point is taken this long after (s).
  'leave-wait': { type: 'string', default: '12' },
  // Also GC + trim at the joined point (its "after trim" column); the media window then starts trimmed.
  'trim-held': { type: 'boolean', default: false },
});
const arenaMaxes = a['arena-max'].split(',').map(Number);
const semiSpaces = a['semi-space'].split(',').map(Number);
const reclaims = a.reclaim.split(',').map(Number);

// The figures of one snapshot, in bytes.
const parts = (m) => ({
  rss: m.rss,
  heapUsed: m.heapUsed,
  heapTotal: m.heapTotal,
  external: m.external,
  mallocLive: m.malloc.uordblks + m.malloc.hblkhd,
  mallocFree: m.malloc.fordblks,
  arenas: m.arenas.length,
  anon: m.rollup.Anonymous ?? 0,
  newSpace: m.spaces.new_space?.physical ?? 0,
  cpuUs: m.cpuUs ?? NaN,
  gcCount: Object.values(m.gc ?? {}).reduce((s, g) => s + g.count, 0),
  gcMs: Object.values(m.gc ?? {}).reduce((s, g) => s + g.totalMs, 0),
  gcMaxMs: Math.max(0, ...Object.values(m.gc ?? {}).map((g) => g.maxMs)),
  reclaimRuns: m.reclaim?.runs ?? 0,
  reclaimGcMs: (m.reclaim?.last?.gcMicros ?? NaN) / 1000,
  reclaimTrimMs: (m.reclaim?.last?.trimMicros ?? NaN) / 1000,
});
const COUNTS = ['arenas', 'gcCount', 'gcMaxMs', 'reclaimRuns', 'reclaimGcMs', 'reclaimTrimMs'];
// (b - a) per viewer, KiB.
const perViewer = (b, x, n) => Object.fromEntries(Object.keys(b).filter((k) => !['cpuUs', 'gcMs'].includes(k)).map((k) => [k, COUNTS.includes(k) ? b[k] : (b[k] - x[k]) / 1024 / n]));
// Over the join phase (base -> held): relay CPU µs per join, GC pauses (count, total ms, longest ms).
const joinCost = (b, x, n) => ({ cpuUsPerJoin: (b.cpuUs - x.cpuUs) / n, gcCount: b.gcCount - x.gcCount, gcMs: b.gcMs - x.gcMs, gcMaxMs: b.gcMaxMs });

async function measure(checkout, n, arenaMax, semi, reclaim, run) {
  const env = { ...process.env, HALFSEC_BENCH_MEMORY_RECLAIM: reclaim ? 'true' : 'false' };
  if (semi > 0) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --max-semi-space-size=${semi}`.trim();
  if (arenaMax > 0) env.MALLOC_ARENA_MAX = String(arenaMax);
  else delete env.MALLOC_ARENA_MAX;
  const relay = await startRelayProcess(`${checkout}/bench/fanout/relay-child.mjs`, ['0'], 900, env);
  const snaps = {};
  try {
    const load = await LoadRun.start({
      url: relay.url, stream: 'mem', viewers: n, rateKbps: Number(a['rate-kbps']), fps: 30, packetSize: 1200, publish: true, peer: 'native',
      concurrency: Number(a.concurrency), threads: 1, ipOctet: 100 + ((process.pid + run) % 100), joinTimeoutMs: 60000,
      holdWhileJoining: true,
      onJoinedHeld: async () => {
        await sleep(Number(a.settle) * 1000);
        snaps.held = parts(await relay.memory());
        // A trim here would also shape the later points (the media window would start from a
        // trimmed process, which a relay without memoryReclaim never is): only when asked.
        snaps.heldTrim = a['trim-held'] ? parts(await relay.memory('trim')) : snaps.held;
      },
    });
    try {
      await sleep(500);
      snaps.base = parts(await relay.memory('trim'));
      const t = Date.now();
      await load.joinAll();
      const joinSeconds = (Date.now() - t) / 1000;
      const connected = load.viewers.counters().filter((v) => v.state === 'connected').length;
      await sleep(Number(a['media-seconds']) * 1000);
      snaps.media = parts(await relay.memory());
      snaps.mediaTrim = parts(await relay.memory('trim'));
      const rx = load.viewers.counters().reduce((s, v) => s + v.rxPackets, 0);
      // Every viewer leaves; what stays above the publisher-only baseline after that is kept for good.
      await load.viewers.leaveViewers();
      await sleep(Number(a['leave-wait']) * 1000);
      snaps.left = parts(await relay.memory());
      snaps.leftTrim = parts(await relay.memory('trim'));
      const out = { checkout, n, arenaMax, semi, reclaim, run, connected, joinSeconds, rxPacketsPerViewer: rx / n, loadavg: loadavg() };
      // Per connected viewer: a join that failed leaves no session (but may leave fragmentation).
      for (const k of ['held', 'heldTrim', 'media', 'mediaTrim', 'left', 'leftTrim']) out[k] = perViewer(snaps[k], snaps.base, Math.max(1, connected));
      out.rssMiB = Object.fromEntries(Object.entries(snaps).map(([k, v]) => [k, v.rss / 1048576]));
      out.join = joinCost(snaps.held, snaps.base, Math.max(1, connected));
      out.arenas = snaps.media.arenas;
      return out;
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
      for (const am of arenaMaxes) {
        for (const semi of semiSpaces) for (const rc of reclaims) {
          const r = await measure(checkout, n, am, semi, rc, run);
          process.stderr.write(`${checkout} N=${n} arenaMax=${am} semi=${semi} reclaim=${rc} run ${run + 1}: ${JSON.stringify(r)}\n`);
          rows.push(r);
        }
      }
    }
  }
}
const f = (x) => (x === undefined ? '-' : x.toFixed(1));
printMachine();
console.log('KiB per connected viewer: RSS growth over the relay with only the publisher (its baseline taken after GC + malloc_trim), medians');
console.log('| relay | N | MALLOC_ARENA_MAX | max semi-space MiB | reclaim | point | RSS | RSS after GC + trim | RSS MiB | V8 heap used | V8 heap committed | V8 new space resident | malloc live | malloc free in arenas | arenas | loadavg (runs) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const groups = [];
for (const n of sizes) for (const checkout of relays) for (const am of arenaMaxes) for (const semi of semiSpaces) for (const rc of reclaims) {
  groups.push({ n, checkout, am, semi, rc, rs: rows.filter((r) => r.n === n && r.checkout === checkout && r.arenaMax === am && r.semi === semi && r.reclaim === rc) });
}
for (const { n, checkout, am, semi, rc, rs } of groups) {
  console.log(`| ${checkout} | ${n} | base (publisher only) | | | | | | ${f(median(rs.map((r) => r.rssMiB.base)))} | | | | | | | |`);
  for (const [point, raw, trim] of [['joined, no media', 'held', 'heldTrim'], ['after media', 'media', 'mediaTrim'], ['all left', 'left', 'leftTrim']]) {
    const m = (k, p = raw) => median(rs.map((r) => r[p][k]));
    console.log(`| ${checkout} | ${n} | ${am || 'unset'} | ${semi || 'default'} | ${rc ? 'on' : 'off'} | ${point} | ${f(m('rss'))} | ${f(m('rss', trim))} | ${f(median(rs.map((r) => r.rssMiB[raw])))} | ${f(m('heapUsed'))} | ${f(m('heapTotal'))} | ${f(m('newSpace'))} | ${f(m('mallocLive'))} | ${f(m('mallocFree'))} | ${median(rs.map((r) => r[raw].arenas))} | ${rs.map((r) => r.loadavg.split(' ')[0]).join(', ')} |`);
  }
}
console.log('\nJoin phase (relay, base -> joined), medians: CPU µs per join, V8 GC pauses, and the relay\'s own reclaims (at the joined point)');
console.log('| relay | N | MALLOC_ARENA_MAX | max semi-space MiB | reclaim | connected | join s | CPU µs/join | GC pauses | GC ms total | longest GC ms | reclaims | reclaim GC ms | reclaim trim ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const { n, checkout, am, semi, rc, rs } of groups) {
  const m = (fn) => median(rs.map(fn));
  console.log(`| ${checkout} | ${n} | ${am || 'unset'} | ${semi || 'default'} | ${rc ? 'on' : 'off'} | ${m((r) => r.connected)} | ${f(m((r) => r.joinSeconds))} | ${f(m((r) => r.join.cpuUsPerJoin))} | ${m((r) => r.join.gcCount)} | ${f(m((r) => r.join.gcMs))} | ${f(m((r) => r.join.gcMaxMs))} | ${m((r) => r.held.reclaimRuns)} | ${f(m((r) => r.held.reclaimGcMs))} | ${f(m((r) => r.held.reclaimTrimMs))} |`);
}
writeResults('memory', a, rows);
