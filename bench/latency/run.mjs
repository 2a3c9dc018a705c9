#!/usr/bin/env node
// Glass-to-glass latency and join time through the relay with real browsers: headless Chromium
// publishes its fake camera through /publish (clock stamped into the video) and watches it
// through /watch; each watch page reads the stamp from decoded frames (web/clock-code.js).
// Prints figures and writes a JSON file; asserts nothing.
//
//   node bench/latency/run.mjs [--seconds 30] [--viewers 1] [--joins 10] [--codec h264-cb]
//                              [--size 640x360] [--simulcast] [--workers 2] [--loss 3] [--out file.json]
//                              [--limit-kbps 600 [--limit-seconds 20]]   (root: runs in its own netns)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createRelay } from '../../dist/index.js';
import { startLossyProxy } from '../../test/lossy-proxy.mjs';
import { launchChromium, openPublisher, openViewer, viewerStatus, waitForPlayback } from '../../test/browser-helpers.mjs';
import { limitedRun, reexecInNetns } from './limit.mjs';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    viewers: { type: 'string', default: '1' },
    joins: { type: 'string', default: '10' },
    codec: { type: 'string', default: 'h264-cb' },
    size: { type: 'string', default: '640x360' },
    simulcast: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    loss: { type: 'string', default: '0' },
    out: { type: 'string' },
    'limit-kbps': { type: 'string', default: '0' },
    'limit-seconds': { type: 'string', default: '20' },
  },
});
const limitKbps = Number(args['limit-kbps']);
const limitSeconds = Number(args['limit-seconds']);
if (limitKbps > 0) {
  const status = reexecInNetns();
  if (status !== null) process.exit(status);
}
const seconds = Number(args.seconds);
const viewerCount = Number(args.viewers);
const joinCount = Number(args.joins);

// Hard stop whatever happens: a wedged browser must not hold the machine.
setTimeout(() => {
  console.error('bench: watchdog expired');
  process.exit(3);
}, (seconds + 30 + joinCount * 10 + (limitKbps > 0 ? limitSeconds + 40 : 0)) * 1000 + 60_000).unref();

function percentile(values, p) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function summary(values) {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), min: values.length ? Math.min(...values) : null, max: values.length ? Math.max(...values) : null };
}

function debianVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  } catch {
    return null;
  }
}

// A random media port block, like the tests, so that a run beside other relays still binds.
const rtcBase = 45000 + Math.floor(Math.random() * 200) * 20;
// --loss P: media reaches the browsers through a shim on 127.0.0.2 that drops P % of the relay's
// RTP/RTCP toward them (seeded), so NACK recovery is what keeps the picture smooth.
const lossPct = Number(args.loss ?? 0);
const relay = createRelay({
  host: '127.0.0.1',
  port: 0,
  rtcBindAddress: '127.0.0.1',
  rtcPortMin: rtcBase,
  rtcPortMax: rtcBase + 19,
  workers: Number(args.workers),
  logLevel: 'warn',
  sessionsPerIpPerSecond: 0,
  ...(lossPct > 0 ? { announcedIps: ['127.0.0.2'] } : {}),
});
const { port } = await relay.listen();
const shims = [];
if (lossPct > 0) {
  for (const w of relay.stats().workers) {
    shims.push(await startLossyProxy(undefined, { target: { host: '127.0.0.1', port: w.port }, host: '127.0.0.2', port: w.port, toClientLoss: lossPct / 100, seed: 3 }));
  }
}
const base = `http://127.0.0.1:${port}`;
const chromium = await launchChromium({ limitMs: (seconds + 60 + joinCount * 10 + (limitKbps > 0 ? limitSeconds + 40 : 0)) * 1000 });
const stream = 'bench';
try {
  const context = await chromium.browser.newContext();
  await openPublisher(context, base, stream, { codec: args.codec, source: 'camera', size: args.size, stamp: '1', ...(args.simulcast ? { simulcast: '1' } : {}) });

  // Join time: fresh watch pages one after another, each closed after its first frame.
  const joins = [];
  for (let i = 0; i < joinCount; i++) {
    const page = await openViewer(context, base, stream);
    await waitForPlayback(page, { timeout: 10_000 });
    joins.push((await viewerStatus(page, 0)).joinMs);
    await page.close();
  }

  // Latency: long-lived viewers; samples are pulled while they play (the page keeps a window).
  const viewers = [];
  for (let i = 0; i < viewerCount; i++) {
    const page = await openViewer(context, base, stream);
    await waitForPlayback(page, { timeout: 10_000 });
    viewers.push({ page, lastClock: -1, samples: [] });
  }
  const end = Date.now() + seconds * 1000;
  let size = null;
  let codec = null;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 2000));
    for (const v of viewers) {
      const s = await viewerStatus(v.page, 900);
      size = `${s.width}x${s.height}`;
      v.loss = { freezeCount: s.freezeCount, nackCount: s.nackCount, packetsLost: s.packetsLost, framesDecoded: s.framesDecoded };
      codec = s.codec;
      for (const x of s.latencies) {
        // Clocks increase (mod 2^32, which a bench run never wraps): keep only the new ones.
        if (x.clock > v.lastClock) {
          v.samples.push(x.latency);
          v.lastClock = x.clock;
        }
      }
    }
  }
  // --limit-kbps: viewer 0's path limited for --limit-seconds after 5 s open, then open again.
  let limit = null;
  if (limitKbps > 0) {
    const port = (await viewerStatus(viewers[0].page, 0)).localPort;
    limit = await limitedRun({ status: () => viewerStatus(viewers[0].page, 0), port, kbps: limitKbps, openMs: 5000, limitMs: limitSeconds * 1000, recoverMs: 25_000, topHeight: Number(args.size.split('x')[1]) });
  }
  const latencies = viewers.flatMap((v) => v.samples);
  const result = {
    bench: 'latency',
    date: new Date().toISOString(),
    config: { seconds, viewers: viewerCount, joins: joinCount, codec: args.codec, size: args.size, simulcast: args.simulcast, relayWorkers: Number(args.workers) },
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      chromium: chromium.version,
      chromiumPackage: debianVersion('chromium'),
    },
    lossPercent: lossPct,
    viewerLoss: viewers.map((v) => v.loss),
    relayRetransmits: relay.stats().workers.reduce((a, w) => a + w.retransmits, 0),
    receivedSize: size,
    receivedCodec: codec,
    glassToGlassMs: summary(latencies),
    joinMs: summary(joins),
    limit,
    loadavg: os.loadavg(),
  };
  const fmt = (s) => `p50 ${s.p50} ms  p95 ${s.p95} ms  (min ${s.min}, max ${s.max}, n=${s.n})`;
  console.log(`machine: ${result.machine.cpu}, ${result.machine.cores} cores, node ${result.machine.node}, chromium ${result.machine.chromium}`);
  console.log(`stream: ${args.codec} ${args.size}${args.simulcast ? ' simulcast' : ''}, received ${codec} ${size}; ${viewerCount} viewer(s) for ${seconds} s`);
  console.log(`glass-to-glass: ${fmt(result.glassToGlassMs)}`);
  console.log(`join (WHEP POST -> first frame): ${fmt(result.joinMs)}`);
  if (lossPct > 0) {
    const dropped = shims.reduce((a, p) => a + p.stats.toClientDropped, 0);
    console.log(`loss ${lossPct} % relay -> browsers (${dropped} packets dropped by the shim), relay retransmits ${result.relayRetransmits}`);
    for (const [i, l] of result.viewerLoss.entries()) console.log(`  viewer ${i}: freezes ${l.freezeCount}, NACKs sent ${l.nackCount}, packets lost ${l.packetsLost}, frames decoded ${l.framesDecoded}`);
  }
  if (limit) {
    console.log(`limit ${limitKbps} kbit/s on viewer 0 for ${limitSeconds} s (top ${limit.topHeight}p): moved down after ${limit.moveDownMs ?? '-'} ms, back on top ${limit.recoverMs ?? '-'} ms after the limit lifted`);
    for (const [name, ph] of Object.entries(limit.phases)) {
      const at = Object.entries(ph.heights).sort((a, b) => Number(b[0]) - Number(a[0])).map(([h, ms]) => `${h}p ${(ms / 1000).toFixed(1)} s`).join(', ');
      console.log(`  ${name.padEnd(7)} ${(ph.ms / 1000).toFixed(1)} s: freezes ${ph.freezes}, frames ${ph.frames}; ${at}`);
    }
  }
  const out = args.out ?? new URL(`../results/latency-${result.date.replace(/[:.]/g, '-')}.json`, import.meta.url).pathname;
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
} finally {
  for (const p of shims) p.close();
  await chromium.close();
  await relay.close();
}
