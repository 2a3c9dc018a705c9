#!/usr/bin/env node
// Join time (WHEP POST -> first media packet at the viewer) with and without the relay's
// keyframe cache, in the same run. The native publisher of `halfsec load` sends an IDR every
// 60 frames (2 s) and ignores PLI, so without the cache a viewer waits for the next natural
// keyframe; with it, the relay starts the viewer from the cached one at once.
// Prints figures and writes a JSON file; asserts nothing. Loopback only; stops by itself.
//
//   node bench/join/run.mjs [--viewers 50] [--seconds 4] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/cli.js`;
const { values: args } = parseArgs({ options: { viewers: { type: 'string', default: '50' }, seconds: { type: 'string', default: '4' }, runs: { type: 'string', default: '3' } } });
setTimeout(() => process.exit(3), 15 * 60 * 1000).unref();

async function relay(cacheMs, port, rtcBase) {
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', String(port), '--rtc-bind', '127.0.0.1', '--rtc-ports', `${rtcBase}-${rtcBase + 9}`,
    '--sessions-per-ip-per-second', '0', '--keyframe-cache-max-age-ms', String(cacheMs), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('relay did not start');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { on: [], off: [] };
for (let run = 0; run < Number(args.runs); run++) {
  for (const [name, cacheMs] of [['on', 3000], ['off', 0]]) {
    const port = 18500 + run * 2 + (name === 'on' ? 0 : 1);
    const child = await relay(cacheMs, port, 46000 + run * 20 + (name === 'on' ? 0 : 10));
    try {
      process.stderr.write(`run ${run + 1}: keyframe cache ${name}\n`);
      const r = spawnSync(process.execPath, [cli, 'load', '--url', `http://127.0.0.1:${port}`, '--stream', `join${run}${name}`, '--publish', '--viewers', args.viewers, '--seconds', args.seconds, '--json'], { encoding: 'utf8', timeout: 120000 });
      const summary = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      results[name].push(summary.joinMs);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}
const row = (name) => ({ p50: median(results[name].map((j) => j.p50)), p99: median(results[name].map((j) => j.p99)), max: median(results[name].map((j) => j.max)) });
const out = {
  bench: 'join',
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, os: `${os.type()} ${os.release()}`, node: process.version },
  config: { viewers: Number(args.viewers), runs: Number(args.runs), publisherKeyframeIntervalS: 2 },
  withCache: row('on'),
  withoutCache: row('off'),
  runs: results,
};
console.log(`machine: ${out.machine.cpu}, ${out.machine.cores} cores, node ${out.machine.node}`);
console.log(`join time, WHEP POST -> first media packet, ${args.viewers} viewers, median of ${args.runs} runs (ms):`);
console.log('| keyframe cache | p50 | p99 | max |\n|---|---|---|---|');
for (const [label, r] of [['on', out.withCache], ['off', out.withoutCache]]) console.log(`| ${label} | ${r.p50?.toFixed(1)} | ${r.p99?.toFixed(1)} | ${r.max?.toFixed(1)} |`);
const file = `${root}bench/results/join-${out.date.replace(/[:.]/g, '-')}.json`;
mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`json: ${file}`);
