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

nsTest('a Chromium viewer of an edge behind a 600 kbit/s link moves down a layer (at most one freeze) while a Chromium viewer of the origin stays on the top layer', async (t) => {
  t.timeout(100_000);
  const script = fileURLToPath(new URL('./peers/limited-edge-run.mjs', import.meta.url));
  const r = await runInNetns(process.execPath, [script, '600', String(OPEN_MS), String(LIMITED_MS), String(RECOVER_MS)], { limitSec: 90 });
  const res = r.messages.find((m) => m.event === 'result');
  t.deepEqual(r.messages.filter((m) => m.event === 'error'), [], `stderr: ${r.stderr.slice(-1500)}`);
  if (!res) return t.fail(`no result; stderr: ${r.stderr.slice(-1500)}`);
  const steps = res.samples.filter((s, i, all) => i === 0 || s.edge.height !== all[i - 1].edge.height || s.edge.freezes !== all[i - 1].edge.freezes || s.origin.height !== all[i - 1].origin.height || s.origin.freezes !== all[i - 1].origin.freezes);
  t.log(`layers published: ${res.publisherLayers.map((l) => `${l.rid} ${l.width}x${l.height} ${l.kbps} kbit/s`).join(', ')}; at the edge: ${JSON.stringify(res.edgeLayers)}`);
  t.log(`timeline (edge | origin viewer): ${steps.map((s) => `${s.phase}+${s.t}ms ${s.edge.height}p f=${s.edge.freezes} | ${s.origin.height}p f=${s.origin.freezes}`).join('; ')}`);
  t.log(`edge summaries: ${res.feedback.filter((f) => f.node === 'edge').map((f) => `${Math.round(f.t / 100) / 10}s L${f.layer} ${Math.round(f.estimateBps / 1000)}k`).join(' ')}`);
  t.deepEqual(res.pulls.map((p) => p.upstream), ['origin'], 'the edge viewer is served over a pull from the origin');
  // The edge received every layer over its pull, so it had something to move the viewer to.
  t.true(res.edgeLayers.length === 3 && res.edgeLayers.every((l) => l.kbps > 0), `the edge measures three layers: ${JSON.stringify(res.edgeLayers)}`);
  const phase = (p) => res.samples.filter((s) => s.phase === p);
  const open = phase('open'), limited = phase('limited'), lifted = phase('lifted');
  t.true(open.length > 5 && limited.length > 20, 'the phases were sampled');
  t.true(open.every((s) => s.edge.height === 720 && s.origin.height === 720), `open: both viewers on 720p: ${JSON.stringify(open.map((s) => [s.edge.height, s.origin.height]))}`);
  // The edge viewer: down within a few seconds, at most one freeze for the move, decoding after.
  const down = limited.find((s) => s.edge.height < 720);
  t.truthy(down, `the edge viewer moved down: ${JSON.stringify(limited.map((s) => s.edge.height))}`);
  if (down) {
    t.true(down.t <= 5000, `moved down ${down.t} ms after the limit`);
    const settle = limited.filter((s) => s.t <= down.t + 3000).at(-1);
    t.true(settle.edge.freezes - open.at(-1).edge.freezes <= 1, `edge viewer freezes while moving down: ${settle.edge.freezes - open.at(-1).edge.freezes}`);
    const tail = limited.filter((s) => s.t >= down.t + 2000);
    t.true(tail.every((s) => s.edge.height < 720), `and stays down while limited: ${JSON.stringify(tail.map((s) => s.edge.height))}`);
    const fps = tail.length > 1 ? (tail.at(-1).edge.frames - tail[0].edge.frames) / ((tail.at(-1).t - tail[0].t) / 1000) : 0;
    t.true(fps >= 5, `the edge viewer still decodes on the lower layer: ${fps.toFixed(1)} frames/s`);
  }
  // The origin viewer: the top layer all along, decoding, whatever the edge viewer's link does.
  t.true(limited.every((s) => s.origin.height === 720), `the origin viewer stays on 720p: ${JSON.stringify([...new Set(limited.map((s) => s.origin.height))])}`);
  t.true(limited.at(-1).origin.frames - open.at(-1).origin.frames >= 5 * LIMITED_MS / 1000, 'and keeps decoding');
  // Lifted: the edge viewer climbs back (its probes run on the edge, from the edge's own layer rates).
  t.truthy(lifted.find((s) => s.edge.height === 720), `the edge viewer is back on 720p once the limit lifts: ${JSON.stringify(lifted.map((s) => s.edge.height))}`);
  t.regex(res.qdisc, /tbf 30:[\s\S]*Sent [1-9]\d* bytes/, "the limit carried the edge viewer's packets");
});
