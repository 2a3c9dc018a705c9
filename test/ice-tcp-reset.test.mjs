// An ICE-TCP viewer whose only path closes is gone within the 3 s grace (worker_tcp.cc
// kTcpPathGraceMs), not at the consent timeout (30 s here): its session ends with reason
// "ice-tcp-closed", its WHEP resource is gone, /metrics counts it, and the other viewers (one
// more over ICE-TCP, one over UDP) keep receiving. Real peers: Chromium viewers whose UDP to the
// relay nftables drops (so they play over ICE-TCP), node-datachannel publisher and UDP viewer; the reset comes from nftables ("reject with
// tcp reset") while the browser keeps running, the close from SIGKILLing the browser. Runs
// test/peers/tcp-reset-run.mjs in a network namespace of its own. Needs root and nftables.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable } from './browser-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

const GRACE_MS = 3000;
const SLACK_MS = 1500; // the worker's 20 ms tick, the runner's 50 ms polling, a loaded machine

function nftUnavailable() {
  const r = spawnSync('unshare', ['-n', '--', '/usr/sbin/nft', 'list', 'ruleset'], { timeout: 10_000 });
  return r.status === 0 ? null : `nft does not run: ${String(r.stderr ?? r.error).trim()}`;
}
const why = !chromiumAvailable() ? 'no Chromium' : (netnsUnavailable() ?? nftUnavailable());
const nsTest = why ? test.skip : test.serial;
if (why) test('ICE-TCP reset tests are skipped', (t) => t.log(why) || t.pass());

nsTest('an ICE-TCP viewer whose connection is reset (nftables) or closed (browser killed) leaves within the grace, not the consent timeout; the others keep receiving', async (t) => {
  const r = await runInNetns(process.execPath, [fileURLToPath(new URL('./peers/tcp-reset-run.mjs', import.meta.url))], { limitSec: 58 });
  t.deepEqual(r.messages.filter((m) => m.event === 'error'), [], `stderr: ${r.stderr.slice(-1500)}`);
  const runs = r.messages.filter((m) => m.event === 'vanish');
  t.deepEqual(runs.map((v) => v.how), ['rst', 'kill'], `stderr: ${r.stderr.slice(-1500)}`);
  for (const v of runs) {
    t.log(`${v.how}: connection closed after ${v.closedMs} ms, session ended after ${v.endedMs} ms (${v.leave?.reason}); UDP viewer ${v.baseline.udpVideo} → ${v.after.udpVideo} packets`);
    t.is(v.joined.transport, 'tcp', `${v.how}: the viewer was on ICE-TCP`);
    t.true(v.alive.packets > v.joined.packets, `${v.how}: and receiving`);
    t.true(v.closedMs >= 0 && v.closedMs < 1000, `${v.how}: the relay closed the connection at once (${v.closedMs} ms)`);
    t.true(v.endedMs >= 0, `${v.how}: the session ended`);
    t.true(v.endedMs <= GRACE_MS + SLACK_MS, `${v.how}: within the grace (${v.endedMs} ms), not consent (30 s)`);
    t.is(v.leave?.reason, 'ice-tcp-closed', `${v.how}: viewer:leave for its session`);
    t.is(v.deleteStatus, 404, `${v.how}: its WHEP resource is gone`);
    t.is(v.after.viewers, v.baseline.viewers - 1, `${v.how}: the stream lists one viewer fewer`);
    t.is(v.after.tcpConnections, v.baseline.tcpConnections - 1, `${v.how}: one connection fewer`);
    t.is(v.after.pathClosed, v.baseline.pathClosed + 1, `${v.how}: counted`);
    t.is(v.after.metricPathClosed, v.after.pathClosed, `${v.how}: in /metrics`);
    // 100 packets/s from the publisher; the count grows by ~(endedMs + 1 s) / 10 ms.
    t.true(v.after.udpVideo - v.baseline.udpVideo >= 100, `${v.how}: the UDP viewer kept receiving (${v.baseline.udpVideo} → ${v.after.udpVideo})`);
  }
  const rst = runs.find((v) => v.how === 'rst');
  if (rst) {
    t.regex(rst.nft, /reject with tcp reset/);
    t.is(rst.other?.after.transport, 'tcp', 'the other TCP viewer stays on TCP');
    t.is(rst.other?.after.state, 'connected');
    t.true(rst.other?.after.packets - rst.other?.before.packets >= 100, `the other TCP viewer kept receiving (${rst.other?.before.packets} → ${rst.other?.after.packets})`);
  }
  const end = r.messages.find((m) => m.event === 'end');
  t.is(end?.stats.tcpConnections, 0, 'no ICE-TCP connection left');
  t.is(end?.stats.viewers, 1, 'only the UDP viewer left');
  t.regex(end?.udpBlock ?? '', /ct state new counter packets [1-9]\d* bytes \d+ drop/, 'nftables dropped the browsers\' UDP checks');
});
