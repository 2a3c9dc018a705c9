// Real Firefox through the relay, inside a veth network namespace (test/netns.mjs; Firefox
// gathers nothing on `lo` alone). Run by test/firefox.test.mjs:
//   node firefox-run.mjs pages|plain|cleanup
// pages:   /publish/<s> (fake camera + mic) and /watch/<s>, the relay's own pages.
// plain:   a page importing /web/whip-whep.js publishes and watches with bundlePolicy
//          max-bundle, then balanced (each on both sides); then VP9 and AV1 (its codec
//          preference), each published and watched.
// cleanup: a viewer whose answer fails to apply, and one whose connection fails, leave no
//          session on the relay.
// Prints JSON lines ({ event, ... }) for the test to check; exits 0 when the scenario ran.
import { createRelay } from '../../dist/index.js';
import { launchFirefox } from '../firefox-helpers.mjs';
import { startVethRelay } from '../netns.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(100_000);

const scenario = process.argv[2];

// Firefox never pairs with a 127.0.0.1 candidate: media goes over the veth address.
const { relay, base } = await startVethRelay(createRelay, 42000);
const ff = await launchFirefox({ limitMs: 95_000 });
say({ event: 'firefox', version: ff.version });

async function viewers(stream) {
  const r = await fetch(`${base}/api/streams/${stream}`);
  return r.status === 200 ? (await r.json()).viewers.length : -1;
}

/** Polls `fn` in the page until it returns truthy or `ms` pass; the last value. */
async function pageUntil(page, fn, arg, ms) {
  const deadline = Date.now() + ms;
  let v;
  while (Date.now() < deadline) {
    v = await page.evaluate(fn, arg);
    if (v && v.ok) return v;
    await sleep(250);
  }
  return v;
}

/**
 * In the page: publishes the fake camera and microphone to /whip/<stream> with web/whip-whep.js,
 * watches /whep/<stream> after `delay` ms, and reports frames decoded once they start and 2 s
 * later, the codecs both sides' getStats name, and the connection states. The sessions stay up.
 */
async function publishAndWatch([stream, opts, delay]) {
  const lib = await import('/web/whip-whep.js');
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const pub = await lib.publish(`/whip/${stream}`, media, opts);
  await new Promise((r) => setTimeout(r, delay));
  const v = await lib.watch(`/whep/${stream}`, opts);
  const el = document.createElement('video');
  el.muted = true;
  el.srcObject = v.stream;
  document.body.append(el);
  el.play().catch(() => {});
  const videoStats = async (pc, type) => {
    const stats = await pc.getStats();
    for (const x of stats.values()) {
      if (x.type === type && x.kind === 'video') return { n: x.framesDecoded ?? 0, codec: stats.get(x.codecId)?.mimeType ?? null };
    }
    return { n: 0, codec: null };
  };
  const start = Date.now();
  let first = { n: 0 };
  while (Date.now() - start < 15000 && first.n === 0) {
    await new Promise((r) => setTimeout(r, 250));
    first = await videoStats(v.pc, 'inbound-rtp');
  }
  const firstMs = Date.now() - start;
  await new Promise((r) => setTimeout(r, 2000));
  const later = await videoStats(v.pc, 'inbound-rtp');
  const sent = await videoStats(pub.pc, 'outbound-rtp');
  const offers = v.pc.localDescription.sdp + pub.pc.localDescription.sdp;
  window.__sessions = (window.__sessions ?? []).concat([pub, v]);
  return { first: first.n, firstMs, later: later.n, codec: later.codec, pubCodec: sent.codec, pub: pub.pc.connectionState, view: v.pc.connectionState, offerHasBundleOnly: /a=bundle-only/.test(offers) };
}

try {
  if (scenario === 'pages') {
    const pub = await ff.browser.newPage();
    await pub.goto(`${base}/publish/ffpages?autostart=1&source=camera&size=640x360`);
    const p = await pageUntil(pub, () => ({ ok: ['live', 'failed'].includes(window.halfsecPublish?.state), ...window.halfsecPublish }), null, 20_000);
    await sleep(2500);
    const p2 = await pub.evaluate(() => ({ ...window.halfsecPublish }));
    say({ event: 'publisher', state: p?.state, error: p?.error, kbps: p2.kbps, codec: p2.codec, layers: p2.layers });
    // The publish page goes to the background here, where Firefox throttles the timer that paces
    // its canvas to about one frame a second: enough to see frames decoded and growing.
    const view = await ff.browser.newPage();
    await view.goto(`${base}/watch/ffpages`);
    const first = await pageUntil(view, () => ({ ok: window.halfsecWatch?.framesDecoded > 0, ...window.halfsecWatch, latencies: [] }), null, 20_000);
    await sleep(2000);
    const later = await view.evaluate(() => ({ ...window.halfsecWatch, latencies: [] }));
    const pubLater = await pub.evaluate(() => ({ ...window.halfsecPublish }));
    if (process.env.DEBUG) {
      say({ dbg: await pub.evaluate(async () => { const v = document.getElementById('preview'); const out = { tracks: v.srcObject?.getTracks().map((t) => `${t.kind} ${t.readyState} muted=${t.muted} ${JSON.stringify(t.getSettings())}`), rs: v.readyState, w: v.videoWidth }; return out; }) });
      say({ dbg: await view.evaluate(() => { const v = document.querySelector('video'); return { tracks: v.srcObject?.getTracks().map((t) => `${t.kind} ${t.readyState} muted=${t.muted}`), paused: v.paused, rs: v.readyState, w: v.videoWidth }; }) });
      say({ dbg: (await (await fetch(`${base}/metrics`)).text()).split('\n').filter((l) => /halfsec_(sent|received)_packets|keyframe|nacks/.test(l) && !l.startsWith('#')) });
      say({ dbg: await (await fetch(`${base}/api/streams/ffpages`)).json() });
    }
    say({ event: 'viewer', pubKbps: pubLater.kbps, pubConnection: pubLater.connection, state: later.state, error: later.error, codec: later.codec, connects: later.connects, first: first?.framesDecoded ?? 0, later: later.framesDecoded, viewers: await viewers('ffpages') });
  } else if (scenario === 'plain') {
    const page = await ff.browser.newPage();
    await page.goto(`${base}/`);
    // The relay's choice of codec (VP8 from Firefox) under both bundle policies, then VP9 and AV1
    // asked for, each watched once it has run for a second (from a keyframe the relay found).
    const runs = [{ bundlePolicy: 'max-bundle' }, { bundlePolicy: 'balanced' }, { videoCodec: 'vp9', delay: 1000 }, { videoCodec: 'av1', delay: 1000 }];
    for (const { delay = 0, ...opts } of runs) {
      const stream = `ff-${opts.bundlePolicy ?? opts.videoCodec}`;
      const t0 = Date.now();
      const r = await page.evaluate(publishAndWatch, [stream, opts, Number(process.env.DELAY ?? delay)]);
      say({ event: 'plain', policy: opts.bundlePolicy, videoCodec: opts.videoCodec, ...r, ms: Date.now() - t0, viewers: await viewers(stream) });
    }
  } else if (scenario === 'cleanup') {
    // A stream to watch: Firefox publishes it through the page client.
    const page = await ff.browser.newPage();
    await page.goto(`${base}/`);
    const r = await page.evaluate(async () => {
      const lib = await import('/web/whip-whep.js');
      const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
      window.__pub = await lib.publish('/whip/ffclean', media);
      const count = async () => (await (await fetch('/api/streams/ffclean')).json()).viewers.length;
      // 1. The answer does not apply (as Firefox's SDP parser did with rejected sections lacking c=).
      const real = RTCPeerConnection.prototype.setRemoteDescription;
      RTCPeerConnection.prototype.setRemoteDescription = function () {
        return Promise.reject(new DOMException('SIPCC Failed to parse SDP (simulated)', 'InvalidAccessError'));
      };
      let failed = null;
      try {
        await lib.watch('/whep/ffclean');
      } catch (err) {
        failed = String(err.message);
      }
      RTCPeerConnection.prototype.setRemoteDescription = real;
      const afterBadAnswer = await count();
      // 2. The connection fails after the answer applied.
      const v = await lib.watch('/whep/ffclean');
      const whileUp = await count();
      Object.defineProperty(v.pc, 'connectionState', { get: () => 'failed' });
      v.pc.dispatchEvent(new Event('connectionstatechange'));
      let afterFailed = await count();
      for (let i = 0; i < 20 && afterFailed !== 0; i++) {
        await new Promise((res) => setTimeout(res, 100));
        afterFailed = await count();
      }
      return { failed, afterBadAnswer, whileUp, afterFailed };
    });
    say({ event: 'cleanup', ...r });
  }
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  await ff.close();
  await relay.close();
}
process.exit(0);
