// Issue 15, cluster: a limited viewer on an edge moves down a layer while a viewer of the origin
// stays up, with real browsers and a real limited link. In a network namespace of its own
// (test/peers/limited-edge-run.mjs): Redis, an origin and an edge relay (the edge pulls every
// simulcast layer of the stream), a Chromium publisher of a three-layer VP8 simulcast stream on
// the origin, a Chromium viewer of the origin and one of the edge whose own UDP port tc limits to
// 600 kbit/s (htb + tbf on lo; the pull and the origin viewer stay open); then the limit lifts.
// Assertions are on what each viewer decoded (frameHeight, freezeCount, framesDecoded). Needs
// root, tc and Debian's redis-server (scripts/test-deps.sh).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable } from './browser-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

function depsUnavailable() {
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'no redis-server (bash scripts/test-deps.sh)';
  const r = spawnSync('unshare', ['-n', '--', '/usr/sbin/tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '1mbit', 'burst', '8kb', 'latency', '50ms'], { timeout: 10_000 });
  return r.status === 0 ? null : `tc (iproute2) with tbf does not run: ${String(r.stderr ?? r.error).trim()}`;
}

const why = !chromiumAvailable() ? 'no Chromium' : (netnsUnavailable() ?? depsUnavailable());
const nsTest = why ? test.skip : test.serial;
if (why) test('limited edge browser test is skipped', (t) => t.log(why) || t.pass());

const OPEN_MS = 4000, LIMITED_MS = 12000, RECOVER_MS = 12000;  // plus ~20 s to start: < 60 s unless the lift is slow

// The one criterion a busy machine alone was seen to miss (1 run in 4 at load 14-20 on 2 cores):
// more than one freeze while moving down, before any probe can run (none before the first cut,
// nor within 2 s of one): the browsers starved of CPU while the 720p queue drains and the 360p
// keyframe is decoded. A first run that misses only that is logged and run once more, every
// criterion then asserted on the second run, unchanged; any other miss fails at once.
const MOVE_DOWN_FREEZES = 'edge viewer freezes while moving down';

/** The run's outcome as named checks (each true when the criterion holds). */
function judge(res) {
  const checks = [];
  const check = (ok, msg, tag = msg) => checks.push({ ok: Boolean(ok), msg, tag });
  check(res.pulls.length === 1 && res.pulls[0].upstream === 'origin', `the edge viewer is served over a pull from the origin: ${JSON.stringify(res.pulls)}`);
  // The edge received every layer over its pull, so it had something to move the viewer to.
  check(res.edgeLayers.length === 3 && res.edgeLayers.every((l) => l.kbps > 0), `the edge measures three layers: ${JSON.stringify(res.edgeLayers)}`);
  const phase = (p) => res.samples.filter((s) => s.phase === p);
  const open = phase('open'), limited = phase('limited'), lifted = phase('lifted');
  check(open.length > 5 && limited.length > 20, 'the phases were sampled');
  if (open.length === 0 || limited.length === 0) return checks;
  check(open.every((s) => s.edge.height === 720 && s.origin.height === 720), `open: both viewers on 720p: ${JSON.stringify(open.map((s) => [s.edge.height, s.origin.height]))}`);
  // The edge viewer: down within a few seconds, at most one freeze for the move, decoding after.
  const down = limited.find((s) => s.edge.height < 720);
  check(down, `the edge viewer moved down: ${JSON.stringify(limited.map((s) => s.edge.height))}`);
  if (down) {
    check(down.t <= 5000, `moved down ${down.t} ms after the limit`);
    const settle = limited.filter((s) => s.t <= down.t + 3000).at(-1);
    check(settle.edge.freezes - open.at(-1).edge.freezes <= 1, `${MOVE_DOWN_FREEZES}: ${settle.edge.freezes - open.at(-1).edge.freezes}`, MOVE_DOWN_FREEZES);
    const tail = limited.filter((s) => s.t >= down.t + 2000);
    check(tail.every((s) => s.edge.height < 720), `and stays down while limited: ${JSON.stringify(tail.map((s) => s.edge.height))}`);
    const fps = tail.length > 1 ? (tail.at(-1).edge.frames - tail[0].edge.frames) / ((tail.at(-1).t - tail[0].t) / 1000) : 0;
    check(fps >= 5, `the edge viewer still decodes on the lower layer: ${fps.toFixed(1)} frames/s`);
  }
  // The origin viewer: the top layer all along, decoding, whatever the edge viewer's link does.
  check(limited.every((s) => s.origin.height === 720), `the origin viewer stays on 720p: ${JSON.stringify([...new Set(limited.map((s) => s.origin.height))])}`);
  check(limited.at(-1).origin.frames - open.at(-1).origin.frames >= 5 * LIMITED_MS / 1000, 'and keeps decoding');
  // Lifted: the edge viewer climbs back (its probes run on the edge, from the edge's own layer rates).
  check(lifted.find((s) => s.edge.height === 720), `the edge viewer is back on 720p once the limit lifts: ${JSON.stringify(lifted.map((s) => s.edge.height))}`);
  check(/tbf 30:[\s\S]*Sent [1-9]\d* bytes/.test(res.qdisc), "the limit carried the edge viewer's packets");
  return checks;
}

async function limitedEdgeRun(t) {
  const script = fileURLToPath(new URL('./peers/limited-edge-run.mjs', import.meta.url));
  const r = await runInNetns(process.execPath, [script, '600', String(OPEN_MS), String(LIMITED_MS), String(RECOVER_MS)], { limitSec: 90 });
  const errors = r.messages.filter((m) => m.event === 'error');
  const res = r.messages.find((m) => m.event === 'result');
  if (res) {
    const steps = res.samples.filter((s, i, all) => i === 0 || s.edge.height !== all[i - 1].edge.height || s.edge.freezes !== all[i - 1].edge.freezes || s.origin.height !== all[i - 1].origin.height || s.origin.freezes !== all[i - 1].origin.freezes);
    t.log(`layers published: ${res.publisherLayers.map((l) => `${l.rid} ${l.width}x${l.height} ${l.kbps} kbit/s`).join(', ')}; at the edge: ${JSON.stringify(res.edgeLayers)}`);
    t.log(`timeline (edge | origin viewer): ${steps.map((s) => `${s.phase}+${s.t}ms ${s.edge.height}p f=${s.edge.freezes} | ${s.origin.height}p f=${s.origin.freezes}`).join('; ')}`);
    t.log(`edge summaries: ${res.feedback.filter((f) => f.node === 'edge').map((f) => `${Math.round(f.t / 100) / 10}s L${f.layer} ${Math.round(f.estimateBps / 1000)}k`).join(' ')}`);
  }
  return { r, errors, res, checks: res ? judge(res) : [] };
}

nsTest('a Chromium viewer of an edge behind a 600 kbit/s link moves down a layer (at most one freeze) while a Chromium viewer of the origin stays on the top layer', async (t) => {
  t.timeout(190_000);
  let run = await limitedEdgeRun(t);
  const missed = run.checks.filter((c) => !c.ok);
  if (run.errors.length === 0 && run.res && missed.length > 0 && missed.every((c) => c.tag === MOVE_DOWN_FREEZES)) {
    t.log(`first run missed only the machine-bound criterion (${missed.map((c) => c.msg).join('; ')}); running once more`);
    run = await limitedEdgeRun(t);
  }
  t.deepEqual(run.errors, [], `stderr: ${run.r.stderr.slice(-1500)}`);
  t.truthy(run.res, `the run reported; stderr: ${run.r.stderr.slice(-1500)}`);
  for (const c of run.checks) t.true(c.ok, c.msg);
});
