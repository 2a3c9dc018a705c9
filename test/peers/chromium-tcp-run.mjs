// A Chromium viewer whose UDP to the relay is dropped by nftables still plays over ICE-TCP
// (RFC 6544); with UDP open it picks UDP. Run by test/ice-tcp-browser.test.mjs inside a network
// namespace holding only lo:  node chromium-tcp-run.mjs block|open
// A Chromium fake-camera publisher connects first (over UDP); then, for "block", nftables drops
// every new UDP flow to the relay's ports, so the viewer's UDP checks go nowhere. Prints JSON lines.
import { spawnSync } from 'node:child_process';
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { launchChromium, openPublisher, openViewer, viewerStatus, waitForPlayback } from '../browser-helpers.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(80_000);

const mode = process.argv[2] ?? 'block';
const PORT_MIN = 42300;
// By absolute path: under npm/ava, node_modules/.bin comes first in PATH and holds @vercel/nft's "nft".
const NFT = '/usr/sbin/nft';

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', PORT_MIN, { workers: 2 });

function nft(...args) {
  const r = spawnSync(NFT, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`);
}

let chromium;
try {
  chromium = await launchChromium({ limitMs: 70_000 });
  const context = await chromium.browser.newContext();
  const pub = await openPublisher(context, base, 'tcp', { codec: 'vp8', source: 'camera', size: '640x360', stamp: '0' });
  if (mode === 'block') {
    // Established flows (the publisher's) keep going; every new UDP flow to the relay is dropped.
    nft('add', 'table', 'inet', 'halfsec_test');
    nft('add', 'chain', 'inet', 'halfsec_test', 'o', '{ type filter hook output priority 0; }');
    nft('add', 'rule', 'inet', 'halfsec_test', 'o', 'udp', 'dport', `${PORT_MIN}-${PORT_MIN + 19}`, 'ct', 'state', 'new', 'counter', 'drop');
  }
  const page = await openViewer(context, base, 'tcp');
  await waitForPlayback(page, { timeout: 25_000 }).catch(() => {});
  await sleep(1500);
  const first = await viewerStatus(page, 0);
  await sleep(2000);
  const later = await viewerStatus(page, 0);
  const stats = relay.stats();
  const w = stats.workers ?? [];
  const nftRules = mode === 'block' ? spawnSync(NFT, ['list', 'table', 'inet', 'halfsec_test'], { encoding: 'utf8' }).stdout : '';
  say({
    event: 'viewer',
    mode,
    first: first.framesDecoded,
    later: later.framesDecoded,
    state: later.state,
    error: later.error,
    transport: later.transport,
    path: later.path,
    remoteCandidate: later.remoteCandidate,
    width: later.width,
    publisherState: (await pub.evaluate(() => window.halfsecPublish?.state)),
    tcpConnections: w.reduce((a, x) => a + (x.tcpConnections ?? 0), 0),
    tcpAccepted: w.reduce((a, x) => a + (x.tcpAccepted ?? 0), 0),
    nft: nftRules,
  });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  await chromium?.close();
  await relay.close();
}
process.exit(0);
