// Real browsers: headless Chromium publishes through /publish/<stream> and watches through
// /watch/<stream>, all over 127.0.0.1. One Chromium process for the file; a context per test.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { sleep, startRelay, until } from './helpers.mjs';
import { launchChromium, openPublisher, openViewer, publisherStatus, viewerStatus, waitForPlayback } from './browser-helpers.mjs';

const VIEWERS = 3;

test.before(async (t) => {
  t.context.chromium = await launchChromium();
});

test.after.always(async (t) => {
  await t.context.chromium?.close();
});

async function setup(t) {
  const relay = await startRelay(t);
  const context = await t.context.chromium.browser.newContext({ viewport: { width: 1000, height: 720 } });
  t.teardown(() => context.close());
  return { ...relay, context };
}

async function streamInfo(url, name) {
  const { streams } = await (await fetch(`${url}/api/streams`)).json();
  return streams.find((s) => s.name === name);
}

/** Opens `count` viewers one after another; each must decode frames of `size` within 5 s of opening. */
async function watchers(t, context, url, stream, size, count = VIEWERS) {
  const pages = [];
  for (let i = 0; i < count; i++) {
    const page = await openViewer(context, url, stream);
    await t.notThrowsAsync(waitForPlayback(page, { ...size, timeout: 5000 }), `viewer ${i} decodes ${size ? `${size.width}x${size.height}` : ''} frames within 5 s`);
    pages.push(page);
  }
  return pages;
}

function assertClockReadings(t, samples, label) {
  t.true(samples.length >= 20, `${label}: ${samples.length} stamped frames read`);
  const bad = samples.filter((s) => !(s.latency > 0 && s.latency < 2000));
  t.deepEqual(bad, [], `${label}: every latency is within (0, 2000) ms`);
  const backwards = samples.filter((s, i) => i > 0 && s.clock <= samples[i - 1].clock);
  t.deepEqual(backwards, [], `${label}: decoded clocks only increase`);
}

test.serial('H.264: the fake camera published from /publish plays on three /watch pages, with glass-to-glass latency', async (t) => {
  const { url, context } = await setup(t);
  const pub = await openPublisher(context, url, 'h264', { codec: 'h264-cb', source: 'camera', size: '640x360', stamp: '1' });
  const info = await streamInfo(url, 'h264');
  t.deepEqual([...info.codecs].sort(), ['H264', 'opus']);

  // Viewers join a stream that has been running for a while, as they do in practice: their very
  // first frames must be live too (a start from stale cached media shows up as huge latencies).
  await sleep(3000);
  const pages = await watchers(t, context, url, 'h264', { width: 640, height: 360 });
  await until(async () => (await Promise.all(pages.map((p) => viewerStatus(p)))).every((s) => s.latencies.length >= 30), 10000, 200);
  for (const [i, page] of pages.entries()) {
    const s = await viewerStatus(page, 900);
    t.is(s.codec, 'H264', `viewer ${i} codec`);
    t.true(s.joinMs > 0 && s.joinMs < 5000, `viewer ${i} join time ${s.joinMs} ms`);
    assertClockReadings(t, s.latencies, `viewer ${i}`);
  }
  const p = await publisherStatus(pub);
  t.is(p.codec, 'H264');
  t.true(p.kbps > 0, 'the publish page shows a bitrate');
  t.is((await streamInfo(url, 'h264')).viewers, VIEWERS);

  // The stream list shows the stream and links to its player.
  const index = await context.newPage();
  await index.goto(url);
  await t.notThrowsAsync(index.waitForSelector('#streams a[href="/watch/h264"]', { timeout: 5000 }));

  const png = await pages[0].screenshot();
  t.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG screenshot of the watch page');
  // Refreshes the README's picture only on request, so test runs leave the tree clean.
  if (process.env.HALFSEC_UPDATE_SCREENSHOT === '1') writeFileSync(new URL('../docs/watch.png', import.meta.url), png);
});

test.serial('VP8: the plain fake camera plays on three /watch pages; unstamped video shows no latency', async (t) => {
  const { url, context } = await setup(t);
  await openPublisher(context, url, 'vp8', { codec: 'vp8', source: 'camera', size: '640x360', stamp: '0' });
  t.deepEqual([...(await streamInfo(url, 'vp8')).codecs].sort(), ['VP8', 'opus']);
  const pages = await watchers(t, context, url, 'vp8', { width: 640, height: 360 });
  await until(async () => (await viewerStatus(pages[0])).framesDecoded >= 30, 5000, 200);
  for (const [i, page] of pages.entries()) {
    const s = await viewerStatus(page);
    t.is(s.codec, 'VP8', `viewer ${i} codec`);
    t.is(s.latencies.length, 0, `viewer ${i} reads no clock from a camera image`);
    t.is(s.latencyMs, null);
  }
});

// VP9 and AV1, the codecs Chromium has besides H.264 and VP8: published from /publish with that
// codec chosen, and played by a /watch page that joins the running stream (so the relay has to
// find the codec's keyframe for it). One viewer each keeps the run short.
for (const [id, name] of [['vp9', 'VP9'], ['av1', 'AV1']]) {
  test.serial(`${name}: the fake camera published from /publish plays on a /watch page`, async (t) => {
    const { url, context } = await setup(t);
    const stream = `c-${id}`;
    const pub = await openPublisher(context, url, stream, { codec: id, source: 'camera', size: '640x360', stamp: '0' });
    t.deepEqual([...(await streamInfo(url, stream)).codecs].sort(), [name, 'opus']);
    await sleep(1000);
    const [page] = await watchers(t, context, url, stream, { width: 640, height: 360 }, 1);
    await until(async () => (await viewerStatus(page)).framesDecoded >= 30, 5000, 200);
    const s = await viewerStatus(page);
    t.is(s.codec, name, 'the viewer decodes the codec asked for');
    t.true(s.framesDecoded >= 30, `frames decoded: ${s.framesDecoded}`);
    t.is((await publisherStatus(pub)).codec, name, 'the publisher sends it');
  });
}

test.serial('simulcast: a three-layer VP8 publisher is accepted and viewers decode frames', async (t) => {
  const { url, context, relay } = await setup(t);
  const pub = await openPublisher(context, url, 'sim', { codec: 'vp8', source: 'camera', size: '640x360', stamp: '1', simulcast: '1' });
  t.true(await until(async () => (await streamInfo(url, 'sim'))?.connected, 5000), 'the publisher connects');
  // Layers only show up in the sender's stats once the relay's answer accepted them (rid recv).
  t.true(
    await until(async () => (await publisherStatus(pub)).layers.filter((l) => l.width > 0 && l.kbps > 0).length >= 2, 8000, 250),
    `the publisher sends at least two layers: ${JSON.stringify((await publisherStatus(pub)).layers)}`,
  );
  t.deepEqual(
    (await publisherStatus(pub)).layers.map((l) => l.rid),
    ['f', 'h', 'q'],
  );
  // Viewers get the highest layer that is flowing. From a 640x360 camera libwebrtc sends the
  // full layer only once bandwidth feedback allows it, so that may be 320x180; never the lowest.
  const pages = await watchers(t, context, url, 'sim');
  let sizes = [];
  const upper = (z) => z === '320x180' || z === '640x360';
  await until(async () => {
    sizes = [];
    for (const [i, page] of pages.entries()) {
      const s = await viewerStatus(page);
      t.true(s.framesDecoded > 0, `viewer ${i} decoded frames`);
      sizes.push(`${s.width}x${s.height}`);
    }
    return sizes.every(upper);
  }, 5000, 250);
  t.true(sizes.every(upper), `viewers play an upper layer: ${sizes.join(', ')}`);
  t.is(relay.stats().viewers, VIEWERS);
});

test.serial('/watch waits for a stream that is not live, and plays again when the publisher comes back', async (t) => {
  const { url, context } = await setup(t);
  const viewer = await openViewer(context, url, 'back');
  await t.notThrowsAsync(viewer.waitForFunction(() => window.halfsecWatch?.state === 'waiting for the stream', null, { timeout: 5000 }));

  const pub = await openPublisher(context, url, 'back', { codec: 'vp8', source: 'pattern', stamp: '1', audio: '0' });
  await t.notThrowsAsync(waitForPlayback(viewer, { width: 640, height: 360, timeout: 5000 }), 'plays once the stream is live');
  const before = await viewerStatus(viewer);
  t.is(before.connects, 1);

  await pub.evaluate(() => window.halfsecPublishControl.stop());
  t.true(await until(async () => !(await streamInfo(url, 'back')), 3000), 'the publisher DELETE ended the stream');
  await t.notThrowsAsync(viewer.waitForFunction(() => window.halfsecWatch.state === 'waiting for the stream', null, { timeout: 10000 }), 'the viewer notices');

  await pub.evaluate(() => window.halfsecPublishControl.start());
  await t.notThrowsAsync(
    viewer.waitForFunction((n) => window.halfsecWatch.state === 'playing' && window.halfsecWatch.framesDecoded > n, before.framesDecoded, { timeout: 10000, polling: 100 }),
    'and plays the new session',
  );
  const after = await viewerStatus(viewer);
  t.is(after.connects, 2);
  t.is(after.joins.length, 2);
});

// With a token key the pages take their token in the URL fragment (#token=, never sent to a
// server): a publish token on /publish, a view token on /watch; a /watch page without one is
// refused and says why.
test.serial('tokens: /publish and /watch send the #token= they were given as bearer authentication', async (t) => {
  const { SignJWT } = await import('jose');
  const secret = 'a-browser-test-token-secret-of-32-bytes!';
  const sign = (action) => new SignJWT({ stream: 'tok', action }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2m').sign(new TextEncoder().encode(secret));
  const { url } = await startRelay(t, { tokenSecret: secret });
  const context = await t.context.chromium.browser.newContext({ viewport: { width: 1000, height: 720 } });
  t.teardown(() => context.close());
  const pub = await context.newPage();
  await pub.goto(`${url}/publish/tok?autostart=1&codec=vp8&source=camera&size=640x360&stamp=0#token=${await sign('publish')}`);
  await pub.waitForFunction(() => ['live', 'failed'].includes(window.halfsecPublish?.state), null, { timeout: 20_000 });
  t.is((await publisherStatus(pub)).state, 'live', `published with the token: ${(await publisherStatus(pub)).error}`);
  const bare = await openViewer(context, url, 'tok');
  const viewer = await context.newPage();
  await viewer.goto(`${url}/watch/tok#token=${await sign('view')}`);
  await t.notThrowsAsync(waitForPlayback(viewer, { width: 640, height: 360, timeout: 8000 }), 'the viewer with a token plays');
  const refused = await viewerStatus(bare);
  t.is(refused.framesDecoded, 0, 'the viewer without a token gets nothing');
  // The page retries: each attempt clears the error while its request is out ('connecting'), so
  // the reason is read from a moment between attempts.
  const why = await bare
    .waitForFunction(() => (window.halfsecWatch?.state === 'retrying' ? window.halfsecWatch.error : null), null, { timeout: 10_000 })
    .then((h) => h.jsonValue(), () => refused.error);
  t.regex(String(why), /token/i, `and says why: ${why}`);
});
