// AV1 SVC across a cluster (issue 15): the edge's pull offers the AV1 dependency descriptor, the
// origin forwards it, and the edge reads each packet's layers itself, so a capped viewer on the
// edge gets AV1 L1T3's base temporal layer (decoding continuously) while an open one on the same
// edge gets every frame. Headless Chromium publishes on the origin and views on the edge.
import test from 'ava';
import { sleep, until } from './helpers.mjs';
import { startNode, startRedis } from './cluster-helpers.mjs';
import { chromiumAvailable, launchChromium } from './browser-helpers.mjs';
import { publishLayered, receiverStats, selectMaxBitrate, viewOverWs } from './svc-pages.mjs';

const run = chromiumAvailable() ? test.serial : test.skip;

async function fps(page, seconds) {
  const first = await page.evaluate(receiverStats);
  const rates = [];
  let prev = first;
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const now = await page.evaluate(receiverStats);
    rates.push(now.framesDecoded - prev.framesDecoded);
    prev = now;
  }
  return { rates, fps: (prev.framesDecoded - first.framesDecoded) / seconds, freezes: prev.freezeCount - first.freezeCount };
}

run('AV1 L1T3 through an edge: the pull carries the dependency descriptor; a capped edge viewer gets the base layer, an open one every frame', async (t) => {
  t.timeout(120_000);
  const chromium = await launchChromium({ limitMs: 110_000 });
  t.teardown(() => chromium.close());
  const redis = await startRedis(t);
  const opts = { clusterSecret: 'av1-svc-cluster-secret-0123456789abcdef', workers: 1 };
  const origin = await startNode(t, redis.url, 'node-a', opts);
  const edge = await startNode(t, redis.url, 'node-b', opts);
  const summaries = [];
  edge.relay.on('viewer:feedback', ({ feedback: f }) => summaries.push(f));

  const context = await chromium.browser.newContext();
  t.teardown(() => context.close());
  const pub = await context.newPage();
  await pub.goto(`${origin.url}/`);
  const published = await pub.evaluate(publishLayered, { stream: 'av1', codec: 'AV1', scalabilityMode: 'L1T3' });
  t.is(published.status, 201, `publish: ${published.answer ?? ''}`);
  t.is(published.mode, 'L1T3');
  await sleep(3000);

  const open = await context.newPage();
  const capped = await context.newPage();
  for (const page of [open, capped]) {
    await page.goto(`${edge.url}/`);
    const r = await page.evaluate(viewOverWs, { stream: 'av1', dependencyDescriptor: true });
    t.true(r.ok, `view on the edge: ${r.error ?? ''}`);
  }
  t.deepEqual(edge.relay.clusterStats().pulls.map((p) => p.upstream), ['node-a'], 'the edge pulls from the origin');
  t.true(await until(async () => (await capped.evaluate(receiverStats)).framesDecoded > 10, 15_000, 250), 'the edge viewer decodes');
  t.true(await until(() => summaries.some((f) => f.svcTemporalLayers === 3), 5000, 200), 'the edge reads three temporal layers from the forwarded descriptor');
  t.is((await capped.evaluate(selectMaxBitrate, 10_000)).type, 'ack');
  await sleep(3000);
  const [o, c] = await Promise.all([fps(open, 6), fps(capped, 6)]);
  t.log(`edge viewers: open ${o.fps.toFixed(1)} fps ${JSON.stringify(o.rates)} freezes ${o.freezes}; capped ${c.fps.toFixed(1)} fps ${JSON.stringify(c.rates)} freezes ${c.freezes}`);
  for (const [name, s] of [['open', o], ['capped', c]]) {
    t.true(s.rates.every((r) => r > 0), `${name} edge viewer decodes frames every second: ${s.rates}`);
    t.true(s.freezes <= 1, `${name} edge viewer: at most one freeze (${s.freezes})`);
  }
  t.true(o.fps >= 10, `the open edge viewer gets the full frame rate: ${o.fps}`);
  t.true(c.fps < o.fps * 0.5, `the capped edge viewer decodes fewer frames: ${c.fps} vs ${o.fps}`);
  t.true(c.fps >= o.fps * 0.12, `the capped edge viewer still gets the base layer's frames: ${c.fps} vs ${o.fps}`);
});
