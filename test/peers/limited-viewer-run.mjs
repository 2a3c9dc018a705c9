// A Chromium viewer of a three-layer simulcast stream behind a link that tc limits, inside a
// network namespace holding only lo. Run by test/bandwidth-browser.test.mjs:
//   node limited-viewer-run.mjs [limitKbps=600] [openMs=8000] [limitedMs=15000] [recoverMs=20000]
// Phases: open (the viewer should stay on the top layer), limited (tc: an htb root on lo with a
// class whose leaf is a tbf of `limitKbps`, and a u32 filter sending only packets to the viewer's
// own UDP port there; the publisher's path stays open), lifted (the qdisc removed). The viewer's
// decoded frame height and freeze count (getStats) are sampled every 250 ms. Prints JSON lines;
// the last is { event: 'result', ... }.
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { limitPort, liftLimit, qdiscStats } from '../tc-limit.mjs';
import { inboundVideo, launchChromium, openPublisher, openViewer, publisherStatus, viewerStatus, waitForPlayback } from '../browser-helpers.mjs';
import { say, sleep, watchdog } from './runner.mjs';

const [limitKbps = 600, openMs = 8000, limitedMs = 15000, recoverMs = 20000] = process.argv.slice(2).map(Number);
const total = openMs + limitedMs + recoverMs + 45_000;
watchdog(total);

const PORT_MIN = 42500;

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', PORT_MIN);
const feedback = [];
const t0 = Date.now();
relay.on('viewer:feedback', ({ feedback: f, layer }) => {
  feedback.push({ t: Date.now() - t0, layer, estimateBps: Math.round(f.estimateBps), ackedBps: Math.round(f.ackedBps), loss: f.loss, rembBps: f.rembBps, nacks: f.nacks, retransmits: f.retransmits, packets: f.packets });
});

let chromium;
try {
  chromium = await launchChromium({ limitMs: total - 2000 });
  const context = await chromium.browser.newContext();
  const pub = await openPublisher(context, base, 'lim', { codec: 'vp8', source: 'camera', size: '1280x720', stamp: '0', simulcast: '1', audio: '0' });
  // All three layers flowing (libwebrtc starts the top one once the relay's REMB allows it).
  const layersUp = Date.now();
  while (Date.now() - layersUp < 20_000) {
    const l = (await publisherStatus(pub)).layers.filter((x) => x.width > 0 && x.kbps > 0);
    if (l.length >= 3) break;
    await sleep(250);
  }
  say({ event: 'publisher', layers: (await publisherStatus(pub)).layers });
  const page = await openViewer(context, base, 'lim');
  await waitForPlayback(page, { timeout: 15_000 });
  const topAt = Date.now();
  while (Date.now() - topAt < 10_000 && (await viewerStatus(page, 0)).height !== 720) await sleep(250);
  // Let the start (its first layer, then the top one) settle before the open phase counts.
  await sleep(1000);

  const samples = [];
  let phase = 'open';
  let phaseStart = Date.now();
  async function sample(ms, stop) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const s = await viewerStatus(page, 0);
      // The receiver's own figures at the moment of asking (the page polls getStats only once a
      // second, which would put a freeze in the wrong phase).
      const r = (await inboundVideo(page)) ?? { height: s.height, freezes: s.freezeCount, frames: s.framesDecoded };
      const point = { phase, t: Date.now() - phaseStart, height: r.height, freezes: r.freezes, frames: r.frames, received: r.received, packets: r.packets, lost: r.lost, nacks: r.nacks, plis: r.plis, state: s.state, port: s.localPort };
      // About once a second, what the publisher encodes per layer (frames/s): tells a starved
      // encoder from a relay or viewer that let frames go.
      if (samples.length % 4 === 0) {
        point.keyframeRequests = relay.stats().workers.reduce((a, w) => a + w.keyframeRequests, 0);
        point.pubFps = Object.fromEntries((await publisherStatus(pub)).layers.map((l) => [l.rid, Math.round(l.fps)]));
      }
      samples.push(point);
      if (stop?.(point)) return point;
      await sleep(250);
    }
    return null;
  }
  await sample(openMs);
  const port = (await viewerStatus(page, 0)).localPort;
  if (!port) throw new Error('the viewer reports no local port');
  // (This kernel has htb, tbf and pfifo but no prio or netem.) Everything else stays open.
  limitPort(port, limitKbps);
  phase = 'limited';
  phaseStart = Date.now();
  const limitedAt = phaseStart - t0;
  const counters = () => relay.stats().workers.reduce((a, w) => ({ retransmits: a.retransmits + w.retransmits, nacks: a.nacks + w.nacksReceived }), { retransmits: 0, nacks: 0 });
  const atLimit = counters();
  say({ event: 'limited', port, limitKbps });
  await sample(limitedMs);
  const qdisc = qdiscStats();
  liftLimit({ check: true });
  const afterLimit = counters();
  phase = 'lifted';
  phaseStart = Date.now();
  await sample(recoverMs, (p) => p.height === 720 && p.t > 1000);
  await sample(2000);
  say({ event: 'result', samples, feedback, qdisc, limitedAt, repair: { atLimit, afterLimit, end: counters() }, publisherLayers: (await publisherStatus(pub)).layers });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err), feedback: feedback.slice(-20) });
} finally {
  liftLimit();
  await chromium?.close();
  await relay.close();
}
process.exit(0);
