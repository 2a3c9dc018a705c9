// Consent over ICE-TCP (RFC 7675; issue 14), run by test/ice-tcp-browser.test.mjs inside a network
// namespace holding only lo:  node tcp-consent-run.mjs
// A node-datachannel publisher keeps a stream live on a one-worker relay with a short
// consentTimeoutMs; a Chromium viewer forced onto ICE-TCP (watchOverTcp) plays, and stays for
// longer than the timeout (its checks keep consent). Then it vanishes, twice, each time with a
// browser of its own: "silent" (every Chromium process SIGSTOPped: the connection stays open, no
// check arrives) and "reset" (SIGKILLed: the kernel closes the connection). Each time the relay
// must reap the viewer (silent: at consent; reset: its only path closed, after the 3 s grace)
// and the worker's TCP connection count return to its baseline.
// Prints JSON lines ({ event, ... }).
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { launchChromium } from '../browser-helpers.mjs';
import { chromiumPids, peer, watchOverTcp } from './local-peers.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(88_000);

const CONSENT_MS = 5000;
const PORT_MIN = 42600;

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', PORT_MIN, { consentTimeoutMs: CONSENT_MS });
const w0 = () => relay.stats().workers[0];
const viewerCount = async () => (await (await fetch(`${base}/api/streams/c`)).json()).viewers.length;
let pub;
const browsers = [];
const stoppedPids = [];

async function until(fn, ms) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await fn()) return Date.now() - t0;
    await sleep(100);
  }
  return -1;
}

async function vanish(how) {
  const baseline = { tcpConnections: w0().tcpConnections, viewers: await viewerCount() };
  const before = new Set(chromiumPids());
  const chromium = await launchChromium({ limitMs: 60_000 });
  browsers.push(chromium);
  const pids = chromiumPids().filter((p) => !before.has(p));
  const page = await (await chromium.browser.newContext()).newPage();
  await page.goto(`${base}/`);
  await watchOverTcp(page, '/whep/c');
  const joined = { ...(await page.evaluate(() => window.__look())), tcpConnections: w0().tcpConnections, viewers: await viewerCount() };
  // Alive for longer than the consent timeout: its own checks keep it.
  await sleep(CONSENT_MS + 2000);
  const alive = { ...(await page.evaluate(() => window.__look())), tcpConnections: w0().tcpConnections, viewers: await viewerCount() };
  const signal = how === 'silent' ? 'SIGSTOP' : 'SIGKILL';
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  if (how === 'silent') stoppedPids.push(...pids);
  const t0 = Date.now();
  const connectionClosedMs = await until(() => w0().tcpConnections === baseline.tcpConnections, CONSENT_MS + 6000);
  const reapedMs = await until(async () => (await viewerCount()) === baseline.viewers, CONSENT_MS + 6000 - (Date.now() - t0));
  const after = { tcpConnections: w0().tcpConnections, viewers: await viewerCount() };
  say({ event: 'vanish', how, pids: pids.length, baseline, joined, alive, connectionClosedMs: connectionClosedMs < 0 ? -1 : connectionClosedMs, reapedMs: reapedMs < 0 ? -1 : Date.now() - t0, after, consentTimeoutMs: CONSENT_MS });
}

try {
  pub = peer('./publisher.mjs', [`${base}/whip/c`, '5000', '10', 'both']);
  await pub.waitFor('open');
  pub.send('start');
  await sleep(500);
  await vanish('silent');
  await vanish('reset');
  say({ event: 'end', stats: { tcpConnections: w0().tcpConnections, tcpAccepted: w0().tcpAccepted, viewers: w0().viewers } });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  for (const pid of stoppedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  pub?.child.kill('SIGKILL');
  for (const b of browsers) await Promise.race([b.close(), sleep(3000)]);
  await relay.close();
}
process.exit(0);
