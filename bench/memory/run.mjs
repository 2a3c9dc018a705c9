#!/usr/bin/env node
// Memory per connected viewer, split by owner: the relay's RSS growth per viewer once N native
// viewers joined (publisher held: no media), then again after a media window, each before and
// after a JS GC + malloc_trim, with V8's heap (used / committed) and glibc's heap (live bytes,
// free bytes kept inside arenas, number of arenas) beside it. `--arena-max 2,0` runs the relay
// with MALLOC_ARENA_MAX=2 and unset (0) in turn, paired per N. Prints figures, asserts nothing.
//
//   node bench/memory/run.mjs [--sizes 1000] [--runs 3] [--media-seconds 3] [--arena-max 0] [--relays this,/other/checkout]
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
});
const arenaMaxes = a['arena-max'].split(',').map(Number);
const semiSpaces = a['semi-space'].split(',').map(Number);

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
});
// (b - a) per viewer, KiB.
const perViewer = (b, x, n) => Object.fromEntries(Object.keys(b).map((k) => [k, k === 'arenas' ? b[k] : (b[k] - x[k]) / 1024 / n]));

async function measure(checkout, n, arenaMax, semi, run) {
  const env = { ...process.env };
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
        snaps.heldTrim = parts(await relay.memory('trim'));
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
      const out = { checkout, n, arenaMax, semi, run, connected, joinSeconds, rxPacketsPerViewer: rx / n, loadavg: loadavg() };
      // Per connected viewer: a join that failed leaves no session (but may leave fragmentation).
      for (const k of ['held', 'heldTrim', 'media', 'mediaTrim']) out[k] = perViewer(snaps[k], snaps.base, Math.max(1, connected));
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
        for (const semi of semiSpaces) {
          const r = await measure(checkout, n, am, semi, run);
          process.stderr.write(`${checkout} N=${n} arenaMax=${am} semi=${semi} run ${run + 1}: ${JSON.stringify(r)}\n`);
          rows.push(r);
        }
      }
    }
  }
}
const f = (x) => (x === undefined ? '-' : x.toFixed(1));
printMachine();
console.log('KiB per viewer (growth over the relay with only the publisher, after GC + malloc_trim), medians');
console.log('| relay | N | MALLOC_ARENA_MAX | max semi-space MiB | point | RSS | RSS after trim | V8 heap used | V8 heap committed | V8 new space resident | malloc live | malloc free in arenas | arenas | loadavg (runs) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  for (const checkout of relays) {
    for (const am of arenaMaxes) for (const semi of semiSpaces) {
      const rs = rows.filter((r) => r.n === n && r.checkout === checkout && r.arenaMax === am && r.semi === semi);
      for (const [point, raw, trim] of [['joined, no media', 'held', 'heldTrim'], ['after media', 'media', 'mediaTrim']]) {
        const m = (k, p = raw) => median(rs.map((r) => r[p][k]));
        console.log(`| ${checkout} | ${n} | ${am || 'unset'} | ${semi || 'default'} | ${point} | ${f(m('rss'))} | ${f(m('rss', trim))} | ${f(m('heapUsed'))} | ${f(m('heapTotal'))} | ${f(m('newSpace'))} | ${f(m('mallocLive'))} | ${f(m('mallocFree'))} | ${median(rs.map((r) => r.arenas))} | ${rs.map((r) => r.loadavg.split(' ')[0]).join(', ')} |`);
      }
    }
  }
}
writeResults('memory', a, rows);
