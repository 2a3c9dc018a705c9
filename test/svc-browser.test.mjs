// SVC in real browsers: headless Chromium publishes VP8 with temporal layers (L1T3), VP9
// with spatial and temporal layers (L3T3_KEY) and AV1 with temporal layers (L1T3, the layers
// told by the dependency descriptor header extension); one viewer is capped by `select`
// maxBitrate (the relay's SVC policy then forwards it the lowest step only,
// native/media/svc_filter.h), another is left open. Both must decode continuously; the capped
// one at a lower frame rate (and, for VP9, a lower resolution), the open one everything. An AV1
// viewer that does not offer the descriptor gets the stream whole.
import test from 'ava';
import { sleep, startRelay, until } from './helpers.mjs';
import { chromiumAvailable, launchChromium, openViewer } from './browser-helpers.mjs';
import { publishLayered, receiverStats, selectMaxBitrate, senderStats, viewOverWs } from './svc-pages.mjs';

const run = chromiumAvailable() ? test.serial : test.skip;

test.before(async (t) => {
  if (chromiumAvailable()) t.context.chromium = await launchChromium({ limitMs: 220_000 });
});

test.after.always(async (t) => {
  await t.context.chromium?.close();
});

/** Samples a viewer once a second for `seconds`: frames decoded per second, sizes, freezes. */
async function sample(page, seconds) {
  const first = await page.evaluate(receiverStats);
  const rates = [];
  const heights = new Set();
  let prev = first;
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const now = await page.evaluate(receiverStats);
    rates.push(now.framesDecoded - prev.framesDecoded);
    heights.add(now.height);
    prev = now;
  }
  return { rates, fps: (prev.framesDecoded - first.framesDecoded) / seconds, heights: [...heights], freezes: prev.freezeCount - first.freezeCount, last: prev };
}

async function scenario(t, { codec, scalabilityMode, stream, dependencyDescriptor = false }) {
  const { url } = await startRelay(t);
  const context = await t.context.chromium.browser.newContext();
  t.teardown(() => context.close());
  const pub = await context.newPage();
  await pub.goto(`${url}/`);
  const published = await pub.evaluate(publishLayered, { stream, codec, scalabilityMode });
  t.is(published.status, 201, `publish: ${published.answer ?? ''}`);
  t.log(`publisher mode: ${published.mode}`);
  // Let the publisher's estimate ramp so that it sends every layer.
  await until(async () => {
    const s = await pub.evaluate(senderStats);
    return s.height === 360 && s.fps > 10;
  }, 15_000, 500);
  const sender = await pub.evaluate(senderStats);
  t.log(`publisher sends ${JSON.stringify(sender)}`);
  t.regex(sender.codec ?? '', new RegExp(codec, 'i'));

  const open = await context.newPage();
  const capped = await context.newPage();
  for (const page of [open, capped]) {
    await page.goto(`${url}/`);
    const r = await page.evaluate(viewOverWs, { stream, dependencyDescriptor });
    t.true(r.ok, `view: ${r.error ?? ''}`);
  }
  t.true(await until(async () => (await capped.evaluate(receiverStats)).framesDecoded > 10, 10_000, 250), 'the capped viewer starts decoding');
  const ack = await capped.evaluate(selectMaxBitrate, 10_000);
  t.is(ack.type, 'ack', JSON.stringify(ack));
  // The cap applies at the viewer's next feedback summary (1 s); give the decoder a second more.
  await sleep(3000);
  const [o, c] = await Promise.all([sample(open, 5), sample(capped, 5)]);
  t.log(`open viewer: ${o.fps.toFixed(1)} fps ${JSON.stringify(o.rates)} heights ${o.heights} freezes ${o.freezes} ${JSON.stringify(o.last)}`);
  t.log(`capped viewer: ${c.fps.toFixed(1)} fps ${JSON.stringify(c.rates)} heights ${c.heights} freezes ${c.freezes} ${JSON.stringify(c.last)}`);
  for (const [name, s] of [['open', o], ['capped', c]]) {
    t.true(s.rates.every((r) => r > 0), `${name} viewer decodes frames every second: ${s.rates}`);
    t.true(s.freezes <= 1, `${name} viewer: at most one freeze (${s.freezes})`);
  }
  // L1T3 / L3T3: the base temporal layer is every 4th frame.
  t.true(o.fps >= 10, `open viewer gets the full frame rate: ${o.fps}`);
  t.true(c.fps < o.fps * 0.5, `capped viewer decodes fewer frames: ${c.fps} vs ${o.fps}`);
  t.true(c.fps >= o.fps * 0.12, `capped viewer still gets the base layer's frames: ${c.fps} vs ${o.fps}`);

  // The cap lifted: back up (temporal at a switching point, spatial at a keyframe the relay asks for).
  const lifted = await capped.evaluate(selectMaxBitrate, null);
  t.is(lifted.type, 'ack');
  // The policy climbs one step of the ladder every ~3 s (ts/media/svc-policy.ts).
  const top = o.heights[0];
  const t0 = Date.now();
  let prev = await capped.evaluate(receiverStats);
  let back = false;
  while (!back && Date.now() - t0 < 20_000) {
    await sleep(1000);
    const now = await capped.evaluate(receiverStats);
    back = now.height === top && now.framesDecoded - prev.framesDecoded >= o.fps * 0.7;
    prev = now;
  }
  t.true(back, `the lifted viewer decodes ${top} lines at the full rate again`);
  t.log(`lifted viewer back up after ${Date.now() - t0} ms`);
  const u = await sample(capped, 3);
  t.log(`lifted viewer: ${u.fps.toFixed(1)} fps ${JSON.stringify(u.rates)} heights ${u.heights} freezes ${u.freezes}`);
  t.true(u.rates.every((r) => r > 0), `lifted viewer decodes every second: ${u.rates}`);
  t.true(u.fps >= c.fps * 2, `lifted viewer is back to the full frame rate: ${u.fps} (capped ${c.fps})`);
  t.true(u.freezes <= 1, `lifted viewer: at most one freeze (${u.freezes})`);
  return { o, c, sender };
}

run('VP8 L1T3: a capped viewer gets the base temporal layer only and decodes continuously; an open one gets every frame', async (t) => {
  const { o, c } = await scenario(t, { codec: 'VP8', scalabilityMode: 'L1T3', stream: 'svc-vp8' });
  t.deepEqual(o.heights, [360]);
  t.deepEqual(c.heights, [360], 'temporal layers keep the resolution');
});

run('VP9 L3T3_KEY: a capped viewer gets spatial layer 0 at the base frame rate; an open one gets 640x360 at the full rate', async (t) => {
  const { o, c, sender } = await scenario(t, { codec: 'VP9', scalabilityMode: 'L3T3_KEY', stream: 'svc-vp9' });
  // From 640x360 libwebrtc drops the spatial layer that would be under 320x180: it reports
  // L2T3_KEY (layers 320x180, 640x360); from a larger source it keeps three.
  const spatial = Number(/^L(\d)T3/.exec(sender.mode ?? '')?.[1] ?? 0);
  t.true(spatial >= 2, `the publisher sends spatial layers: ${sender.mode}`);
  t.deepEqual(o.heights, [360], 'the open viewer decodes the top spatial layer');
  t.deepEqual(c.heights, [360 / 2 ** (spatial - 1)], 'the capped viewer decodes spatial layer 0');
});

run('AV1 L1T3 (dependency descriptor): a capped viewer gets the base temporal layer only and decodes continuously; an open one gets every frame', async (t) => {
  const { o, c, sender } = await scenario(t, { codec: 'AV1', scalabilityMode: 'L1T3', stream: 'svc-av1', dependencyDescriptor: true });
  t.is(sender.mode, 'L1T3', 'the publisher encodes AV1 with three temporal layers');
  t.deepEqual(o.heights, [360]);
  t.deepEqual(c.heights, [360], 'temporal layers keep the resolution');
});

run('AV1 L1T3 to a viewer that does not offer the dependency descriptor: the stream whole, whatever its cap', async (t) => {
  const { url, relay } = await startRelay(t);
  const summaries = [];
  relay.on('viewer:feedback', ({ feedback: f }) => summaries.push(f));
  const context = await t.context.chromium.browser.newContext();
  t.teardown(() => context.close());
  const pub = await context.newPage();
  await pub.goto(`${url}/`);
  const published = await pub.evaluate(publishLayered, { stream: 'svc-av1-whole', codec: 'AV1', scalabilityMode: 'L1T3' });
  t.is(published.status, 201, `publish: ${published.answer ?? ''}`);
  const viewer = await context.newPage();
  await viewer.goto(`${url}/`);
  t.true((await viewer.evaluate(viewOverWs, { stream: 'svc-av1-whole' })).ok);
  t.false((await viewer.evaluate(() => window.pc.remoteDescription.sdp)).includes('dependency-descriptor'), 'no descriptor answered');
  t.true(await until(async () => (await viewer.evaluate(receiverStats)).framesDecoded > 10, 10_000, 250), 'the viewer decodes');
  t.is((await viewer.evaluate(selectMaxBitrate, 10_000)).type, 'ack');
  await sleep(3000);
  const s = await sample(viewer, 5);
  t.log(`capped viewer without the descriptor: ${s.fps.toFixed(1)} fps ${JSON.stringify(s.rates)} freezes ${s.freezes}`);
  t.true(s.fps >= 20, `every frame still arrives: ${s.fps}`);
  t.true(s.rates.every((r) => r > 0));
  t.true(summaries.length > 0 && summaries.every((f) => f.svcTemporalLayers === 0), 'the relay saw no layers for this viewer');
});

run('the watch page offers the dependency descriptor: an AV1 stream reaches it with the descriptor answered', async (t) => {
  const { url } = await startRelay(t);
  const context = await t.context.chromium.browser.newContext();
  t.teardown(() => context.close());
  const pub = await context.newPage();
  await pub.goto(`${url}/`);
  t.is((await pub.evaluate(publishLayered, { stream: 'svc-av1-watch', codec: 'AV1', scalabilityMode: 'L1T3' })).status, 201);
  const viewer = await openViewer(context, url, 'svc-av1-watch');
  t.true(await until(() => viewer.evaluate(() => window.halfsecPeer()?.remoteDescription != null), 10_000, 200), 'the watch page negotiated');
  const sdp = await viewer.evaluate(() => window.halfsecPeer().remoteDescription.sdp);
  t.regex(sdp, /a=extmap:\d+ https:\/\/aomediacodec\.github\.io\/av1-rtp-spec\/#dependency-descriptor-rtp-header-extension/);
  t.regex(sdp, /a=extmap-allow-mixed/);
  t.true(await until(async () => (await viewer.evaluate(() => window.halfsecWatch.framesDecoded ?? 0)) > 10, 10_000, 250), 'and decodes');
});
