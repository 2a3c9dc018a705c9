#!/usr/bin/env node
// Glass-to-glass latency of ingest against WHIP, in one run on one machine: a /watch page in
// headless Chromium reads the wall clock stamped into each frame (web/clock-code.js) of
//   whip: the /publish page's stamped fake camera (Chromium's H.264 encoder, WebRTC in),
//   rtmp: FFmpeg (libx264 zerolatency, no B-frames, 1 s GOP, AAC) publishing RTMP,
//   srt:  the same source as MPEG-TS over SRT (120 ms SRT latency, -muxdelay 0, -flush_packets 1),
// the FFmpeg sources stamped by test/ingest-stamp.mjs. Prints a table; asserts nothing.
//
//   node bench/latency/ingest.mjs [--seconds 15] [--runs 3] [--modes whip,rtmp,srt]
import { spawn } from 'node:child_process';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRelay } from '../../dist/index.js';
import { launchChromium, openPublisher, openViewer, viewerStatus, waitForPlayback } from '../../test/browser-helpers.mjs';
import { stampedSourceArgs } from '../../test/ingest-stamp.mjs';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, runs: { type: 'string', default: '3' }, modes: { type: 'string', default: 'whip,rtmp,srt' } } });
const seconds = Number(args.seconds);
const runs = Number(args.runs);
const modes = args.modes.split(',');
setTimeout(() => {
  console.error('bench: watchdog expired');
  process.exit(3);
}, (seconds + 40) * runs * modes.length * 1000).unref();

const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const chromium = await launchChromium({ limitMs: (seconds + 40) * runs * modes.length * 1000 });
const rows = [];
try {
  for (let run = 0; run < runs; run++) {
    for (const mode of modes) {
      const rtmpPort = 21000 + Math.floor(Math.random() * 8000);
      const srtPort = rtmpPort + 1;
      const relay = createRelay({ host: '127.0.0.1', port: 0, rtcBindAddress: '127.0.0.1', rtcPortMin: 43000, rtcPortMax: 43019, workers: 2, logLevel: 'silent', rtmpPort, srtPort, sessionsPerIpPerSecond: 0 });
      const { port } = await relay.listen();
      if (mode === 'srt' && !(await relay.srt.ready).available) throw new Error('SRT ingest unavailable: npm run build:srt (needs libsrt-openssl-dev)');
      const base = `http://127.0.0.1:${port}`;
      const context = await chromium.browser.newContext({ viewport: { width: 800, height: 600 } });
      let src;
      try {
        let stream = mode;
        if (mode === 'whip') {
          await openPublisher(context, base, 'whip', { codec: 'h264-cb', source: 'camera', size: '640x360', stamp: '1' });
        } else {
          const out = mode === 'rtmp' ? ['-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/rtmp`] : ['-muxdelay', '0', '-pes_payload_size', '0', '-flush_packets', '1', '-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=publish:srt`];
          await sleep(300);
          src = spawn('ffmpeg', [...stampedSourceArgs({ seconds: seconds + 20 }), ...out], { stdio: 'ignore' });
          const deadline = Date.now() + 15000;
          while (!relay.stats().publishers && Date.now() < deadline) await sleep(100);
          stream = mode;
        }
        await sleep(2000);
        const page = await openViewer(context, base, stream);
        await waitForPlayback(page, { timeout: 15000 });
        await sleep(seconds * 1000);
        const s = await viewerStatus(page, 100000);
        const lat = s.latencies.map((x) => x.latency).filter((x) => x > 0 && x < 5000);
        rows.push({ run, mode, frames: lat.length, p50: pct(lat, 50), p95: pct(lat, 95), joinMs: s.joinMs });
        console.log(JSON.stringify(rows.at(-1)));
      } finally {
        src?.kill('SIGKILL');
        await context.close();
        await relay.close();
      }
    }
  }
} finally {
  await chromium.close();
}
const load = readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`\nmachine: ${os.cpus()[0]?.model} x${os.cpus().length}, kernel ${os.release()}, loadavg ${load}`);
console.log('| source | runs | glass-to-glass p50 (median of runs) | p95 (median of runs) | join ms (median) |');
console.log('|---|---|---|---|---|');
for (const mode of modes) {
  const r = rows.filter((x) => x.mode === mode);
  console.log(`| ${mode} | ${r.length} | ${pct(r.map((x) => x.p50), 50)} ms | ${pct(r.map((x) => x.p95), 50)} ms | ${pct(r.map((x) => x.joinMs), 50)} |`);
}
