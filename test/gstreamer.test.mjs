// Real GStreamer webrtcbin (Debian's 1.22, /usr/bin/python3 with the GI bindings) publishes with
// bundle-policy max-bundle (its audio section is port 0 + a=bundle-only) and a headless Chromium
// /watch page decodes the stream: H.264 and VP8. Each test runs test/peers/gst-run.mjs in a
// network namespace of its own with a veth pair (libnice skips loopback). Needs root.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as sdpTransform from 'sdp-transform';
import { chromiumAvailable } from './browser-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';
import { checkSdp } from './sdp-grammar.mjs';

function gstUnavailable() {
  const r = spawnSync('/usr/bin/python3', ['-c', "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstWebRTC','1.0'); from gi.repository import Gst; Gst.init(None); assert Gst.ElementFactory.find('webrtcbin') and Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('vp8enc')"], { timeout: 20_000 });
  return r.status === 0 ? null : `GStreamer webrtcbin with GI bindings, x264enc and vp8enc is not installed: ${String(r.stderr).slice(-300)}`;
}

const why = !chromiumAvailable() ? 'no Chromium' : (netnsUnavailable() ?? gstUnavailable());
const gstTest = why ? test.skip : test.serial;
if (why) test('GStreamer tests are skipped', (t) => t.log(why) || t.pass());

for (const [codec, name] of [['h264', 'H264'], ['vp8', 'VP8']]) {
  gstTest(`GStreamer webrtcbin publishes ${name} + Opus with max-bundle; a Chromium viewer decodes it`, async (t) => {
    const r = await runInNetns(process.execPath, [fileURLToPath(new URL('./peers/gst-run.mjs', import.meta.url)), codec], { veth: true, limitSec: 90 });
    const get = (event) => r.messages.filter((m) => m.event === event);
    t.deepEqual(get('error').concat(get('gst-error')), [], `stderr: ${r.stderr.slice(-1500)}`);
    const [offer] = get('gst-offer');
    t.regex(offer?.offer ?? '', /a=bundle-only/, 'the offer has a bundle-only section');
    const [answer] = get('gst-answer');
    t.is(answer?.status, 201);
    t.deepEqual(checkSdp(answer?.answer ?? ''), [], 'the answer is valid SDP');
    const media = sdpTransform.parse(answer?.answer ?? 'v=0\r\n').media ?? [];
    t.deepEqual(media.map((m) => [m.type, m.port !== 0]), [['video', true], ['audio', true]], 'video and the bundle-only audio are accepted');
    t.is(get('gst-connected').length > 0, true, 'GStreamer connected');
    const [v] = get('viewer');
    t.truthy(v, 'the viewer reported');
    if (!v) return;
    t.deepEqual((v.publisherCodecs ?? []).map((c) => c.toLowerCase()).sort(), [name.toLowerCase(), 'opus'].sort());
    t.is(v.codec, name);
    t.true(v.first > 0 && v.later > v.first, `frames decoded ${v.first} → ${v.later} (${v.state}: ${v.error})`);
    t.is(`${v.width}x${v.height}`, '320x240');
  });
}
