// An edge that dies: the watch page (headless Chromium) asks the director again and goes on
// playing from another edge.
import test from 'ava';
import { until } from './helpers.mjs';
import { startNode, startNodeProcess, startRedis } from './cluster-helpers.mjs';
import { chromiumAvailable, launchChromium, openPublisher, openViewer, viewerStatus, waitForPlayback } from './browser-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-browser-test-01234567';

test.serial('the edge a watch page plays from dies: the page goes back through the director to another edge and plays on', async (t) => {
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
  await startNodeProcess(t, redis.url, 'edge-c', { secret: CLUSTER, extra });
  t.true(await until(() => page.relay.clusterStats().nodesSeen === 4, 5000));

  const context = await chromium.browser.newContext();
  t.teardown(() => context.close());
  await openPublisher(context, origin.url, 'cam', { codec: 'vp8', source: 'camera', size: '320x240', stamp: '0' });
  const viewer = await openViewer(context, page.url, 'cam');
  await t.notThrowsAsync(waitForPlayback(viewer, { timeout: 15000 }));
  const first = await viewerStatus(viewer);
  t.is(first.node, 'edge-b', 'the director sent the page to edge-b');

  const killedAt = Date.now();
  await b.kill();
  await t.notThrowsAsync(
    viewer.waitForFunction((n) => window.halfsecWatch.connects > n && window.halfsecWatch.state === 'playing', first.connects, { timeout: 20000, polling: 100 }),
    'the page reconnected and plays',
  );
  const resumedMs = Date.now() - killedAt;
  const after = await viewerStatus(viewer);
  t.is(after.node, 'edge-c', 'through the director, to the live edge');
  const frames = after.framesDecoded;
  t.true(await until(async () => (await viewerStatus(viewer)).framesDecoded > frames + 10, 5000), 'frames keep coming');
  t.log(`edge killed: the page played again from ${after.node} after ${resumedMs} ms (stall detection ${4000} ms included)`);
});
