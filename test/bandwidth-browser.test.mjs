// The per-viewer bandwidth estimate end to end with real browsers: a headless Chromium viewer of
// a three-layer VP8 simulcast stream (Chromium publisher, 1280x720 fake camera) negotiates
// transport-cc; the relay stamps transport-wide sequence numbers, reads the viewer's feedback and
// moves it between layers on its own estimate (REMB: Chromium sends none with transport-cc).
// Its path is first open, then limited by tc to 600 kbit/s (htb + tbf on lo, a u32 filter on
// the viewer's own UDP port: the publisher's path stays open), then open again. Assertions are
// on what the viewer decoded (frameHeight, freezeCount, framesDecoded from its getStats). Runs
// test/peers/limited-viewer-run.mjs in a network namespace of its own. Needs root and tc.
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
if (why) test('bandwidth browser test is skipped', (t) => t.log(why) || t.pass());

const OPEN_MS = 6000, LIMITED_MS = 12000, RECOVER_MS = 12000;  // plus ~15 s to start: < 60 s in all

// The criteria a run can miss by chance: a freeze on the open link, where the relay has no
// estimate yet and neither probes nor switches; and more than two freezes while moving down.
// The per-second log below shows the publisher steady at 20 frames/s through the move, so those
// freezes are not a busy machine's: the old layer fills the 600 kbit/s queue for the ~1 s the
// estimator takes to see the limit (13-33 packets lost), then the switch itself leaves a gap.
// Since the relay leaves the old layer at the end of its frame once the estimate is below it
// (native/fanout/peer.cc), the move cost 0-1 freezes in 10 of 13 runs, 2 in two, 4 in one
// (before: 0-1 in 8 of 14, 2 in four, 3 in two).
const OPEN_FREEZE = 'with the link open the viewer does not freeze';
const MOVE_DOWN_FREEZES = 'freezes while moving down';

/** The run's outcome as named checks (each true when the criterion holds), and its timeline. */
function judge(res) {
  const checks = [];
  const check = (ok, msg, tag = msg) => checks.push({ ok: Boolean(ok), msg, tag });
  const phase = (p) => res.samples.filter((s) => s.phase === p);
  const open = phase('open'), limited = phase('limited'), lifted = phase('lifted');
  // Open: the top layer all along, no freeze.
  check(open.length > 10, 'the open phase was sampled');
  if (open.length === 0) return checks;
  check(open.every((s) => s.height === 720), `with the link open the viewer stays on the top layer (720p): ${JSON.stringify([...new Set(open.map((s) => s.height))])}`);
  check(open.at(-1).freezes === open[0].freezes, OPEN_FREEZE);
  // Limited: down within a few seconds, at most two freezes for the move, still decoding after.
  const down = limited.find((s) => s.height < 720);
  check(down, `moved down while limited: ${JSON.stringify(limited.map((s) => s.height))}`);
  if (!down) return checks;
  check(down.t <= 4000, `moved down ${down.t} ms after the limit`);
  const settle = limited.filter((s) => s.t <= down.t + 3000).at(-1);
  check(settle.freezes - open.at(-1).freezes <= 2, `${MOVE_DOWN_FREEZES}: ${settle.freezes - open.at(-1).freezes}`, MOVE_DOWN_FREEZES);
  const tail = limited.filter((s) => s.t >= down.t + 2000);
  const fps = tail.length > 1 ? (tail.at(-1).frames - tail[0].frames) / ((tail.at(-1).t - tail[0].t) / 1000) : 0;
  // The publisher sends ~20 frames/s here; a loaded 2-core machine decodes fewer, never none.
  check(fps >= 5, `still decoding on the lower layer: ${fps.toFixed(1)} frames/s`);
  check(tail.every((s) => s.height < 720), `and stays down while the link is limited: ${JSON.stringify(tail.map((s) => s.height))}`);
  // Lifted: back on the top layer within about 10 s.
  const up = lifted.find((s) => s.height === 720);
  check(up, `back up once the limit is lifted: ${JSON.stringify(lifted.map((s) => s.height))}`);
  if (up) check(up.t <= 10_000, `back on 720p ${up.t} ms after the limit was lifted`);
  check(/tbf 30:[\s\S]*Sent [1-9]\d* bytes/.test(res.qdisc), 'the limit carried the viewer\'s packets');
  return checks;
}

async function limitedRun(t) {
  const script = fileURLToPath(new URL('./peers/limited-viewer-run.mjs', import.meta.url));
  const r = await runInNetns(process.execPath, [script, '600', String(OPEN_MS), String(LIMITED_MS), String(RECOVER_MS)], { limitSec: 90 });
  const errors = r.messages.filter((m) => m.event === 'error');
  const res = r.messages.find((m) => m.event === 'result');
  if (res) {
    const steps = res.samples.filter((s, i, all) => i === 0 || s.height !== all[i - 1].height || s.freezes !== all[i - 1].freezes);
    t.log(`layers published: ${res.publisherLayers.map((l) => `${l.rid} ${l.width}x${l.height} ${l.kbps} kbit/s`).join(', ')}`);
    t.log(`timeline: ${steps.map((s) => `${s.phase}+${s.t}ms ${s.height}p freezes=${s.freezes}`).join('; ')}`);
    t.log(`limit applied at ${(res.limitedAt / 1000).toFixed(1)} s; summaries: ${res.feedback.map((f) => `${Math.round(f.t / 100) / 10}s L${f.layer} ${Math.round(f.estimateBps / 1000)}k`).join(' ')}`);
  }
  const checks = res ? judge(res) : [];
  if (checks.some((c) => !c.ok)) {
    // What the publisher encoded and the viewer received and decoded, second by second.
    const per = res.samples.filter((s) => s.pubFps).map((s) => `${s.phase.slice(0, 3)}+${Math.round(s.t / 1000)}s ${s.height}p dec=${s.frames} rx=${s.received} pkts=${s.packets} lost=${s.lost} nack=${s.nacks} pli=${s.plis} kfreq=${s.keyframeRequests} pub=${JSON.stringify(s.pubFps)}`);
    t.log(`missed: ${checks.filter((c) => !c.ok).map((c) => c.msg).join('; ')}; per second: ${per.join(' | ')}`);
    t.log(`relay summaries (s, layer, estimate, nacks, retransmits, packets): ${res.feedback.filter((f) => f.t >= res.limitedAt - 2000).map((f) => `${(f.t / 1000).toFixed(1)} L${f.layer} ${Math.round(f.estimateBps / 1000)}k n${f.nacks} r${f.retransmits} p${f.packets}`).join(' ')}`);
  }
  return { r, errors, res, checks };
}

// A first run that misses only those criteria is logged and run once more, every
// criterion then asserted on that second run, unchanged; any other miss (moved down late, did
// not stay down, stopped decoding, not back up in time: what probes and switches decide) fails
// at once. Before the probes aimed at the next layer and stopped early, any miss led to a
// second run.
nsTest('a Chromium viewer behind a 600 kbit/s link moves down within seconds and back up once it lifts; with the link open it stays on the top layer', async (t) => {
  t.timeout(190_000);
  let run = await limitedRun(t);
  const missed = run.checks.filter((c) => !c.ok);
  if (run.errors.length === 0 && run.res && missed.length > 0 && missed.every((c) => c.tag === OPEN_FREEZE || c.tag === MOVE_DOWN_FREEZES)) {
    t.log(`first run missed only the criteria a run can miss by chance (${missed.map((c) => c.msg).join('; ')}); running once more`);
    run = await limitedRun(t);
  }
  t.deepEqual(run.errors, [], `stderr: ${run.r.stderr.slice(-1500)}`);
  t.truthy(run.res, `the run reported; stderr: ${run.r.stderr.slice(-1500)}`);
  for (const c of run.checks) t.true(c.ok, c.msg);
  if (run.res) {
    const limited = run.res.samples.filter((s) => s.phase === 'limited');
    const open = run.res.samples.filter((s) => s.phase === 'open');
    if (limited.length && open.length) t.log(`freezes over the whole limited phase: ${limited.at(-1).freezes - open.at(-1).freezes}`);
  }
});
