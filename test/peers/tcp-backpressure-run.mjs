// End-to-end ICE-TCP backpressure (issue 14), run by test/ice-tcp-browser.test.mjs inside a
// network namespace holding only lo:  node tcp-backpressure-run.mjs
// A node-datachannel publisher (counter payloads, test/peers/publisher.mjs) and two UDP viewers
// (test/peers/viewers.mjs, bound to 127.0.0.2) on a one-worker relay; a headless Chromium viewer
// whose page drops the answer's UDP candidates, so it can only connect over ICE-TCP. While the
// stream runs, every Chromium process is SIGSTOPped for STOP_MS: its socket stops being read, the
// kernel buffers (made small with this namespace's tcp_rmem/tcp_wmem) and the relay's per-
// connection queue fill, and the relay drops (and counts) packets for that viewer only. Then
// SIGCONT: the queue drains, the relay asks the publisher for a keyframe, the viewer goes on.
// Prints JSON lines ({ event, ... }).
import { spawnSync } from 'node:child_process';
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { launchChromium } from '../browser-helpers.mjs';
import { chromiumPids, peer, watchOverTcp } from './local-peers.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(85_000);

const PACKETS = Number(process.env.BP_PACKETS ?? 2400);
const INTERVAL_MS = 4;
const STOP_AFTER_MS = 1500;
const STOP_MS = Number(process.env.BP_STOP_MS ?? 5000);
const PORT_MIN = 42500;

// Small TCP buffers in this namespace only (per-netns sysctls), so a stalled reader fills them
// in a fraction of a second instead of after megabytes of autotuned buffer.
for (const k of ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']) spawnSync('sysctl', ['-qw', `${k}=4096 16384 32768`]);

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', PORT_MIN);
const w0 = () => relay.stats().workers[0];
const kids = [];
let chromium;
let stopped = [];
try {
  const pub = peer('./publisher.mjs', [`${base}/whip/bp`, String(PACKETS), String(INTERVAL_MS), 'both'], { PEER_BIND: '127.0.0.2' });
  kids.push(pub.child);
  await pub.waitFor('open');
  const viewers = peer('./viewers.mjs', [`${base}/whep/bp`, '2'], { PEER_BIND: '127.0.0.2' });
  kids.push(viewers.child);
  const ready = await viewers.waitFor('ready');
  say({ event: 'udp-viewers', open: ready.open });

  chromium = await launchChromium({ limitMs: 80_000 });
  const page = await (await chromium.browser.newContext()).newPage();
  await page.goto(`${base}/`);
  await watchOverTcp(page, '/whep/bp');
  const look = () => page.evaluate(() => window.__look());
  say({ event: 'tcp-viewer', ...(await look()), tcpConnections: w0().tcpConnections });

  pub.send('start');
  await sleep(STOP_AFTER_MS);
  const beforeStop = await look();
  const s0 = w0();
  stopped = chromiumPids();
  for (const pid of stopped) process.kill(pid, 'SIGSTOP');
  say({ event: 'stopped', pids: stopped.length });
  await sleep(STOP_MS);
  const s1 = w0();
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  stopped = [];
  await sleep(1500);
  const afterResume = await look();
  const s2 = w0();
  await pub.waitFor('sent', 60_000);
  await sleep(1000);
  const end = await look();
  const s3 = w0();
  viewers.send('report');
  const report = await viewers.waitFor('report');
  say({
    event: 'result',
    packets: PACKETS,
    metricsDropped: (await (await fetch(`${base}/metrics`)).text()).split('\n').find((l) => l.startsWith('halfsec_tcp_dropped_packets_total')) ?? null,
    beforeStop,
    afterResume,
    end,
    dropped: { atStop: s0.tcpDroppedPackets, duringStop: s1.tcpDroppedPackets, afterResume: s2.tcpDroppedPackets, end: s3.tcpDroppedPackets },
    keyframeRequests: { atStop: s0.keyframeRequests, beforeResume: s1.keyframeRequests, afterResume: s2.keyframeRequests, end: s3.keyframeRequests },
    tcpConnections: s3.tcpConnections,
    udpViewers: report.viewers.map((v) => ({ video: new Set(v.video).size, audio: new Set(v.audio).size, seqGaps: v.seqGaps, bad: v.bad, state: v.state })),
  });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  for (const k of kids) k.kill('SIGKILL');
  await chromium?.close();
  await relay.close();
}
process.exit(0);
