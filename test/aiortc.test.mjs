// A real aiortc publisher (Debian's python3-aiortc 1.4 under /usr/bin/python3) sends H.264 + Opus
// through WHIP and headless Chromium /watch pages join late (issue 12: a viewer joining an aiortc
// stream got no keyframe request upstream and waited for the next natural keyframe).
// aiortc packetizes each keyframe as STAP-A(SPS, PPS[, SEI]) then two IDR slices (libx264's
// sliced threads) in FU-A fragments; its H.264 encoder ignores forced keyframes, so a PLI cannot
// hurry it: a viewer that the cache cannot start waits for x264's next keyframe (250 frames,
// ~8.3 s apart). What the relay owes: the PLI goes upstream (aiortc counts it), the late viewer
// decodes, and a viewer that joins while the cached keyframe picture is fresh starts from it at
// once, with no new keyframe. test/peers/aiortc-run.mjs runs the scenario in a veth network
// namespace (aioice never gathers 127.0.0.1). Needs root.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as sdpTransform from 'sdp-transform';
import { chromiumAvailable } from './browser-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

function aiortcUnavailable() {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import aiortc, av, numpy; from aiortc.codecs import h264'], { timeout: 20_000 });
  return r.status === 0 ? null : `/usr/bin/python3 cannot import aiortc (Debian python3-aiortc): ${String(r.stderr ?? r.error).trim().slice(-300)}`;
}

const why = !chromiumAvailable() ? 'no Chromium' : (netnsUnavailable() ?? aiortcUnavailable());
const aiortcTest = why ? test.skip : test.serial;
if (why) test('aiortc tests are skipped', (t) => t.log(why) || t.pass());

aiortcTest('aiortc publishes H.264: a late viewer gets a PLI sent upstream and decodes; a viewer joining a fresh keyframe starts from the cache', async (t) => {
  const r = await runInNetns(process.execPath, [fileURLToPath(new URL('./peers/aiortc-run.mjs', import.meta.url)), 'h264'], { veth: true, limitSec: 110 });
  const get = (event) => r.messages.filter((m) => m.event === event);
  t.deepEqual(get('error').concat(get('aiortc-error')), [], `stderr: ${r.stderr.slice(-1500)}`);
  const [answer] = get('aiortc-answer');
  t.is(answer?.status, 201);
  const media = sdpTransform.parse(answer?.answer ?? 'v=0\r\n').media ?? [];
  t.deepEqual(media.map((m) => [m.type, m.port !== 0, m.rtp?.[0]?.codec]), [['video', true, 'H264'], ['audio', true, 'opus']], 'H.264 and Opus accepted');
  t.true(get('aiortc-connected').length > 0, 'aiortc connected');

  // What aiortc sends, for the log: packetization of each keyframe picture and their spacing.
  const keyframes = get('aiortc-keyframe');
  for (const k of keyframes) t.log(`aiortc keyframe ts=${k.rtpTs}: ${k.packets} packets [${k.nals.join(' ')}], ${k.idrSlices} IDR slices, ${k.bytes} B${k.forced ? ' (forced)' : ''}`);
  const [summary] = get('summary');
  t.log(`keyframe intervals ${JSON.stringify(summary?.keyframeIntervalsMs)} ms; encoders (bitrate) ${JSON.stringify(summary?.encoders)}; PLIs at aiortc ${summary?.publisherStats?.plis}, forced-keyframe frames ${summary?.publisherStats?.forced}, keyframes ${summary?.publisherStats?.keyframes}`);
  t.true(keyframes.length >= 2, 'aiortc reported its keyframes');

  const [late, fresh] = get('viewer');
  t.truthy(late && fresh, 'both viewers reported');
  if (!late || !fresh) return;
  for (const v of [late, fresh]) t.log(`${v.label} viewer: opened ${v.sinceLastKeyframeMs} ms after a keyframe; first frame after ${v.waitedMs} ms (page's join ${v.joinMs} ms); keyframe requests upstream ${v.keyframeRequests} (within 1.5 s: ${v.keyframeRequestsSoon}); PLIs aiortc received ${v.plisAtPublisher}; keyframes while waiting ${JSON.stringify(v.keyframesWhileWaiting)}; frames ${v.framesDecoded} → ${v.framesLater}`);

  // The late viewer: the cached keyframe is past keyframeCacheMaxAgeMs, so the relay asks.
  t.true(late.sinceLastKeyframeMs > 4000, 'the late viewer joined when the cached keyframe was stale (keyframeCacheMaxAgeMs 4 s here)');
  t.true((late.keyframeRequestsSoon ?? late.keyframeRequests) > 0, 'a keyframe request went upstream right after the late viewer joined');
  t.true(late.plisAtPublisher > 0, 'aiortc received the PLI');
  t.true(late.played, `the late viewer decoded (${late.state}: ${late.error})`);
  t.true(late.framesLater > late.framesDecoded, `the late viewer keeps decoding: ${late.framesDecoded} → ${late.framesLater}`);
  t.is(late.codec, 'H264');
  t.is(`${late.width}x${late.height}`, '640x360');
  // No bound on its wait: aiortc 1.4 ignores the PLI, so the wait is x264's keyframe interval.
  if (late.keyframesWhileWaiting.length > 0 && !late.keyframesWhileWaiting[0].forced) {
    t.log(`the late viewer waited ${late.waitedMs} ms: aiortc ignored the PLI and it started at the natural keyframe ${late.keyframesWhileWaiting[0].afterOpenMs} ms after it opened`);
  }

  // The fresh viewer: the keyframe picture went by 300 ms earlier; only the cache can start it.
  t.true(fresh.sinceLastKeyframeMs < 1000, 'the fresh viewer joined while the cached keyframe was fresh');
  t.true(fresh.played, `the fresh viewer decoded (${fresh.state}: ${fresh.error})`);
  t.deepEqual(fresh.keyframesWhileWaiting, [], 'the fresh viewer started without a new keyframe: from the cached picture');
  // Well under aiortc's ~9 s keyframe interval: only the cached picture can start it this soon.
  t.true(fresh.joinMs !== null && fresh.joinMs < 3000, `the fresh viewer started at once (${fresh.joinMs} ms from its WHEP POST)`);
  t.true(fresh.framesLater > fresh.framesDecoded, `the fresh viewer keeps decoding: ${fresh.framesDecoded} → ${fresh.framesLater}`);
  t.is(`${fresh.width}x${fresh.height}`, '640x360');
});
