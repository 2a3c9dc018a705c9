#!/usr/bin/env node
// Fan-out benchmark: for each viewer count N, a relay in its own process, one native publisher
// and N native viewers in this process; relay CPU per packet against the kernel's own sendmmsg
// cost (measured in the same run), delivery, relay-added latency, memory, viewers per core.
// The same load against the peers in ../peers/ (node-datachannel; mediasoup 3.8.4, installed and
// built on first use), in paired runs. Prints figures; asserts none.
// Usage: node bench/fanout/run.mjs [--quick] [--sizes 100,500] [--runs 3] [--seconds 10]
//        [--rate-kbps 2500] [--peers halfsec,mediasoup,ndc] [--ndc-max 500] [--mediasoup-max 5000]
//        [--threads 1] [--workers N] [--transport udp|tcp]
//        [--relay-cpus 0 --load-cpus 1] (taskset placement: the relay process on some cores, this
//        process, i.e. the load generator, on others; the raw baseline runs on the relay's cores)
//        [--fanout-coalesce-us U] (peer halfsec-coalesce: the relay with fanoutCoalesceUs U, 1000 if unset)
//        [--baseline /work/main] (peer "baseline": that checkout's relay, built there, for paired
//        before/after runs of a change)
// --transport tcp: halfsec is measured twice in the same run, with UDP viewers ("halfsec") and
// with ICE-TCP viewers ("halfsec-tcp": RFC 4571 frames over one connected socket each, tcptype
// active); the publisher stays on UDP. --peers defaults to those two then.
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadRun } from '../../dist/load/run.js';
import { loadNative } from '../../dist/load/native.js';
import { startRelayProcess } from './relay-process.mjs';
import { ensureMediasoup } from '../peers/mediasoup/install.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    sizes: { type: 'string' },
    runs: { type: 'string' },
    seconds: { type: 'string' },
    'rate-kbps': { type: 'string' },
    peers: { type: 'string' },
    'ndc-max': { type: 'string' },
    'mediasoup-max': { type: 'string' },
    threads: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    'no-hold': { type: 'boolean' },
    transport: { type: 'string' },
    burst: { type: 'boolean' },
    'relay-cpus': { type: 'string' },
    'load-cpus': { type: 'string' },
    'fanout-coalesce-us': { type: 'string' },
    baseline: { type: 'string' },
  },
});
const cfg = {
  sizes: (a.sizes ?? (a.quick ? '100,500' : '100,500,1000,2000,5000')).split(',').map(Number),
  runs: Number(a.runs ?? (a.quick ? 1 : 3)),
  seconds: Number(a.seconds ?? (a.quick ? 5 : 10)),
  rateKbps: Number(a['rate-kbps'] ?? 2500),
  packetSize: 1200,
  fps: 30,
  transport: a.transport ?? 'udp',
  peers: (a.peers ?? (a.transport === 'tcp' ? 'halfsec,halfsec-tcp' : 'halfsec,ndc')).split(','),
  ndcMax: Number(a['ndc-max'] ?? 500),
  mediasoupMax: Number(a['mediasoup-max'] ?? 5000),
  threads: Number(a.threads ?? 1),
  workers: Number(a.workers ?? availableParallelism()),
  // Viewers join while the publisher holds its media: on a small machine, joining under full
  // load measures the machine's saturation rather than the fan-out.
  hold: !a['no-hold'],
  // The publisher sends each frame's packets back to back (OBS and other unpaced encoders),
  // instead of evenly spaced: the relay then has runs of packets per viewer (UDP GSO).
  burst: Boolean(a.burst),
  // CPU placement (taskset lists such as "0" or "0,1"); unset: the scheduler places everything.
  relayCpus: a['relay-cpus'],
  loadCpus: a['load-cpus'],
  fanoutCoalesceUs: a['fanout-coalesce-us'] !== undefined ? Number(a['fanout-coalesce-us']) : undefined,
};
const cpuList = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
for (const c of [cfg.relayCpus, cfg.loadCpus]) if (c !== undefined && !cpuList.test(c)) throw new Error('--relay-cpus/--load-cpus: a CPU list such as 0 or 0,1');
// Every thread of this process (load generator loops, the raw sender) to `cpus`; new threads
// inherit the creating thread's mask.
const pinSelf = (cpus) => cpus !== undefined && execSync(`taskset -a -p -c ${cpus} ${process.pid}`, { stdio: 'ignore' });
pinSelf(cfg.loadCpus);
if (!['udp', 'tcp'].includes(cfg.transport)) throw new Error('--transport: udp or tcp');
if (cfg.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 20000)) throw new Error('--sizes: integers in 1..20000');
const pps = (cfg.rateKbps * 1000) / 8 / cfg.packetSize;
const mul = (v, k) => (v === undefined ? undefined : v * k);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((x, y) => x - y);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined;
};
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const log = (m) => process.stderr.write(`${m}\n`);
/**
 * The q-quantile (seconds) of a bucket histogram's growth between two stats answers: linear
 * within the bucket, as Prometheus' histogram_quantile does; undefined without both.
 */
function residenceQuantile(a, b, q) {
  if (!a?.residenceBuckets || !b?.residenceBuckets) return undefined;
  const d = b.residenceBuckets.map((c, i) => c - (a.residenceBuckets[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0);
  if (total <= 0) return undefined;
  const bounds = b.residenceBounds;
  let acc = 0;
  for (let i = 0; i < d.length; i++) {
    if (acc + d[i] >= q * total) {
      const lo = i === 0 ? 0 : bounds[i - 1];
      if (i >= bounds.length) return lo; // the +Inf bucket: its lower bound
      return lo + ((bounds[i] - lo) * (q * total - acc)) / d[i];
    }
    acc += d[i];
  }
  return undefined;
}

const RELAYS = {
  halfsec: { script: `${here}relay-child.mjs`, args: [String(cfg.workers)] },
  // The same relay with the fan-out coalescing window (--fanout-coalesce-us, default 1000 µs here).
  'halfsec-coalesce': { script: `${here}relay-child.mjs`, args: [String(cfg.workers), 'gso', String(cfg.fanoutCoalesceUs ?? 1000)] },
  // The same relay with UDP GSO off: paired before/after runs of the send path.
  'halfsec-nogso': { script: `${here}relay-child.mjs`, args: [String(cfg.workers), 'nogso'] },
  'halfsec-tcp': { script: `${here}relay-child.mjs`, args: [String(cfg.workers)], transport: 'tcp' },
  // Another checkout's relay (--baseline): before/after pairs of a change, same load and window.
  baseline: { script: `${a.baseline ?? '.'}/bench/fanout/relay-child.mjs`, args: [String(cfg.workers)] },
  // The same relay with each worker thread pinned to its own CPU (pinWorkers).
  'halfsec-pinned': { script: `${here}relay-child.mjs`, args: [String(cfg.workers), 'gso', '', 'pin'] },
  'halfsec-rt': { script: `${here}relay-child.mjs`, args: [String(cfg.workers), 'gso', '', 'pin', '10'] },
  ndc: { script: `${here}../peers/ndc-relay.mjs`, args: [] },
  // mediasoup 3.8.4, installed and built on first use into bench/peers/mediasoup/.install.
  mediasoup: { script: `${here}../peers/mediasoup/relay.mjs`, args: [String(cfg.workers)], prepare: () => ensureMediasoup({ log }) },
};

async function measure(peer, n, runIndex) {
  const relay = await startRelayProcess(RELAYS[peer].script, RELAYS[peer].args, undefined, undefined, cfg.relayCpus);
  let run;
  let idle;
  let heldRss; // RSS with every viewer connected and no media flowing (held publisher)
  try {
    const s0 = await relay.stats();
    run = await LoadRun.start({
      url: relay.url,
      stream: 'bench',
      viewers: n,
      rateKbps: cfg.rateKbps,
      fps: cfg.fps,
      packetSize: cfg.packetSize,
      burst: cfg.burst,
      publish: true,
      peer: 'native',
      transport: RELAYS[peer].transport ?? 'udp',
      concurrency: 20,
      threads: cfg.threads,
      ipOctet: 100 + ((process.pid + runIndex) % 100),
      joinTimeoutMs: 30000,
      holdWhileJoining: cfg.hold,
      // Every viewer connected, no media (the held publisher sends only sender reports): the
      // relay's idle cost.
      onJoinedHeld: async () => {
        const i0 = await relay.stats();
        heldRss = i0.rss;
        const t0 = Date.now();
        await sleep(2000);
        const i1 = await relay.stats();
        idle = (i1.cpuUserUs + i1.cpuSystemUs - i0.cpuUserUs - i0.cpuSystemUs) / 1e6 / ((Date.now() - t0) / 1000);
      },
      onProgress: (line) => line && process.stderr.isTTY && process.stderr.write(`\r\x1b[K  ${peer} N=${n} run ${runIndex + 1}: ${line}`),
    });
    await sleep(500);
    const sPub = await relay.stats();
    const joinStart = Date.now();
    await run.joinAll();
    const joinSeconds = (Date.now() - joinStart) / 1000;
    // Settle past one keyframe interval (the publisher's IDR comes every 2 s): viewers of a
    // relay without a keyframe cache (mediasoup) wait for the next one before they play.
    await sleep(2500);
    const sA = await relay.stats();
    const [ma, mb] = await run.window(cfg.seconds);
    const sB = await relay.stats();
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const s = run.summarize(ma, mb);
    const tx = sB.txPackets - sA.txPackets;
    const cpu = (sB.cpuUserUs + sB.cpuSystemUs - sA.cpuUserUs - sA.cpuSystemUs) / 1e6;
    const joined = s.viewers.joined;
    return {
      viewers: n,
      joined,
      failed: s.viewers.failed,
      errors: s.viewers.errors,
      joinSeconds,
      windowSeconds: s.window.seconds,
      relayTxPackets: tx,
      relayGsoMessages: sB.gsoMessages !== undefined ? sB.gsoMessages - sA.gsoMessages : undefined,
      relayCpuSeconds: cpu,
      relayCoresUsed: cpu / s.window.seconds,
      idleCores: idle,
      relayCpuSecPerMpkt: tx > 0 ? cpu / (tx / 1e6) : undefined,
      relayUsPerPacket: tx > 0 ? (cpu * 1e6) / tx : undefined,
      expectedPerViewer: s.window.expectedPackets,
      perViewerMin: s.window.perViewerMin,
      perViewerMedian: s.window.perViewerMedian,
      deliveredMin: s.window.deliveredMin,
      deliveredTotal: s.window.deliveredTotal,
      authChecked: s.auth.checked,
      authFailed: s.auth.failed,
      badPayload: s.auth.badPayload,
      latencyUs: s.latencyUs,
      // Relay residence (kernel receive timestamp to sendmmsg return), from the relay's own histogram.
      residenceP50Us: mul(residenceQuantile(sA, sB, 0.5), 1e6),
      residenceP99Us: mul(residenceQuantile(sA, sB, 0.99), 1e6),
      // Per worker (the publisher's worker receives and decrypts before its own fan-out; the
      // others start at their wake-up): p50/p99 µs each.
      residenceByWorkerUs: sB.residenceByWorker?.map((b, w) => {
        const one = (x) => ({ residenceBuckets: x.residenceByWorker?.[w], residenceBounds: x.residenceBounds });
        return [mul(residenceQuantile(one(sA), one(sB), 0.5), 1e6), mul(residenceQuantile(one(sA), one(sB), 0.99), 1e6)].map((v) => (v === undefined ? undefined : Math.round(v)));
      }),
      residenceCounted: sB.residenceBuckets && sA.residenceBuckets ? sB.residenceBuckets.reduce((x, y) => x + y, 0) - sA.residenceBuckets.reduce((x, y) => x + y, 0) : undefined,
      joinMs: s.joinMs,
      rssBaseMiB: s0.rss / 2 ** 20,
      rssMiB: sB.rss / 2 ** 20,
      rssKiBPerViewer: joined > 0 ? (sB.rss - sPub.rss) / 1024 / joined : undefined,
      rssHeldKiBPerViewer: joined > 0 && heldRss !== undefined ? (heldRss - sPub.rss) / 1024 / joined : undefined,
      heapKiBPerViewer: joined > 0 && sB.heapUsed !== undefined ? (sB.heapUsed - sPub.heapUsed) / 1024 / joined : undefined,
      viewersPerCore: tx > 0 ? 1 / (((cpu * 1e6) / tx) * 1e-6 * pps) : undefined,
    };
  } finally {
    await run?.close(false).catch(() => undefined);
    await relay.stop();
  }
}

async function raw(n, tcp = false) {
  // SRTP (AEAD_AES_128_GCM) adds a 16-byte tag to each 1,200-byte packet the relay sends.
  // tcp: send() of one RFC 4571 frame per packet on N accepted connections (ICE-TCP viewers).
  // Pinned runs: the kernel's cost is measured where the relay runs (sender and sink on the
  // relay's cores), then this process goes back to the load generator's cores.
  if (cfg.relayCpus !== undefined) pinSelf(cfg.relayCpus);
  const r = await loadNative.rawSend({ destinations: n, roundsPerSecond: pps, packetSize: cfg.packetSize + 16, seconds: Math.min(cfg.seconds, 5), ipOctet: 250, tcp });
  pinSelf(cfg.loadCpus);
  const cpu = r.userSeconds + r.systemSeconds;
  return { ...r, cpuSecPerMpkt: r.sent > 0 ? cpu / (r.sent / 1e6) : undefined, usPerPacket: r.sent > 0 ? (cpu * 1e6) / r.sent : undefined };
}

function machine() {
  let kernel = release();
  try {
    kernel = execSync('uname -sr').toString().trim();
  } catch {
    // keep os.release()
  }
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1];
  } catch {
    // keep os.cpus()
  }
  return { cpu: model, cores: availableParallelism(), kernel, node: process.version, date: new Date().toISOString() };
}

for (const peer of cfg.peers) {
  if (!RELAYS[peer]) throw new Error(`unknown peer ${peer} (${Object.keys(RELAYS).join(', ')})`);
  await RELAYS[peer].prepare?.();
}
// Paired runs: for each N and run, every peer back to back, then the kernel's own cost once, so
// the shared machine's noise falls alike on all of them; ratios are taken within a run.
const skip = (peer, n) =>
  peer === 'ndc' && n > cfg.ndcMax ? `above --ndc-max ${cfg.ndcMax}` : peer === 'mediasoup' && n > cfg.mediasoupMax ? `above --mediasoup-max ${cfg.mediasoupMax}` : undefined;
const results = [];
for (const n of cfg.sizes) {
  const runsBy = new Map(cfg.peers.map((p) => [p, []]));
  for (let i = 0; i < cfg.runs; i++) {
    const pair = new Map();
    for (const peer of cfg.peers) {
      if (skip(peer, n)) continue;
      log(`${peer} N=${n} run ${i + 1}/${cfg.runs} (loadavg ${loadavg()})`);
      try {
        const m = await measure(peer, n, i);
        m.loadavg = loadavg();
        if (m.rssHeldKiBPerViewer !== undefined) log(`  RSS per connected viewer, no media: ${m.rssHeldKiBPerViewer.toFixed(1)} KiB`);
        pair.set(peer, m);
      } catch (err) {
        log(`  failed: ${err.message}`);
        runsBy.get(peer).push({ viewers: n, error: err.message });
      }
    }
    const rawBy = {};
    for (const peer of pair.keys()) {
      const tcp = RELAYS[peer].transport === 'tcp';
      rawBy[tcp] ??= await raw(n, tcp);
    }
    const ms = pair.get('mediasoup');
    for (const [peer, m] of pair) {
      const r = rawBy[RELAYS[peer].transport === 'tcp'];
      m.raw = r;
      m.relayOverRaw = m.relayCpuSecPerMpkt !== undefined && r.cpuSecPerMpkt ? m.relayCpuSecPerMpkt / r.cpuSecPerMpkt : undefined;
      m.relayOverMediasoup = ms?.relayCpuSecPerMpkt && m.relayCpuSecPerMpkt !== undefined ? m.relayCpuSecPerMpkt / ms.relayCpuSecPerMpkt : undefined;
      runsBy.get(peer).push(m);
      log(`  ${peer}: relay ${m.relayUsPerPacket?.toFixed(2)} µs/pkt, raw ${r.usPerPacket?.toFixed(2)} µs/pkt, ÷mediasoup ${m.relayOverMediasoup?.toFixed(2) ?? '-'}, delivered min ${(m.deliveredMin * 100).toFixed(1)} %, p99 ${m.latencyUs.p99?.toFixed(0)} µs, residence p50/p99 ${m.residenceP50Us?.toFixed(0) ?? '-'}/${m.residenceP99Us?.toFixed(0) ?? '-'} µs${m.residenceByWorkerUs ? ` (per worker ${m.residenceByWorkerUs.map((x) => x.join('/')).join(', ')})` : ''}, joined ${m.joined}/${n}`);
    }
  }
  for (const peer of cfg.peers) {
    const why = skip(peer, n);
    if (why) {
      results.push({ peer, viewers: n, skipped: why });
      continue;
    }
    const runs = runsBy.get(peer);
    const ok = runs.filter((r) => !r.error);
    const pick = (f) => median(ok.map(f));
    results.push({
      peer,
      viewers: n,
      runs,
      median: ok.length
        ? {
            joined: pick((r) => r.joined),
            relayCpuSecPerMpkt: pick((r) => r.relayCpuSecPerMpkt),
            relayUsPerPacket: pick((r) => r.relayUsPerPacket),
            rawCpuSecPerMpkt: pick((r) => r.raw.cpuSecPerMpkt),
            rawUsPerPacket: pick((r) => r.raw.usPerPacket),
            relayOverRaw: pick((r) => r.relayOverRaw),
            relayOverMediasoup: pick((r) => r.relayOverMediasoup),
            relayCoresUsed: pick((r) => r.relayCoresUsed),
            idleCores: pick((r) => r.idleCores),
            deliveredMin: pick((r) => r.deliveredMin),
            deliveredTotal: pick((r) => r.deliveredTotal),
            latencyP50Us: pick((r) => r.latencyUs.p50),
            latencyP99Us: pick((r) => r.latencyUs.p99),
            latencyMaxUs: pick((r) => r.latencyUs.max),
            residenceP50Us: pick((r) => r.residenceP50Us),
            residenceP99Us: pick((r) => r.residenceP99Us),
            joinP50Ms: pick((r) => r.joinMs.p50),
            joinP99Ms: pick((r) => r.joinMs.p99),
            rssMiB: pick((r) => r.rssMiB),
            rssKiBPerViewer: pick((r) => r.rssKiBPerViewer),
            rssHeldKiBPerViewer: pick((r) => r.rssHeldKiBPerViewer),
            heapKiBPerViewer: pick((r) => r.heapKiBPerViewer),
            viewersPerCore: pick((r) => r.viewersPerCore),
            authFailed: Math.max(...ok.map((r) => r.authFailed)),
            badPayload: Math.max(...ok.map((r) => r.badPayload)),
            loadavg: ok.map((r) => r.loadavg).join(' | '),
          }
        : undefined,
    });
  }
}

const f = (v, d = 0) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Number(v).toFixed(d));
const header = ['relay', 'N', 'joined', 'relay µs/pkt', 'raw µs/pkt', 'relay/raw', '÷mediasoup', 'cores', 'idle cores', 'deliv min', 'deliv tot', 'p50 µs', 'p99 µs', 'max µs', 'res p50/p99 µs', 'join p50/p99 ms', 'RSS MiB', 'KiB/viewer', 'JS heap KiB/viewer', 'viewers/core'];
const rows = results.map((r) => {
  const m = r.median;
  if (!m) return [r.peer, String(r.viewers), r.skipped ?? 'failed', ...header.slice(3).map(() => '')];
  return [
    r.peer, String(r.viewers), `${f(m.joined)}`, f(m.relayUsPerPacket, 2), f(m.rawUsPerPacket, 2), f(m.relayOverRaw, 2), f(m.relayOverMediasoup, 2), f(m.relayCoresUsed, 2), f(m.idleCores, 3),
    `${f(m.deliveredMin * 100, 1)}%`, `${f(m.deliveredTotal * 100, 1)}%`, f(m.latencyP50Us), f(m.latencyP99Us), f(m.latencyMaxUs), `${f(m.residenceP50Us)}/${f(m.residenceP99Us)}`,
    `${f(m.joinP50Ms, 0)}/${f(m.joinP99Ms, 0)}`, f(m.rssMiB, 0), f(m.rssKiBPerViewer, 1), f(m.heapKiBPerViewer, 1), f(m.viewersPerCore, 0),
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
const table = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
const m = machine();
const doc = { machine: m, config: { ...cfg, packetsPerSecond: pps }, results };
mkdirSync(`${here}../results`, { recursive: true });
const out = a.out ?? `${here}../results/fanout-${m.date.replace(/[:.]/g, '-')}.json`;
writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
writeFileSync(`${here}../results/latest.md`, `Machine: ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}, ${m.date}\nLoad: ${cfg.rateKbps} kbit/s, ${cfg.packetSize}-byte packets (${pps.toFixed(0)} packets/s), ${cfg.seconds} s window, median of ${cfg.runs} run(s), relay workers ${cfg.workers}\n\n${table}\n`);
process.stdout.write(`\nMachine: ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}\n${table}\n\nJSON: ${out}\n`);
process.exit(0);
