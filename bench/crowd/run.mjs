#!/usr/bin/env node
// Flash crowd: N viewers join a LIVE stream (the publisher keeps sending) at a fixed offered rate
// (joins/s, open loop: a join starts on schedule whether or not earlier ones have finished, up to
// --inflight WHEP POSTs at once), as an audience arriving at a live event does. Reports per run:
// joins/s achieved, how many viewers connected and how many got media (first media packet) by the
// end of the posting phase + --grace seconds, join time p50/p99 (WHEP POST -> first media packet,
// at the viewer; and the relay's own halfsec_join_seconds), then delivery over a window with
// everyone in; relay CPU and the load generator's CPU (this process) separately, loadavg.
// Prints figures; asserts none. Several --relays (checkouts) alternate per run (paired before/after).
//
//   node bench/crowd/run.mjs [--viewers 10000] [--rate 1000] [--rate-kbps 100] [--runs 1]
//        [--inflight 256] [--grace 5] [--seconds 5] [--threads 1] [--workers 2] [--relays this,/other]
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadRun } from '../../dist/load/run.js';
import { startRelayProcess } from '../fanout/relay-process.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const { values: a } = parseArgs({
  options: {
    viewers: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '1000' },
    'rate-kbps': { type: 'string', default: '100' },
    runs: { type: 'string', default: '1' },
    inflight: { type: 'string', default: '256' },
    grace: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    workers: { type: 'string', default: String(availableParallelism()) },
    relays: { type: 'string', default: 'this' },
    // The publisher ignores the relay's keyframe requests (a joiner then waits for the next
    // natural IDR, every 60 frames) instead of answering them as encoders do.
    'ignore-pli': { type: 'boolean' },
    // The publisher holds its media while the crowd joins and until every viewer is connected or
    // failed (then resumes): relay CPU per join without the fan-out to those already in.
    hold: { type: 'boolean' },
    // Every load-generator viewer presents the engine's one DTLS certificate instead of its own
    // (how the load generator worked before 2026-11-30; for comparisons).
    'shared-certificate': { type: 'boolean' },
    out: { type: 'string' },
  },
});
const cfg = {
  viewers: Number(a.viewers),
  rate: Number(a.rate),
  rateKbps: Number(a['rate-kbps']),
  runs: Number(a.runs),
  inflight: Number(a.inflight),
  grace: Number(a.grace),
  seconds: Number(a.seconds),
  threads: Number(a.threads),
  workers: Number(a.workers),
  keyframeOnRequest: !a['ignore-pli'],
  hold: Boolean(a.hold),
  sharedCertificate: Boolean(a['shared-certificate']),
  relays: a.relays.split(',').map((r) => (r === 'this' ? root : r)),
};
if (!Number.isInteger(cfg.viewers) || cfg.viewers < 1 || cfg.viewers > 20000) throw new Error('--viewers: 1..20000');
if (!(cfg.rate > 0 && cfg.rate <= 10000)) throw new Error('--rate: joins per second, 1..10000');
setTimeout(() => process.exit(3), 60 * 60 * 1000).unref();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const log = (m) => process.stderr.write(`${m}\n`);
const pct = (xs, q) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : undefined;
};
const median = (xs) => pct(xs.filter((x) => Number.isFinite(x)), 0.5);
/** UDP counters of the whole machine (/proc/net/snmp): datagrams dropped for a full receive buffer. */
const udpDrops = () => {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [k, v] = lines.map((l) => l.split(/\s+/).slice(1));
  const o = Object.fromEntries(k.map((x, i) => [x, Number(v[i])]));
  return o.RcvbufErrors ?? 0;
};
/** Datagrams dropped for a full receive buffer on the UDP sockets process `pid` holds (/proc/net/udp). */
const socketDrops = (pid) => {
  if (!pid) return undefined;
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return undefined;
  }
  let drops = 0;
  for (const l of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f.length > 12 && inodes.has(f[9])) drops += Number(f[12]);
  }
  return drops;
};
const c0connected = (load) => load.viewers.counters().filter((v) => v.state === 'connected').length;
const cpuOf = (s) => (s.cpuUserUs + s.cpuSystemUs) / 1e6;
const selfCpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

/** halfsec_join_seconds from the relay's /metrics: count and p50/p99 (bucket upper bounds). */
async function relayJoinHistogram(url) {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10000) })).text();
    const buckets = [...text.matchAll(/^halfsec_join_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
    const count = buckets.at(-1)?.[1] ?? 0;
    const q = (p) => buckets.find(([, c]) => c >= p * count)?.[0];
    return { count, p50: q(0.5), p99: q(0.99) };
  } catch {
    return undefined;
  }
}

async function measure(checkout, run) {
  const relay = await startRelayProcess(`${checkout}/bench/fanout/relay-child.mjs`, [String(cfg.workers)]);
  let load;
  try {
    load = await LoadRun.start({
      url: relay.url, stream: 'crowd', viewers: cfg.viewers, rateKbps: cfg.rateKbps, fps: 30, packetSize: 1200, publish: true, peer: 'native', keyframeOnRequest: cfg.keyframeOnRequest,
      concurrency: cfg.inflight, threads: cfg.threads, ipOctet: 100 + ((process.pid + run) % 100), joinTimeoutMs: 30000, sharedCertificate: cfg.sharedCertificate,
    });
    await sleep(1000);
    const whep = `${relay.url}/whep/crowd`;
    const errors = [];
    let posted = 0;
    let answered = 0;
    let failed = 0;
    let inflight = 0;
    let capped = 0; // schedule slots that found --inflight POSTs already out (the offered rate was not kept)
    if (cfg.hold) load.clients.setPublisherPaused(true);
    const r0 = await relay.stats();
    const l0 = selfCpu();
    const u0 = udpDrops();
    const relayDrops0 = socketDrops(relay.pid);
    const loadDrops0 = socketDrops(process.pid);
    const t0 = Date.now();
    const pending = [];
    // Open loop: every 5 ms, start the joins the schedule owes, unless --inflight are out.
    while (posted < cfg.viewers) {
      const due = Math.min(cfg.viewers, Math.floor(((Date.now() - t0) / 1000) * cfg.rate) + 1);
      while (posted < due) {
        if (inflight >= cfg.inflight) {
          capped++;
          break;
        }
        posted++;
        inflight++;
        pending.push(
          load.viewers.join(whep).then(
            () => void answered++,
            (err) => {
              failed++;
              if (errors.length < 5 && !errors.includes(err.message)) errors.push(err.message);
            },
          ).finally(() => void inflight--),
        );
      }
      await sleep(5);
    }
    const postSeconds = (Date.now() - t0) / 1000;
    await Promise.all(pending);
    const answeredSeconds = (Date.now() - t0) / 1000;
    let connectedSeconds;
    if (cfg.hold) {
      for (const end = Date.now() + 30000; Date.now() < end; ) {
        if (load.viewers.counters().every((v) => v.state !== 'joining')) break;
        await sleep(500);
      }
      connectedSeconds = (Date.now() - t0) / 1000;
    }
    const r1 = await relay.stats();
    const l1 = selfCpu();
    const cpuSeconds = connectedSeconds ?? answeredSeconds;
    if (cfg.hold) load.clients.setPublisherPaused(false);
    // Wait for media up to the grace period after the last POST.
    const graceEnd = (cfg.hold ? Date.now() : t0 + postSeconds * 1000) + cfg.grace * 1000;
    let c = load.viewers.counters();
    while (Date.now() < graceEnd) {
      c = load.viewers.counters();
      if (c.length === answered && c.every((v) => v.joinMs !== undefined || v.state === 'failed')) break;
      await sleep(500); // counters() builds an object per viewer: not too often
    }
    const settledSeconds = (Date.now() - t0) / 1000;
    c = load.viewers.counters();
    const joinMs = c.flatMap((v) => (v.joinMs !== undefined ? [v.joinMs] : []));
    const relayJoin = await relayJoinHistogram(relay.url);
    const states = {}; // the viewers' native states (the publisher left out)
    for (const v of load.clients.engine.clientStats()) if (v.txPackets === 0 || v.rxPackets > 0) states[v.state] = (states[v.state] ?? 0) + 1;
    const rcvbufErrors = udpDrops() - u0;
    // Where datagrams were lost to full receive buffers: the relay's sockets or the load generator's.
    const relaySocketDrops = socketDrops(relay.pid) - relayDrops0;
    const loadGenSocketDrops = socketDrops(process.pid) - loadDrops0;
    const relayDropped = (await relay.stats()).dropped - r0.dropped;
    for (const v of c) if (v.error && errors.length < 5 && !errors.includes(v.error)) errors.push(v.error);
    const gotMedia = joinMs.length;
    // Everyone in: delivery over a window.
    const sA = await relay.stats();
    const lA = selfCpu();
    const [ma, mb] = await load.window(cfg.seconds);
    const sB = await relay.stats();
    const lB = selfCpu();
    const s = load.summarize(ma, mb);
    const win = s.window.seconds;
    const zero = [...mb.counters.values()].filter((v) => v.rxPackets - (ma.counters.get(v.key)?.rxPackets ?? 0) === 0).length;
    return {
      checkout,
      run,
      viewers: cfg.viewers,
      offeredRate: cfg.rate,
      postSeconds,
      answeredSeconds,
      joinsPerSecond: answered / answeredSeconds,
      capped,
      answered,
      signalFailed: failed,
      states,
      rcvbufErrors,
      relaySocketDrops,
      loadGenSocketDrops,
      relayDropped,
      connected: c.filter((v) => v.state === 'connected').length,
      gotMedia,
      gotMediaBySeconds: settledSeconds,
      joinP50Ms: pct(joinMs, 0.5),
      joinP99Ms: pct(joinMs, 0.99),
      joinMaxMs: joinMs.length ? Math.max(...joinMs) : undefined,
      relayJoin,
      connectedSeconds,
      relayCoresJoining: (cpuOf(r1) - cpuOf(r0)) / cpuSeconds,
      loadGenCoresJoining: (l1 - l0) / cpuSeconds,
      // CPU per join: relay process (user + system) and this process (the load generator's JS
      // and native threads), from the first POST until every answer (with --hold: every viewer
      // connected or failed), over the viewers that connected.
      relayCpuMsPerJoin: ((cpuOf(r1) - cpuOf(r0)) * 1000) / Math.max(1, c0connected(load)),
      loadGenCpuMsPerJoin: ((l1 - l0) * 1000) / Math.max(1, c0connected(load)),
      relayCoresWindow: (cpuOf(sB) - cpuOf(sA)) / win,
      loadGenCoresWindow: (lB - lA) / win,
      relayTxPps: (sB.txPackets - sA.txPackets) / win,
      expectedPerViewer: s.window.expectedPackets,
      deliveredMin: s.window.deliveredMin,
      deliveredTotal: s.window.deliveredTotal,
      zeroInWindow: zero,
      rssMiB: sB.rss / 2 ** 20,
      errors,
      loadavg: loadavg(),
    };
  } finally {
    await load?.close(false).catch(() => undefined);
    await relay.stop();
  }
}

function machine() {
  const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return { cpu: m?.[1] ?? cpus()[0]?.model, cores: availableParallelism(), kernel: release(), node: process.version, date: new Date().toISOString() };
}

const results = [];
for (let i = 0; i < cfg.runs; i++) {
  for (const checkout of cfg.relays) {
    log(`${checkout} run ${i + 1}/${cfg.runs}: ${cfg.viewers} viewers at ${cfg.rate} joins/s offered, ${cfg.rateKbps} kbit/s (loadavg ${loadavg()})`);
    try {
      const r = await measure(checkout, i);
      log(`  ${JSON.stringify(r)}`);
      results.push(r);
    } catch (err) {
      log(`  failed: ${err.message}`);
      results.push({ checkout, run: i, error: err.message });
    }
  }
}
const f = (v, d = 0) => (v === undefined || v === null || !Number.isFinite(v) ? '-' : Number(v).toFixed(d));
const header = ['relay', 'N', 'offered joins/s', 'achieved joins/s', 'answered in s', 'connected', 'got media', 'by s', 'join p50/p99 ms', 'relay join p50/p99 s', 'relay cores (join)', 'loadgen cores (join)', 'relay / loadgen CPU ms per join', 'deliv min/tot', 'zero in window', 'relay cores (window)', 'loadavg'];
const rows = cfg.relays.map((checkout) => {
  const ok = results.filter((r) => r.checkout === checkout && !r.error);
  if (!ok.length) return [checkout, String(cfg.viewers), String(cfg.rate), 'failed', ...header.slice(4).map(() => '')];
  const m = (fn) => median(ok.map(fn));
  return [
    checkout === root ? 'this' : checkout, String(cfg.viewers), String(cfg.rate), f(m((r) => r.joinsPerSecond)), f(m((r) => r.answeredSeconds), 1), f(m((r) => r.connected)), f(m((r) => r.gotMedia)),
    f(m((r) => r.gotMediaBySeconds), 1), `${f(m((r) => r.joinP50Ms))}/${f(m((r) => r.joinP99Ms))}`, `${f(m((r) => r.relayJoin?.p50), 2)}/${f(m((r) => r.relayJoin?.p99), 2)}`,
    f(m((r) => r.relayCoresJoining), 2), f(m((r) => r.loadGenCoresJoining), 2), `${f(m((r) => r.relayCpuMsPerJoin), 2)} / ${f(m((r) => r.loadGenCpuMsPerJoin), 2)}`, `${f(m((r) => r.deliveredMin * 100), 1)}%/${f(m((r) => r.deliveredTotal * 100), 1)}%`,
    f(m((r) => r.zeroInWindow)), f(m((r) => r.relayCoresWindow), 2), ok.map((r) => r.loadavg.split(' ')[0]).join(', '),
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
const table = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
const mc = machine();
mkdirSync(`${root}/bench/results`, { recursive: true });
const out = a.out ?? `${root}/bench/results/crowd-${mc.date.replace(/[:.]/g, '-')}.json`;
writeFileSync(out, `${JSON.stringify({ machine: mc, config: cfg, results }, null, 2)}\n`);
process.stdout.write(`\nMachine: ${mc.cpu}, ${mc.cores} cores, ${mc.kernel}, Node ${mc.node}\n${table}\n\nJSON: ${out}\n`);
process.exit(0);
