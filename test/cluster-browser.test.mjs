// An edge that dies: the watch page (headless Chromium) asks the director again and goes on
// playing from another edge, over WHEP and over the WebSocket signaling (?signal=ws, web/ws-view.js).
import test from 'ava';
import { until } from './helpers.mjs';
import { startNode, startNodeProcess, startRedis } from './cluster-helpers.mjs';
import { chromiumAvailable, launchChromium, openPublisher, openViewer, viewerStatus, waitForPlayback } from './browser-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-browser-test-01234567';

test.serial('the edge a watch page plays from dies: the page goes back through the director to another edge and plays on', (t) => edgeDies(t, 'whep'));

test.serial('the same over the WebSocket: the socket to the dead edge closes, the page asks the director and views over a socket to the live edge', (t) => edgeDies(t, 'ws'));

const signalingConnections = async (url) => Number(/^halfsec_signaling_connections (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

async function edgeDies(t, signal) {
  if (!chromiumAvailable()) return t.fail('Chromium is missing: bash scripts/test-deps.sh');
  const chromium = await launchChromium({ limitMs: 80_000 });
  t.teardown(() => chromium.close());
  const redis = await startRedis(t);
  const shared = { clusterSecret: CLUSTER, regionDistances: 'x-y=50' };
  // The origin in region x; the page's node and two edge processes in region y. Idle nodes tie
  // on load, so the director names edge-b first (ids break ties).
  const origin = await startNode(t, redis.url, 'origin-o', { ...shared, region: 'x' });
  const page = await startNode(t, redis.url, 'page-d', { ...shared, region: 'y' });
  const extra = ['--region', 'y', '--region-distances', 'x-y=50'];
  const b = await startNodeProcess(t, redis.url, 'edge-b', { secret: CLUSTER, extra });
  const c = await startNodeProcess(t, redis.url, 'edge-c', { secret: CLUSTER, extra });
  t.true(await until(() => page.relay.clusterStats().nodesSeen === 4, 5000));

  const context = await chromium.browser.newContext();
  t.teardown(() => context.close());
  await openPublisher(context, origin.url, 'cam', { codec: 'vp8', source: 'camera', size: '320x240', stamp: '0' });
  let viewer;
  if (signal === 'ws') {
    viewer = await context.newPage();
    await viewer.goto(`${page.url}/watch/cam?signal=ws`);
  } else {
    viewer = await openViewer(context, page.url, 'cam');
  }
  await t.notThrowsAsync(waitForPlayback(viewer, { timeout: 15000 }));
  const first = await viewerStatus(viewer);
  t.is(first.node, 'edge-b', 'the director sent the page to edge-b');
  if (signal === 'ws') {
    t.is(first.signaling, 'websocket');
    t.is(await signalingConnections(b.url), 1, "the page's socket is on edge-b");
    t.is(await signalingConnections(c.url), 0);
  }

  const killedAt = Date.now();
  await b.kill();
  await t.notThrowsAsync(
    viewer.waitForFunction((n) => window.halfsecWatch.connects > n && window.halfsecWatch.state === 'playing', first.connects, { timeout: 20000, polling: 100 }),
    'the page reconnected and plays',
  );
  const resumedMs = Date.now() - killedAt;
  const after = await viewerStatus(viewer);
  t.is(after.node, 'edge-c', 'through the director, to the live edge');
  if (signal === 'ws') t.is(await signalingConnections(c.url), 1, 'and its socket is on edge-c');
  const frames = after.framesDecoded;
  t.true(await until(async () => (await viewerStatus(viewer)).framesDecoded > frames + 10, 5000), 'frames keep coming');
  t.log(`${signal}: edge killed: the page played again from ${after.node} after ${resumedMs} ms${signal === 'whep' ? ' (stall detection 4000 ms included)' : ' (the socket closing said so at once)'}`);
}
