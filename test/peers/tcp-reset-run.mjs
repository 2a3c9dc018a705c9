// An ICE-TCP viewer whose connection ends (issue 14): run by test/ice-tcp-reset.test.mjs inside a
// network namespace holding only lo:  node tcp-reset-run.mjs
// A node-datachannel publisher, a node-datachannel viewer over UDP, and Chromium viewers forced
// onto ICE-TCP (nftables drops every new UDP flow to the relay once the first two are connected)
// on a one-worker relay whose consent timeout is the default 30 s. Twice, one TCP viewer's only path goes away:
//  - "rst": nftables rejects the relay's next segment to that viewer with a TCP reset (the relay's
//    socket gets ECONNRESET) and any new connection to the relay's TCP port, so the browser,
//    still running, cannot come back over TCP; a second TCP viewer in the same browser keeps its
//    own connection;
//  - "kill": the browser is SIGKILLed (the kernel closes its sockets: EOF or RST at the relay).
// Each time: when the session ended (viewer:leave and its reason, the stream's viewer list, the
// WHEP resource answering DELETE with 404, /metrics), and whether the other viewers kept receiving.
// Prints JSON lines ({ event, ... }).
import { spawnSync } from 'node:child_process';
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { launchChromium } from '../browser-helpers.mjs';
import { chromiumPids, peer, watchOverTcp } from './local-peers.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(52_000);

const PORT_MIN = 42700;
const TCP_PORT = 42730;
const LIMIT_MS = 10_000; // how long a run waits for the session to end (well below consent's 30 s)

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', PORT_MIN, { rtcTcpPort: TCP_PORT, metrics: true });
const w0 = () => relay.stats().workers[0];
const viewerCount = async () => (await (await fetch(`${base}/api/streams/c`)).json()).viewers.length;
const leaves = [];
relay.on('viewer:leave', (e) => leaves.push({ ...e, at: Date.now() }));
let pub;
let udp;
const browsers = [];

/** Client ports of the established connections to the relay's ICE-TCP port. */
function tcpClients() {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( sport = :${TCP_PORT} )`], { encoding: 'utf8' });
  return new Set(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).at(-1)?.split(':').at(-1)).filter(Boolean).map(Number));
}
function nft(...cmds) {
  for (const c of cmds) {
    const r = spawnSync('/usr/sbin/nft', c.split(' '), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nft ${c}: ${r.stderr}`);
  }
}
async function udpVideo() {
  udp.send('report');
  return (await udp.waitFor('report')).viewers[0].video.length;
}
async function metric(name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))?.split(' ').at(-1) ?? NaN);
}
async function tcpPage(context) {
  const before = tcpClients();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await watchOverTcp(page, '/whep/c', { strip: false });
  const joined = await page.evaluate(() => window.__look());
  const port = [...tcpClients()].find((p) => !before.has(p));
  const resource = new URL(await page.evaluate(() => window.__v.resource), base).href;
  return { page, joined, port, resource };
}

async function vanish(how) {
  const before = new Set(chromiumPids());
  const chromium = await launchChromium({ limitMs: 40_000 });
  browsers.push(chromium);
  const pids = chromiumPids().filter((p) => !before.has(p));
  const context = await chromium.browser.newContext();
  const victim = await tcpPage(context);
  const other = how === 'rst' ? await tcpPage(context) : null;
  await sleep(1500);
  const baseline = { viewers: await viewerCount(), tcpConnections: w0().tcpConnections, pathClosed: w0().tcpPathClosed, udpVideo: await udpVideo() };
  const alive = await victim.page.evaluate(() => window.__look());
  const otherBefore = other ? await other.page.evaluate(() => window.__look()) : null;
  const leavesBefore = leaves.length;
  const t0 = Date.now();
  if (how === 'rst') {
    nft('add table inet rst', 'add chain inet rst out { type filter hook output priority 0 ; }');
    nft(`add rule inet rst out tcp sport ${TCP_PORT} tcp dport ${victim.port} reject with tcp reset`);
    nft(`add rule inet rst out tcp dport ${TCP_PORT} tcp flags syn reject with tcp reset`);
  } else {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  let closedMs = -1;
  let endedMs = -1;
  while (Date.now() - t0 < LIMIT_MS && endedMs < 0) {
    if (closedMs < 0 && w0().tcpConnections < baseline.tcpConnections) closedMs = Date.now() - t0;
    if ((await viewerCount()) < baseline.viewers) endedMs = Date.now() - t0;
    else await sleep(50);
  }
  const leave = leaves.slice(leavesBefore).find((e) => victim.resource.includes(e.session));
  await sleep(1000); // the other viewers, a second after
  const deleteStatus = (await fetch(victim.resource, { method: 'DELETE' })).status;
  const result = {
    event: 'vanish',
    how,
    pids: pids.length,
    victimPort: victim.port,
    joined: victim.joined,
    alive,
    baseline,
    closedMs,
    endedMs,
    leave: leave ? { reason: leave.reason, ms: leave.at - t0 } : null,
    leaves: leaves.slice(leavesBefore).map((e) => e.reason),
    deleteStatus,
    after: { viewers: await viewerCount(), tcpConnections: w0().tcpConnections, pathClosed: w0().tcpPathClosed, udpVideo: await udpVideo(), metricPathClosed: await metric('halfsec_tcp_path_closed_total') },
  };
  if (other) {
    const otherAfter = await other.page.evaluate(() => window.__look());
    result.other = { before: otherBefore, after: otherAfter };
  }
  if (how === 'rst') {
    result.nft = spawnSync('/usr/sbin/nft', ['list', 'table', 'inet', 'rst'], { encoding: 'utf8' }).stdout;
    nft('delete table inet rst');
  }
  say(result);
  await Promise.race([chromium.close(), sleep(3000)]);
  browsers.splice(browsers.indexOf(chromium), 1);
  // The next run starts with only the UDP viewer left (the closed browser's pages end at once).
  for (let i = 0; i < 100 && (await viewerCount()) > 1; i++) await sleep(100);
}

try {
  pub = peer('./publisher.mjs', [`${base}/whip/c`, '5000', '10', 'both']);
  await pub.waitFor('open');
  pub.send('start');
  udp = peer('./viewers.mjs', [`${base}/whep/c`, '1'], { VIEWER_PORT_BASE: '35000' });
  const ready = await udp.waitFor('ready');
  if (ready.open !== 1) throw new Error('the UDP viewer did not connect');
  // From here on every new UDP flow to the relay is dropped: the publisher's and the UDP viewer's
  // go on, the browsers' checks go nowhere and they connect over ICE-TCP.
  nft('add table inet udpblock', 'add chain inet udpblock out { type filter hook output priority 0 ; }');
  nft(`add rule inet udpblock out udp dport ${PORT_MIN}-${PORT_MIN + 19} ct state new counter drop`);
  await vanish('rst');
  await vanish('kill');
  const udpBlock = spawnSync('/usr/sbin/nft', ['list', 'table', 'inet', 'udpblock'], { encoding: 'utf8' }).stdout;
  say({ event: 'end', udpBlock, stats: { tcpConnections: w0().tcpConnections, viewers: w0().viewers, tcpPathClosed: w0().tcpPathClosed } });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  pub?.child.kill('SIGKILL');
  udp?.child.kill('SIGKILL');
  for (const b of browsers) await Promise.race([b.close(), sleep(3000)]);
  await relay.close();
}
process.exit(0);
