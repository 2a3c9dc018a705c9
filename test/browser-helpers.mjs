// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for the browser tests
// and the latency bench. Never downloads a browser.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.HALFSEC_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why each flag is here (playwright-core adds --headless and its own automation flags):
 */
export const CHROMIUM_FLAGS = [
  // Runs as root in containers/CI, where the sandbox cannot start; no GPU on these machines.
  '--no-sandbox',
  '--disable-gpu',
  // Without it Chromium gathers no loopback candidate and never reaches a relay on 127.0.0.1.
  '--allow-loopback-in-peer-connection',
  // Host candidates as real IPs instead of random .local mDNS names: nothing on loopback
  // resolves them, and the offers stay readable when a test fails.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // A synthetic camera (moving pattern + beep) and automatic permission grants.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // Muted autoplay is allowed anyway; this also lets tests unmute without a click.
  '--autoplay-policy=no-user-gesture-required',
  // Several tabs share one browser: none may be throttled as a background tab (timers pace the
  // clock stamp, rendering drives requestVideoFrameCallback).
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  // Nothing but the pages under test on the network, and no first-run work.
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable() {
  return existsSync(CHROMIUM_PATH);
}

/**
 * One Chromium process, SIGKILLed after `limitMs` whatever happens (playwright has been seen to
 * hang on a wedged browser). `extraArgs`: more command-line flags. Returns { browser, version, close() }.
 */
export async function launchChromium({ limitMs = 170_000, extraArgs = [] } = {}) {
  const server = await chromium.launchServer({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_FLAGS, ...extraArgs], headless: true, timeout: 30_000 });
  const proc = server.process();
  const guard = setTimeout(() => proc.kill('SIGKILL'), limitMs);
  guard.unref();
  let browser;
  try {
    browser = await chromium.connect(server.wsEndpoint(), { timeout: 30_000 });
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    browser,
    version: browser.version(),
    async close() {
      clearTimeout(guard);
      await browser.close().catch(() => {});
      await server.close().catch(() => {});
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** /publish/<stream> with the form pre-filled by `query`, started at once; resolves when live. */
export async function openPublisher(context, base, stream, query = {}) {
  const page = await context.newPage();
  const qs = new URLSearchParams({ autostart: '1', ...query });
  await page.goto(`${base}/publish/${encodeURIComponent(stream)}?${qs}`);
  await page.waitForFunction(() => ['live', 'failed'].includes(window.halfsecPublish?.state), null, { timeout: 20_000 });
  const st = await publisherStatus(page);
  if (st.state !== 'live') throw new Error(`publisher did not go live: ${st.error}`);
  return page;
}

export async function openViewer(context, base, stream) {
  const page = await context.newPage();
  await page.goto(`${base}/watch/${encodeURIComponent(stream)}`);
  return page;
}

export function publisherStatus(page) {
  return page.evaluate(() => ({ ...window.halfsecPublish }));
}

/** The watch page's status, with the latency samples trimmed to the last `samples`. */
export function viewerStatus(page, samples = 300) {
  return page.evaluate((n) => {
    const s = window.halfsecWatch;
    return { ...s, latencies: s.latencies.slice(-n), joins: [...s.joins] };
  }, samples);
}

/**
 * The page's video receiver as getStats reports it at the moment of asking (window.halfsecPeer):
 * { height, freezes, frames, received, dropped, packets, lost, nacks, plis } (frameHeight,
 * freezeCount, framesDecoded, framesReceived, framesDropped, packetsReceived, packetsLost,
 * nackCount, pliCount), or null before there is one.
 */
export function inboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.halfsecPeer?.();
    if (!pc) return null;
    for (const r of (await pc.getStats()).values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video') return { height: r.frameHeight ?? 0, freezes: r.freezeCount ?? 0, frames: r.framesDecoded ?? 0, received: r.framesReceived ?? 0, dropped: r.framesDropped ?? 0, packets: r.packetsReceived ?? 0, lost: r.packetsLost ?? 0, nacks: r.nackCount ?? 0, plis: r.pliCount ?? 0 };
    }
    return null;
  });
}

/** Waits until the watch page has decoded frames at the given size (or any size). */
export async function waitForPlayback(page, { width, height, timeout = 5000 } = {}) {
  await page.waitForFunction(
    ([w, h]) => {
      const s = window.halfsecWatch;
      return s && s.framesDecoded > 0 && s.joinMs !== null && (w === undefined || (s.width === w && s.height === h));
    },
    [width, height],
    { timeout, polling: 100 },
  );
}
