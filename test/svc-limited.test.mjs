// The SVC policy on the relay's own estimate, with real browsers: a Chromium viewer of a VP8
// L1T3 stream (Chromium canvas publisher) behind a link tc limits to half the stream's
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

nsTest('VP8 L1T3: a viewer behind a link of half the stream rate gets fewer temporal layers, keeps decoding, and climbs back once it lifts', async (t) => {
  t.timeout(95_000);
  const script = fileURLToPath(new URL('./peers/svc-limited-run.mjs', import.meta.url));
  const r = await runInNetns(process.execPath, [script, '0.5', '6000', '12000', '20000'], { limitSec: 85 });
  const errors = r.messages.filter((m) => m.event === 'error');
  t.deepEqual(errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const res = r.messages.find((m) => m.event === 'result');
  t.truthy(res, `the run reported; stderr: ${r.stderr.slice(-1500)}`);
  if (!res) return;
  const phase = (p) => res.samples.filter((s) => s.phase === p);
  const open = phase('open'), limited = phase('limited'), lifted = phase('lifted');
  t.log(`stream ${Math.round(res.streamKbps)} kbit/s, link ${res.limitKbps} kbit/s; sender ${JSON.stringify(res.sender)}`);
  t.log(`summaries: ${res.feedback.map((f) => `${Math.round(f.t / 100) / 10}s T${f.temporal} ${Math.round(f.estimateBps / 1000)}k`).join(' ')}`);
  const openFps = fps(open);
  const tail = limited.filter((s) => s.t >= 5000);
  const limitedFps = fps(tail);
  t.log(`fps open ${openFps.toFixed(1)}, limited (after 5 s) ${limitedFps.toFixed(1)}, lifted end ${fps(lifted.slice(-5)).toFixed(1)}`);
  t.true(openFps >= 20, `open: the full frame rate (${openFps.toFixed(1)})`);
  t.is(open.at(-1).freezes, open[0].freezes, 'open: no freeze');
  // Limited: the relay drops temporal layers (the summaries say so), the viewer decodes fewer
  // frames but keeps decoding every second.
  const lowered = res.feedback.filter((f) => f.t > res.limitedAt && f.t < res.liftedAt && f.temporal < 7 && f.temporal < f.layers - 1);
  t.true(lowered.length > 0, 'the relay lowered the temporal target while the link was limited');
  if (!lowered.length) return;
  const downAt = lowered[0].t - res.limitedAt;
  t.true(downAt <= 4000, `moved down ${downAt} ms after the limit`);
  t.true(limitedFps < openFps * 0.75, `limited: fewer frames per second (${limitedFps.toFixed(1)} vs ${openFps.toFixed(1)})`);
  t.true(limitedFps >= 4, `limited: still decoding (${limitedFps.toFixed(1)} frames/s)`);
  const stalls = tail.filter((s, i) => i > 1 && s.frames === tail[i - 2].frames);
  t.deepEqual(stalls.map((s) => s.t), [], 'limited: no second without a decoded frame once moved down');
  const settle = limited.filter((s) => s.t <= downAt + 3000).at(-1);
  t.true(settle.freezes - open.at(-1).freezes <= 1, `limited: at most one freeze for the move down (${settle.freezes - open.at(-1).freezes})`);
  t.log(`freezes over the whole limited phase: ${limited.at(-1).freezes - open.at(-1).freezes}`);
  // Lifted: back to the full rate within the recover phase.
  const end = lifted.slice(-5);
  t.true(fps(end) >= openFps * 0.8, `lifted: back to the full rate (${fps(end).toFixed(1)} vs ${openFps.toFixed(1)}) after ${lifted.at(-1).t} ms`);
});
