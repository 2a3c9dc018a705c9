// The SVC policy on the relay's own estimate, with real browsers: a Chromium viewer of a VP8
// or AV1 L1T3 stream (Chromium canvas publisher; AV1's layers from the dependency descriptor) behind a link tc limits to half the stream's
// measured rate. The relay's estimate falls, its SVC policy (ts/media/svc-policy.ts) lowers the
// viewer's temporal target and the data plane drops the upper temporal layers: the viewer
// decodes fewer frames per second but keeps decoding, with at most one freeze for the move; with the link
// open again it climbs back to the full rate. Runs test/peers/svc-limited-run.mjs in a network
// namespace of its own. Needs root and tc.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable } from './browser-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

function tcUnavailable() {
  const r = spawnSync('unshare', ['-n', '--', '/usr/sbin/tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '1mbit', 'burst', '8kb', 'latency', '50ms'], { timeout: 10_000 });
  return r.status === 0 ? null : `tc (iproute2) with tbf does not run: ${String(r.stderr ?? r.error).trim()}`;
}

const why = !chromiumAvailable() ? 'no Chromium' : (netnsUnavailable() ?? tcUnavailable());
const nsTest = why ? test.skip : test.serial;
if (why) test('SVC limited-viewer test is skipped', (t) => t.log(why) || t.pass());

const fps = (pts) => (pts.length > 1 ? (pts.at(-1).frames - pts[0].frames) / ((pts.at(-1).t - pts[0].t) / 1000) : 0);

/** The run's outcome as named checks (each true when the criterion holds) and what to log. */
function judge(res) {
  const checks = [];
  const check = (ok, msg) => checks.push({ ok: Boolean(ok), msg });
  const logs = [];
  const phase = (p) => res.samples.filter((s) => s.phase === p);
  const open = phase('open'), limited = phase('limited'), lifted = phase('lifted');
  logs.push(`stream ${Math.round(res.streamKbps)} kbit/s, link ${res.limitKbps} kbit/s; sender ${JSON.stringify(res.sender)}`);
  logs.push(`summaries: ${res.feedback.map((f) => `${Math.round(f.t / 100) / 10}s T${f.temporal} ${Math.round(f.estimateBps / 1000)}k`).join(' ')}`);
  check(open.length > 1 && limited.length > 1 && lifted.length > 1, 'every phase was sampled');
  if (open.length < 2 || limited.length < 2 || lifted.length < 2) return { checks, logs };
  const openFps = fps(open);
  const tail = limited.filter((s) => s.t >= 5000);
  const limitedFps = fps(tail);
  logs.push(`fps open ${openFps.toFixed(1)}, limited (after 5 s) ${limitedFps.toFixed(1)}, lifted end ${fps(lifted.slice(-5)).toFixed(1)}`);
  check(openFps >= 20, `open: the full frame rate (${openFps.toFixed(1)})`);
  check(open.at(-1).freezes === open[0].freezes, 'open: no freeze');
  // Limited: the relay drops temporal layers (the summaries say so), the viewer decodes fewer
  // frames but keeps decoding every second.
  const lowered = res.feedback.filter((f) => f.t > res.limitedAt && f.t < res.liftedAt && f.temporal < 7 && f.temporal < f.layers - 1);
  check(lowered.length > 0, 'the relay lowered the temporal target while the link was limited');
  if (!lowered.length) return { checks, logs };
  const downAt = lowered[0].t - res.limitedAt;
  check(downAt <= 4000, `moved down ${downAt} ms after the limit`);
  check(limitedFps < openFps * 0.75, `limited: fewer frames per second (${limitedFps.toFixed(1)} vs ${openFps.toFixed(1)})`);
  check(limitedFps >= 4, `limited: still decoding (${limitedFps.toFixed(1)} frames/s)`);
  const stalls = tail.filter((s, i) => i > 1 && s.frames === tail[i - 2].frames);
  check(stalls.length === 0, `limited: no second without a decoded frame once moved down (stalls at ${JSON.stringify(stalls.map((s) => s.t))})`);
  const settle = limited.filter((s) => s.t <= downAt + 3000).at(-1);
  check(settle.freezes - open.at(-1).freezes <= 1, `limited: at most one freeze for the move down (${settle.freezes - open.at(-1).freezes})`);
  logs.push(`freezes over the whole limited phase: ${limited.at(-1).freezes - open.at(-1).freezes}`);
  // Lifted: back to the full rate within the recover phase.
  const end = lifted.slice(-5);
  check(fps(end) >= openFps * 0.8, `lifted: back to the full rate (${fps(end).toFixed(1)} vs ${openFps.toFixed(1)}) after ${lifted.at(-1).t} ms`);
  return { checks, logs };
}

async function limitedRun(codec) {
  const script = fileURLToPath(new URL('./peers/svc-limited-run.mjs', import.meta.url));
  const r = await runInNetns(process.execPath, [script, '0.5', '6000', '12000', '20000', codec], { limitSec: 85 });
  const errors = r.messages.filter((m) => m.event === 'error');
  const res = r.messages.find((m) => m.event === 'result');
  const judged = res ? judge(res) : { checks: [], logs: [] };
  judged.checks.unshift({ ok: errors.length === 0 && res !== undefined, msg: `the run reported without errors: ${JSON.stringify(errors).slice(0, 500)} stderr: ${r.stderr.slice(-1500)}` });
  return judged;
}

/**
 * CPU starvation of the two browsers on a loaded 2-core machine (an AV1 encoder and decoders
 * among them) sometimes costs a freeze or a slow climb: a first run that misses a criterion is
 * logged with what it missed and the scenario runs once more; every criterion is asserted
 * unchanged on that run.
 */
async function limited(t, codec) {
  t.timeout(190_000);
  let run = await limitedRun(codec);
  const missed = run.checks.filter((c) => !c.ok);
  if (missed.length > 0) {
    t.log(`first run missed: ${missed.map((c) => c.msg).join('; ')}; ${run.logs.join(' | ')}`);
    run = await limitedRun(codec);
  }
  for (const line of run.logs) t.log(line);
  for (const c of run.checks) t.true(c.ok, c.msg);
}

nsTest('VP8 L1T3: a viewer behind a link of half the stream rate gets fewer temporal layers, keeps decoding, and climbs back once it lifts', (t) => limited(t, 'VP8'));

nsTest('AV1 L1T3 (dependency descriptor): a viewer behind a link of half the stream rate gets fewer temporal layers, keeps decoding, and climbs back once it lifts', (t) => limited(t, 'AV1'));
