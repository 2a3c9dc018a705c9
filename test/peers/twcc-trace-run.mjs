// Records the transport-cc traces of native/tests/traces/ (see its README): a headless Chromium
// viewer of a three-layer VP8 simulcast stream, inside a network namespace holding only lo,
// through four phases on its own UDP port (tc, as test/tc-limit.mjs: an htb root whose default
// class is open and a class for the viewer's port):
//   open      the viewer's class is a pfifo, nothing limits it;
//   limited   the class's leaf becomes a tbf of `limitKbps` (8 KB burst, 200 ms queue);
//   lifted    back to the open pfifo;
//   lossy     bursts: every `burstEveryMs` the leaf is a `pfifo limit 0` (drops everything,
//             adds no delay) for `burstMs`, open in between; then open again.
// The relay runs in this process with HALFSEC_TWCC_TRACE_DIR set (native/media/twcc_trace.h),
// so the viewer's sends and its feedback are written by the data plane; phase marks use
// process.hrtime (CLOCK_MONOTONIC, the recorder's clock). At the end the trace is cut into one
// gzipped file per scenario in `outDir`:  node twcc-trace-run.mjs <outDir> [limitKbps=600]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { say, sleep, watchdog } from './runner.mjs';

const [outDir, limitKbpsArg = '600'] = process.argv.slice(2);
if (!outDir) throw new Error('usage: twcc-trace-run.mjs <outDir> [limitKbps]');
const limitKbps = Number(limitKbpsArg);
const traceDir = mkdtempSync(join(tmpdir(), 'twcc-trace-'));
process.env.HALFSEC_TWCC_TRACE_DIR = traceDir;
const { createRelay } = await import('../../dist/index.js');
const { startNetnsRelay } = await import('../netns.mjs');
const { launchChromium, openPublisher, openViewer, publisherStatus, viewerStatus, waitForPlayback } = await import('../browser-helpers.mjs');

const OPEN_MS = 10_000, LIMITED_MS = 12_000, LIFTED_MS = 15_000, BURSTS = 6, BURST_MS = 250, BURST_EVERY_MS = 1000, AFTER_MS = 12_000;
watchdog(150_000);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const TC = '/usr/sbin/tc';
const tc = (...args) => {
  const r = spawnSync(TC, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tc ${args.join(' ')}: ${r.stderr}`);
};
// `replace` keeps the qdisc's kind (pfifo limit 0 <-> 10000); a tbf <-> pfifo change is a delete and an add.
let leafKind = '';
const leaf = (...spec) => {
  if (leafKind && leafKind !== spec[0]) tc('qdisc', 'del', 'dev', 'lo', 'parent', '1:30', 'handle', '30:');
  tc('qdisc', leafKind === spec[0] ? 'replace' : 'add', 'dev', 'lo', 'parent', '1:30', 'handle', '30:', ...spec);
  leafKind = spec[0];
};
const OPEN = ['pfifo', 'limit', '10000'];
const DROP = ['pfifo', 'limit', '0'];
const LIMIT = ['tbf', 'rate', `${limitKbps}kbit`, 'burst', '8kb', 'latency', '200ms'];

const marks = {};
const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', 42600);
let chromium, version = '';
try {
  chromium = await launchChromium({ limitMs: 140_000 });
  version = chromium.browser.version();
  const context = await chromium.browser.newContext();
  const pub = await openPublisher(context, base, 'rec', { codec: 'vp8', source: 'camera', size: '1280x720', stamp: '0', simulcast: '1', audio: '0' });
  const layersUp = Date.now();
  while (Date.now() - layersUp < 20_000 && (await publisherStatus(pub)).layers.filter((x) => x.width > 0 && x.kbps > 0).length < 3) await sleep(250);
  const page = await openViewer(context, base, 'rec');
  await waitForPlayback(page, { timeout: 15_000 });
  const topAt = Date.now();
  while (Date.now() - topAt < 10_000 && (await viewerStatus(page, 0)).height !== 720) await sleep(250);
  const port = (await viewerStatus(page, 0)).localPort;
  if (!port) throw new Error('the viewer reports no local port');
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '20gbit', 'quantum', '60000');
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:10', 'handle', '10:', ...OPEN);
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:30', 'htb', 'rate', '20gbit', 'quantum', '60000');
  leaf(...OPEN);
  tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dport', String(port), '0xffff', 'flowid', '1:30');
  const heights = [];
  const watch = setInterval(async () => heights.push([nowUs(), (await viewerStatus(page, 0).catch(() => ({}))).height ?? 0]), 500);
  marks.open = nowUs();
  await sleep(OPEN_MS);
  leaf(...LIMIT);
  marks.limit = nowUs();
  await sleep(LIMITED_MS);
  leaf(...OPEN);
  marks.lift = nowUs();
  await sleep(LIFTED_MS);
  marks.lossOn = nowUs();
  for (let i = 0; i < BURSTS; i++) {
    leaf(...DROP);
    await sleep(BURST_MS);
    leaf(...OPEN);
    await sleep(BURST_EVERY_MS - BURST_MS);
  }
  marks.lossOff = nowUs();
  await sleep(AFTER_MS);
  marks.end = nowUs();
  clearInterval(watch);
  say({ event: 'heights', heights: heights.map(([t, h]) => [Math.round((t - marks.open) / 1e5) / 10, h]) });
  await page.close();
  await pub.close();
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  spawnSync(TC, ['qdisc', 'del', 'dev', 'lo', 'root']);
  await chromium?.close();
  await relay.close();
}
if (!marks.end) process.exit(1);
await sleep(500);

// The viewer's trace: the largest file (a publisher writes none).
const files = readdirSync(traceDir).map((f) => join(traceDir, f)).sort((a, b) => statSync(b).size - statSync(a).size);
const lines = readFileSync(files[0], 'utf8').split('\n').filter(Boolean);
const at = (l) => Number(l.split(' ', 2)[1]);
const header = [`# recorded ${new Date().toISOString()} by test/peers/twcc-trace-run.mjs; ${version}; loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`];
function cut(name, from, to, note, names) {
  const out = [...header, `# ${note}`];
  for (const k of names) out.push(`M ${marks[k] - from} ${k}`);
  out.push(`L ${limitKbps * 1000}`);
  for (const l of lines) {
    const t = at(l);
    if (t >= from && t < to) out.push(l.replace(/^(\S) (-?\d+)/, (_, k) => `${k} ${t - from}`));
  }
  const gz = gzipSync(out.join('\n') + '\n', { level: 9 });
  writeFileSync(join(outDir, `${name}.txt.gz`), gz);
  say({ event: 'trace', name, lines: out.length, bytes: gz.length, seconds: (to - from) / 1e6 });
}
cut('steady', marks.open, marks.open + 8e6, 'steady: the viewer on the top layer, link open', ['open']);
cut('step-down', marks.limit - 2e6, marks.limit + 10e6, `step down: tbf ${limitKbps} kbit/s (8 KB burst, 200 ms) on the viewer's port at "limit"`, ['limit']);
cut('step-up', marks.limit, marks.lift + 14e6, `step up: limited to ${limitKbps} kbit/s from the start, lifted at "lift"`, ['limit', 'lift']);
cut('bursty-loss', marks.lossOn - 2e6, marks.lossOff + 10e6, `bursty loss: ${BURSTS} bursts of ${BURST_MS} ms dropping every packet (pfifo limit 0), one per ${BURST_EVERY_MS} ms, between "lossOn" and "lossOff"`, ['lossOn', 'lossOff']);
rmSync(traceDir, { recursive: true, force: true });
process.exit(0);
