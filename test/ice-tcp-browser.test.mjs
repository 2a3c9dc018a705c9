// ICE-TCP with a real browser (RFC 6544): a headless Chromium viewer whose UDP to the relay is
// dropped by nftables still plays, over the relay's passive TCP candidate; with UDP open the same
// page picks UDP (the TCP candidates rank below). Each case runs test/peers/chromium-tcp-run.mjs
// in a network namespace of its own (only lo). The same for Firefox ESR (its ICE-TCP active
// candidates, pref media.peerconnection.ice.tcp, on by default) with test/peers/firefox-tcp-run.mjs
// in a veth namespace (Firefox gathers nothing on lo alone). Needs root and nftables. (node-datachannel cannot
// be the peer here: libjuice does ICE over UDP only.)
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable } from './browser-helpers.mjs';
import { firefoxAvailable } from './firefox-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

function nftUnavailable() {
  const r = spawnSync('unshare', ['-n', '--', '/usr/sbin/nft', 'list', 'ruleset'], { timeout: 10_000 });
  return r.status === 0 ? null : `nft does not run: ${String(r.stderr ?? r.error).trim()}`;
}

const why = !chromiumAvailable() ? 'no Chromium' : (netnsUnavailable() ?? nftUnavailable());
const nsTest = why ? test.skip : test.serial;
if (why) test('ICE-TCP browser tests are skipped', (t) => t.log(why) || t.pass());

async function run(mode, script = 'chromium-tcp-run.mjs', veth = false) {
  const r = await runInNetns(process.execPath, [fileURLToPath(new URL(`./peers/${script}`, import.meta.url)), mode], { limitSec: 95, veth });
  return { ...r, errors: r.messages.filter((m) => m.event === 'error'), viewer: r.messages.find((m) => m.event === 'viewer') };
}

nsTest('UDP to the relay dropped by nftables: a Chromium viewer plays over ICE-TCP', async (t) => {
  const r = await run('block');
  t.deepEqual(r.errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const v = r.viewer;
  t.truthy(v, 'the viewer reported');
  if (!v) return;
  t.log(`selected pair: ${v.transport} to ${v.remoteCandidate}; frames ${v.first} → ${v.later}`);
  t.is(v.mode, 'block', JSON.stringify(v));
  t.regex(v.nft, /drop/, 'the nftables rule is in place');
  t.regex(v.nft, /packets [1-9]\d*/, 'and dropped the viewer\'s UDP checks');
  t.is(v.transport, 'tcp', 'getStats: the selected candidate pair is over TCP');
  t.is(v.path, 'TCP', 'the watch page shows TCP');
  t.regex(v.remoteCandidate ?? '', /tcptype passive/);
  t.true(v.first > 0 && v.later > v.first, `frames decoded ${v.first} → ${v.later} (${v.state}: ${v.error})`);
  t.is(v.width, 640);
  t.is(v.publisherState, 'live');
  t.true(v.tcpAccepted >= 1);
});

nsTest('UDP open: the same page picks UDP', async (t) => {
  const r = await run('open');
  t.deepEqual(r.errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const v = r.viewer;
  t.truthy(v, 'the viewer reported');
  if (!v) return;
  t.log(`selected pair: ${v.transport} to ${v.remoteCandidate}; frames ${v.first} → ${v.later}`);
  t.is(v.transport, 'udp', 'getStats: the selected candidate pair is over UDP');
  t.is(v.path, 'UDP', 'the watch page shows UDP');
  t.true(v.first > 0 && v.later > v.first, `frames decoded ${v.first} → ${v.later} (${v.state}: ${v.error})`);
});

nsTest('backpressure: a stalled ICE-TCP viewer (Chromium SIGSTOPped) has packets dropped and counted while UDP viewers of the same worker get every packet; resumed, it recovers with a keyframe', async (t) => {
  const r = await runInNetns(process.execPath, [fileURLToPath(new URL('./peers/tcp-backpressure-run.mjs', import.meta.url))], { limitSec: 95 });
  const errors = r.messages.filter((m) => m.event === 'error');
  t.deepEqual(errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const v = r.messages.find((m) => m.event === 'result');
  t.truthy(v, `the run reported; stderr: ${r.stderr.slice(-1500)}`);
  if (!v) return;
  t.log(`dropped ${JSON.stringify(v.dropped)}; keyframe requests ${JSON.stringify(v.keyframeRequests)}; TCP viewer packets ${v.beforeStop.packets} → ${v.afterResume.packets} → ${v.end.packets}`);
  t.true(r.messages.find((m) => m.event === 'stopped')?.pids >= 1, 'Chromium was stopped');
  t.is(v.beforeStop.transport, 'tcp', 'the stalled viewer is on ICE-TCP');
  t.true(v.beforeStop.packets > 0, 'and received before the stall');
  t.is(v.dropped.atStop, 0, 'nothing dropped while it read');
  t.true(v.dropped.duringStop > 0, 'the relay dropped packets for the stalled viewer');
  t.is(v.dropped.end, v.dropped.afterResume, 'and none once it drained');
  t.regex(v.metricsDropped ?? '', new RegExp(`^halfsec_tcp_dropped_packets_total(\\{[^}]*\\})? ${v.dropped.end}$`), '/metrics counts them');
  t.is(v.keyframeRequests.beforeResume, v.keyframeRequests.atStop, 'no keyframe asked for while stalled');
  t.true(v.keyframeRequests.afterResume > v.keyframeRequests.beforeResume, 'a keyframe request went upstream once it drained');
  t.true(v.afterResume.packets > v.beforeStop.packets && v.end.packets > v.afterResume.packets, 'the viewer receives again');
  t.is(v.end.state, 'connected');
  t.is(v.tcpConnections, 1, 'its connection survived');
  for (const [i, u] of v.udpViewers.entries()) {
    // Every packet (seen: all 2400 of each, no gap); the margin is ice-tcp.test.mjs's, for a loaded CI machine.
    t.true(u.video >= v.packets - 5, `UDP viewer ${i}: ${u.video}/${v.packets} video packets`);
    t.true(u.audio >= v.packets - 5, `UDP viewer ${i}: ${u.audio}/${v.packets} audio packets`);
    t.true(u.seqGaps <= 5, `UDP viewer ${i}: ${u.seqGaps} gaps`);
    t.is(u.bad, 0);
  }
});

nsTest('consent over ICE-TCP: a TCP viewer that goes silent (SIGSTOP) is reaped at consent like a UDP one, one whose connection is reset (SIGKILL) within the grace; the TCP connection count returns to its baseline', async (t) => {
  const r = await runInNetns(process.execPath, [fileURLToPath(new URL('./peers/tcp-consent-run.mjs', import.meta.url))], { limitSec: 95 });
  const errors = r.messages.filter((m) => m.event === 'error');
  t.deepEqual(errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const runs = r.messages.filter((m) => m.event === 'vanish');
  t.deepEqual(runs.map((v) => v.how), ['silent', 'reset'], `stderr: ${r.stderr.slice(-1500)}`);
  for (const v of runs) {
    t.log(`${v.how}: connection closed after ${v.connectionClosedMs} ms, viewer reaped after ${v.reapedMs} ms (consent ${v.consentTimeoutMs} ms)`);
    t.true(v.pids >= 1, `${v.how}: Chromium processes found`);
    t.is(v.joined.transport, 'tcp', `${v.how}: the viewer is on ICE-TCP`);
    t.is(v.joined.tcpConnections, v.baseline.tcpConnections + 1, `${v.how}: one connection while it plays`);
    t.is(v.alive.viewers, v.baseline.viewers + 1, `${v.how}: not reaped while alive, past the consent timeout`);
    t.true(v.alive.packets > v.joined.packets, `${v.how}: and receiving`);
    t.true(v.reapedMs >= 0, `${v.how}: reaped`);
    t.true(v.reapedMs <= v.consentTimeoutMs + 3000, `${v.how}: within the consent timeout (${v.reapedMs} ms)`);
    t.true(v.connectionClosedMs >= 0, `${v.how}: its connection closed`);
    t.deepEqual(v.after, v.baseline, `${v.how}: back to the baseline`);
  }
  const reset = runs.find((v) => v.how === 'reset');
  if (reset) {
    t.true(reset.connectionClosedMs < 2000, 'a reset connection is closed at once');
    // Its only path is gone: the session ends after the 3 s grace, not at consent (test/ice-tcp-reset.test.mjs).
    t.true(reset.reapedMs <= 3000 + 1500, `and its session within the grace (${reset.reapedMs} ms)`);
  }
  const end = r.messages.find((m) => m.event === 'end');
  t.is(end?.stats.tcpConnections, 0);
  t.is(end?.stats.viewers, 0);
});

const ffWhy = why ?? (firefoxAvailable() ? null : 'no /usr/bin/firefox-esr');
const ffTest = ffWhy ? test.skip : test.serial;

ffTest('UDP to the relay dropped by nftables: a Firefox viewer plays over ICE-TCP (tcptype active to passive), and the watch page shows TCP', async (t) => {
  const r = await run('block', 'firefox-tcp-run.mjs', true);
  t.deepEqual(r.errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const v = r.viewer;
  t.truthy(v, 'the viewer reported');
  if (!v) return;
  t.log(`Firefox: ${v.local} → ${v.remote}; frames ${v.first} → ${v.later}`);
  t.regex(v.nft, /packets [1-9]\d*/, 'the nftables rule dropped the viewer\'s UDP checks');
  t.is(v.transport, 'tcp', 'getStats: the selected candidate pair is over TCP');
  t.regex(v.local ?? '', /tcptype active/);
  t.regex(v.remote ?? '', /tcptype passive/);
  t.true(v.first > 0 && v.later > v.first, `frames decoded ${v.first} → ${v.later} (${v.state})`);
  t.is(v.width, 320);
  t.true(v.tcpAccepted >= 1);
  // The watch page finds Firefox's selected pair without transport stats (web/watch.js selectedPair).
  t.true(v.page?.frames > 0, `the watch page plays (${JSON.stringify(v.page)})`);
  t.is(v.page?.transport, 'tcp');
  t.is(v.page?.text, 'TCP', 'and shows TCP');
});

ffTest('UDP open: the same Firefox page picks UDP', async (t) => {
  const r = await run('open', 'firefox-tcp-run.mjs', true);
  t.deepEqual(r.errors, [], `stderr: ${r.stderr.slice(-1500)}`);
  const v = r.viewer;
  t.truthy(v, 'the viewer reported');
  if (!v) return;
  t.is(v.transport, 'udp', 'getStats: the selected candidate pair is over UDP');
  t.true(v.offerTcp >= 1, 'while Firefox offered TCP candidates too');
  t.is(v.page?.text, 'UDP', `the watch page shows UDP (${JSON.stringify(v.page)})`);
  t.true(v.first > 0 && v.later > v.first, `frames decoded ${v.first} → ${v.later}`);
});
