// A Chromium viewer of a VP8 L1T3 stream (Chromium canvas publisher) behind a link that tc
// limits to a share of the stream's rate, inside a network namespace holding only lo. Run by
// test/svc-limited.test.mjs:
//   node svc-limited-run.mjs [share=0.5] [openMs=6000] [limitedMs=12000] [recoverMs=20000] [codec=VP8]
// (codec AV1: the viewer offers the dependency descriptor, which carries AV1's layers).
// Phases as in limited-viewer-run.mjs: open, limited (htb + tbf on lo, a u32 filter on the
// viewer's own UDP port), lifted. The viewer's frames decoded and freezes (getStats) are sampled
// every 500 ms, with the relay's summaries (svcTemporal, estimate). Prints JSON lines; the last
// is { event: 'result', ... }.
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { limitPort, liftLimit } from '../tc-limit.mjs';
import { launchChromium } from '../browser-helpers.mjs';
import { localPort, publishLayered, receiverStats, senderStats, videoBytesSent, viewOverWs } from '../svc-pages.mjs';
import { say, sleep, watchdog } from './runner.mjs';

const [share = 0.5, openMs = 6000, limitedMs = 12000, recoverMs = 20000] = process.argv.slice(2, 6).map(Number);
const codec = process.argv[6] ?? 'VP8';
const total = openMs + limitedMs + recoverMs + 40_000;
watchdog(total);

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', 42700);
const feedback = [];
const t0 = Date.now();
relay.on('viewer:feedback', ({ feedback: f }) => {
  feedback.push({ t: Date.now() - t0, estimateBps: Math.round(f.estimateBps), temporal: f.svcTemporal, layers: f.svcTemporalLayers, loss: f.loss });
});

let chromium;
try {
  chromium = await launchChromium({ limitMs: total - 2000 });
  const context = await chromium.browser.newContext();
  const pub = await context.newPage();
  await pub.goto(`${base}/`);
  const published = await pub.evaluate(publishLayered, { stream: 'svc', codec, scalabilityMode: 'L1T3' });
  if (published.status !== 201) throw new Error(`publish: ${published.status} ${published.answer}`);
  await sleep(4000);  // the publisher's estimate ramps
  const view = await context.newPage();
  await view.goto(`${base}/`);
  const r = await view.evaluate(viewOverWs, { stream: 'svc', dependencyDescriptor: codec === 'AV1' });
  if (!r.ok) throw new Error(`view: ${r.error}`);
  const start = Date.now();
  while (Date.now() - start < 10_000 && (await view.evaluate(receiverStats)).framesDecoded < 30) await sleep(250);
  const samples = [];
  let phase = 'open';
  let phaseStart = Date.now();
  async function sample(ms, stop) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const s = await view.evaluate(receiverStats);
      const point = { phase, t: Date.now() - phaseStart, frames: s.framesDecoded, freezes: s.freezeCount, height: s.height };
      samples.push(point);
      if (stop?.(point)) return point;
      await sleep(500);
    }
    return null;
  }
  const bytes0 = await pub.evaluate(videoBytesSent);
  const tb0 = Date.now();
  await sample(openMs);
  const streamKbps = ((await pub.evaluate(videoBytesSent)) - bytes0) * 8 / (Date.now() - tb0);
  const limitKbps = Math.max(100, Math.round(streamKbps * share));
  const port = await view.evaluate(localPort);
  if (!port) throw new Error('the viewer reports no local port');
  limitPort(port, limitKbps);
  phase = 'limited';
  phaseStart = Date.now();
  const limitedAt = phaseStart - t0;
  say({ event: 'limited', port, limitKbps, streamKbps });
  await sample(limitedMs);
  liftLimit({ check: true });
  phase = 'lifted';
  phaseStart = Date.now();
  const liftedAt = phaseStart - t0;
  await sample(recoverMs, (p) => {
    const prev = samples.filter((s) => s.phase === 'lifted' && s.t <= p.t - 2000).at(-1);
    return prev && p.t > 3000 && (p.frames - prev.frames) / ((p.t - prev.t) / 1000) >= 24;
  });
  await sample(2000);
  say({ event: 'result', samples, feedback, limitedAt, liftedAt, limitKbps, streamKbps, sender: await pub.evaluate(senderStats) });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err), feedback: feedback.slice(-20) });
} finally {
  liftLimit();
  await chromium?.close();
  await relay.close();
}
process.exit(0);
