// A limited viewer on an EDGE: inside a network namespace holding only lo, a Redis, an origin
// relay and an edge relay on it (the edge pulls every simulcast layer over a layered pull), a
// Chromium publisher of a three-layer VP8 simulcast stream on the origin, an open Chromium viewer
// of the origin and a Chromium viewer of the edge whose own UDP port tc limits (test/tc-limit.mjs;
// the pull and the origin viewer's path stay open). Run by test/cluster-limited-browser.test.mjs:
//   node limited-edge-run.mjs [limitKbps=600] [openMs=4000] [limitedMs=12000] [recoverMs=12000]
// Both viewers' decoded frame height, freezes and frames (getStats) are sampled every 250 ms.
// Prints JSON lines; the last is { event: 'result', ... }.
import { spawn } from 'node:child_process';
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { limitPort, liftLimit, qdiscStats } from '../tc-limit.mjs';
import { inboundVideo, launchChromium, openPublisher, openViewer, publisherStatus, viewerStatus, waitForPlayback } from '../browser-helpers.mjs';
import { say, sleep, watchdog } from './runner.mjs';

const [limitKbps = 600, openMs = 4000, limitedMs = 12000, recoverMs = 12000] = process.argv.slice(2).map(Number);
const total = openMs + limitedMs + recoverMs + 40_000;
watchdog(total);

// The namespace's own lo: any port is free here.
const REDIS_PORT = 6391;
const redis = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const cluster = { redisUrl: `redis://127.0.0.1:${REDIS_PORT}`, clusterSecret: 'limited-edge-cluster-secret-0123456789abcdef', clusterHeartbeatMs: 300, pullLingerMs: 1000 };

let origin, edge, chromium;
const feedback = [];
const t0 = Date.now();
try {
  // Two regions, so that each page's director (GET /api/director, the viewer's region being its
  // page's node's) keeps its viewer on its own node: the edge's viewer on the edge.
  origin = await startNetnsRelay(createRelay, '127.0.0.1', 42500, { ...cluster, nodeId: 'origin', region: 'o' });
  edge = await startNetnsRelay(createRelay, '127.0.0.1', 42600, { ...cluster, nodeId: 'edge', region: 'e' });
  for (const [node, r] of [['origin', origin.relay], ['edge', edge.relay]]) {
    r.on('viewer:feedback', ({ feedback: f, layer }) => feedback.push({ node, t: Date.now() - t0, layer, estimateBps: Math.round(f.estimateBps ?? 0) }));
  }
  chromium = await launchChromium({ limitMs: total - 2000 });
  const context = await chromium.browser.newContext();
  const pub = await openPublisher(context, origin.base, 'edgelim', { codec: 'vp8', source: 'camera', size: '1280x720', stamp: '0', simulcast: '1', audio: '0' });
  const layersUp = Date.now();
  while (Date.now() - layersUp < 20_000) {
    if ((await publisherStatus(pub)).layers.filter((x) => x.width > 0 && x.kbps > 0).length >= 3) break;
    await sleep(250);
  }
  say({ event: 'publisher', layers: (await publisherStatus(pub)).layers });
  const viewers = { origin: await openViewer(context, origin.base, 'edgelim'), edge: await openViewer(context, edge.base, 'edgelim') };
  for (const page of Object.values(viewers)) await waitForPlayback(page, { timeout: 20_000 });
  const pulls = edge.relay.clusterStats().pulls;
  if (pulls.length !== 1 || pulls[0].upstream !== 'origin') throw new Error(`the edge does not pull from the origin: ${JSON.stringify(pulls)}`);
  const topAt = Date.now();
  while (Date.now() - topAt < 12_000) {
    const h = await Promise.all(Object.values(viewers).map(async (p) => (await viewerStatus(p, 0)).height));
    if (h.every((x) => x === 720)) break;
    await sleep(250);
  }
  await sleep(1000);

  const samples = [];
  let phase = 'open';
  let phaseStart = Date.now();
  async function sample(ms, stop) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const point = { phase, t: Date.now() - phaseStart };
      for (const [name, page] of Object.entries(viewers)) {
        const r = await inboundVideo(page);
        point[name] = r ?? { height: 0, freezes: 0, frames: 0 };
      }
      samples.push(point);
      if (stop?.(point)) return;
      await sleep(250);
    }
  }
  await sample(openMs);
  const port = (await viewerStatus(viewers.edge, 0)).localPort;
  if (!port) throw new Error('the edge viewer reports no local port');
  limitPort(port, limitKbps);
  phase = 'limited';
  phaseStart = Date.now();
  say({ event: 'limited', port, limitKbps });
  await sample(limitedMs);
  const qdisc = qdiscStats();
  liftLimit({ check: true });
  phase = 'lifted';
  phaseStart = Date.now();
  await sample(recoverMs, (p) => p.edge.height === 720 && p.t > 1000);
  const layers = (await (await fetch(`${edge.base}/api/streams/edgelim`)).json()).bitrate?.layers ?? [];
  say({ event: 'result', samples, feedback, qdisc, pulls, edgeLayers: layers, publisherLayers: (await publisherStatus(pub)).layers });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err), feedback: feedback.slice(-20) });
} finally {
  liftLimit();
  await chromium?.close();
  await edge?.relay.close();
  await origin?.relay.close();
  redis.kill('SIGKILL');
}
process.exit(0);
