// aiortc (test/peers/aiortc-whip.py, Debian's python3-aiortc 1.4) publishes H.264 + Opus through
// the relay's WHIP endpoint; headless Chromium /watch pages join late. Run by test/aiortc.test.mjs
// inside a veth network namespace (aioice never gathers 127.0.0.1):
//   node aiortc-run.mjs
// 1. The stream runs until its latest keyframe is over 5 s old (past keyframeCacheMaxAgeMs, 4 s
//    here: long enough that a loaded machine's ICE + DTLS still reaches the cached picture in step 3).
// 2. The "late" viewer joins: the cache cannot start it, so a PLI must go upstream. aiortc 1.4's
//    H.264 encoder ignores forced keyframes: it starts at the next keyframe aiortc sends.
// 3. The "fresh" viewer joins 300 ms after the publisher reports its next keyframe, when that
//    picture has gone by on the live path but is still in the cache (< keyframeCacheMaxAgeMs):
//    the relay must start it from the cached picture at once (no new keyframe in between).
// Prints JSON lines ({ event, ... }); exits 0 when the scenario ran.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRelay } from '../../dist/index.js';
import { launchChromium, openViewer, viewerStatus } from '../browser-helpers.mjs';
import { killTimeoutGroup, startVethRelay } from '../netns.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(100_000);

const codec = process.argv[2] ?? 'h264';

const CACHE_MAX_AGE_MS = 4000;
const { relay, base } = await startVethRelay(createRelay, 42200, { keyframeCacheMaxAgeMs: CACHE_MAX_AGE_MS });
const keyframeRequests = () => relay.stats().workers.reduce((sum, w) => sum + w.keyframeRequests, 0);

const py = spawn('timeout', ['-s', 'KILL', '90', '/usr/bin/python3', fileURLToPath(new URL('./aiortc-whip.py', import.meta.url)), '--codec', codec, '--whip', `${base}/whip/aio`, '--seconds', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
let pyErr = '';
py.stderr.on('data', (d) => {
  pyErr = (pyErr + d).slice(-3000);
});
const events = [];
const waiters = new Set();
createInterface({ input: py.stdout }).on('line', (l) => {
  let m;
  try {
    m = JSON.parse(l);
  } catch {
    return;
  }
  m.at = Date.now();
  events.push(m);
  if (m.event === 'offer') say({ event: 'aiortc-offer', offer: m.sdp });
  else if (m.event === 'answer') say({ event: 'aiortc-answer', status: m.status, answer: m.sdp });
  else if (m.event !== 'stats') say({ ...m, event: `aiortc-${m.event}` });
  for (const w of waiters) w(m);
});
/** Resolves with the first publisher event (from now on) that `pred` accepts, or null after `ms`. */
function nextEvent(pred, ms) {
  return new Promise((resolve) => {
    const done = (m) => {
      waiters.delete(w);
      clearTimeout(timer);
      resolve(m);
    };
    const w = (m) => pred(m) && done(m);
    const timer = setTimeout(() => done(null), ms);
    waiters.add(w);
  });
}
const keyframesBetween = (from, to) => events.filter((m) => m.event === 'keyframe' && m.at >= from && m.at <= to);

/** Opens a /watch page; resolves with its join time, the frames it decoded and the upstream PLIs. */
async function join(context, label, { after } = {}) {
  const kfBefore = keyframeRequests();
  const plisBefore = events.filter((m) => m.event === 'pli').length;
  const openedAt = Date.now();
  const page = await openViewer(context, base, 'aio');
  let soon = null;
  const soonTimer = setTimeout(() => {
    soon = keyframeRequests() - kfBefore;
  }, 1500);
  // joinMs is set when the page presents its first frame (framesDecoded only every second).
  let played = true;
  await page.waitForFunction(() => window.halfsecWatch?.joinMs != null, null, { timeout: 20_000, polling: 50 }).catch(() => {
    played = false;
  });
  const firstFrameAt = Date.now();
  clearTimeout(soonTimer);
  // From opening the page to its first presented frame, as the runner saw it (50 ms polling).
  const waitedMs = played ? firstFrameAt - openedAt : null;
  const st = await viewerStatus(page, 0);
  return {
    page,
    label,
    openedAt,
    played,
    joinMs: st.joinMs,
    waitedMs,
    framesDecoded: st.framesDecoded,
    keyframeRequests: keyframeRequests() - kfBefore,
    // PLIs upstream within 1.5 s of opening the page (null: it played before then).
    keyframeRequestsSoon: soon,
    plisAtPublisher: events.filter((m) => m.event === 'pli').length - plisBefore,
    // The keyframes aiortc sent from the moment the page opened until it showed a frame.
    keyframesWhileWaiting: keyframesBetween(openedAt, firstFrameAt).map((k) => ({ afterOpenMs: k.at - openedAt, forced: k.forced })),
    sinceLastKeyframeMs: after ? openedAt - after.at : undefined,
  };
}

let chromium;
try {
  const launching = launchChromium({ limitMs: 95_000 });
  const connected = await nextEvent((m) => m.event === 'connected' || m.event === 'error', 20_000);
  chromium = await launching;
  if (connected?.event !== 'connected') throw new Error(`aiortc did not connect: ${JSON.stringify(events.filter((m) => m.event !== 'offer' && m.event !== 'answer'))} ${pyErr}`);
  const context = await chromium.browser.newContext();
  // 1. Run until the latest keyframe (aiortc starts one per encoder it creates) is past the cache age.
  const runStart = Date.now();
  for (;;) {
    const last = events.filter((m) => m.event === 'keyframe').at(-1);
    if (last && Date.now() - last.at > CACHE_MAX_AGE_MS + 1000 && Date.now() - connected.at > 3000) break;
    if (Date.now() - runStart > 20_000) throw new Error(`no quiet keyframe-free stretch: ${JSON.stringify(events.filter((m) => m.event === 'keyframe'))}`);
    await sleep(100);
  }
  const lastKeyframe = events.filter((m) => m.event === 'keyframe').at(-1);
  // 2. The late viewer; the fresh one opens the moment aiortc reports its next keyframe.
  const nextKeyframe = nextEvent((m) => m.event === 'keyframe', 30_000);
  const lateJoin = join(context, 'late', { after: lastKeyframe });
  const kf = await nextKeyframe;
  if (!kf) throw new Error('aiortc sent no keyframe within 30 s of the late viewer joining');
  await sleep(300);
  const freshJoin = join(context, 'fresh', { after: kf });
  const late = await lateJoin;
  const fresh = await freshJoin;
  await sleep(2000);
  for (const v of [late, fresh]) {
    const st = await viewerStatus(v.page, 0);
    say({
      event: 'viewer',
      ...Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'page')),
      framesLater: st.framesDecoded,
      codec: st.codec,
      width: st.width,
      height: st.height,
      state: st.state,
      error: st.error,
    });
  }
  const keyframes = events.filter((m) => m.event === 'keyframe');
  const intervals = keyframes.slice(1).map((k, i) => k.at - keyframes[i].at);
  const last = events.filter((m) => m.event === 'stats').at(-1);
  say({ event: 'summary', keyframes: keyframes.length, keyframeIntervalsMs: intervals, encoders: events.filter((m) => m.event === 'encoder').map((e) => e.bitrate), publisherStats: last, keyframeRequests: keyframeRequests() });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err), pyErr });
} finally {
  await chromium?.close();
  killTimeoutGroup(py);
  await relay.close();
}
process.exit(0);
