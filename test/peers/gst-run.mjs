// GStreamer webrtcbin (test/peers/gst-whip.py, bundle-policy max-bundle) publishes through the
// relay's WHIP endpoint and a headless Chromium /watch page decodes it. Run by
// test/gstreamer.test.mjs inside a veth network namespace (libnice skips loopback):
//   node gst-run.mjs h264|vp8
// Prints JSON lines ({ event, ... }); exits 0 when the scenario ran.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRelay } from '../../dist/index.js';
import { launchChromium, openViewer, viewerStatus, waitForPlayback } from '../browser-helpers.mjs';
import { killTimeoutGroup, startVethRelay } from '../netns.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(80_000);

const codec = process.argv[2] ?? 'vp8';

const { relay, base } = await startVethRelay(createRelay, 42100);

const gst = spawn('timeout', ['-s', 'KILL', '70', '/usr/bin/python3', fileURLToPath(new URL('./gst-whip.py', import.meta.url)), '--codec', codec, '--bundle', 'max-bundle', '--whip', `${base}/whip/gst`, '--seconds', '40'], { stdio: ['ignore', 'pipe', 'pipe'] });
let gstErr = '';
gst.stderr.on('data', (d) => {
  gstErr = (gstErr + d).slice(-3000);
});
const gstEvents = [];
createInterface({ input: gst.stdout }).on('line', (l) => {
  try {
    const m = JSON.parse(l);
    gstEvents.push(m);
    if (m.event !== 'offer' && m.event !== 'answer') say({ event: `gst-${m.event}`, ...(m.error ? { error: m.error } : {}) });
    if (m.event === 'answer') say({ event: 'gst-answer', status: m.status, answer: m.sdp });
    if (m.event === 'offer') say({ event: 'gst-offer', offer: m.sdp });
  } catch {
    // not JSON
  }
});

let chromium;
try {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !gstEvents.some((m) => m.event === 'connected' || m.event === 'error')) await sleep(100);
  if (!gstEvents.some((m) => m.event === 'connected')) throw new Error(`GStreamer did not connect: ${JSON.stringify(gstEvents.filter((m) => m.event !== 'offer'))} ${gstErr}`);
  chromium = await launchChromium({ limitMs: 60_000 });
  const context = await chromium.browser.newContext();
  const page = await openViewer(context, base, 'gst');
  await waitForPlayback(page, { timeout: 15_000 }).catch(() => {});
  const first = await viewerStatus(page, 0);
  await sleep(2000);
  const later = await viewerStatus(page, 0);
  const info = await (await fetch(`${base}/api/streams/gst`)).json();
  say({ event: 'viewer', codec: later.codec, first: first.framesDecoded, later: later.framesDecoded, width: later.width, height: later.height, state: later.state, error: later.error, publisherCodecs: info.codecs?.map((c) => c.name) });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  await chromium?.close();
  killTimeoutGroup(gst);
  await relay.close();
}
process.exit(0);
