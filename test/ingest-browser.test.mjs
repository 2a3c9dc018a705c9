// Headless Chromium watches RTMP- and SRT-ingested streams on /watch: frames are decoded, and the
// wall clock FFmpeg stamped into them (test/ingest-stamp.mjs, web/clock-code.js's format) reads
// back as a plausible glass-to-glass latency.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { sleep, startRelay, until } from './helpers.mjs';
import { chromiumAvailable, launchChromium, openViewer, viewerStatus, waitForPlayback } from './browser-helpers.mjs';
import { stampedSourceArgs } from './ingest-stamp.mjs';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

test.before(async (t) => {
  if (chromiumAvailable()) t.context.chromium = await launchChromium({ limitMs: 110_000 });
});
test.after.always(async (t) => {
  await t.context.chromium?.close();
});

function source(t, out, fmt) {
  // MPEG-TS for SRT as encoders send it for low latency: no mux delay, every packet flushed.
  const ts = fmt === 'mpegts' ? ['-muxdelay', '0', '-pes_payload_size', '0', '-flush_packets', '1'] : [];
  const p = spawn('timeout', ['-s', 'KILL', '45', 'ffmpeg', ...stampedSourceArgs({ seconds: 35 }), ...ts, '-f', fmt, out], { stdio: 'ignore', detached: true });
  t.teardown(() => {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
  });
  return p;
}

for (const proto of ['rtmp', 'srt']) {
  test.serial(`${proto.toUpperCase()}: a /watch page in Chromium decodes the ingested stream and reads its clock stamps`, async (t) => {
    if (!hasFfmpeg || !t.context.chromium) return t.fail('ffmpeg or chromium missing');
    t.timeout(50000);
    const port = 20000 + Math.floor(Math.random() * 9000);
    const opts = proto === 'rtmp' ? { rtmpPort: port } : { srtPort: port };
    const { relay, url } = await startRelay(t, { ...opts, republishGraceMs: 0 });
    if (proto === 'srt') t.true((await relay.srt.ready).available, 'halfsec-srt listens');
    await sleep(300);
    source(t, proto === 'rtmp' ? `rtmp://127.0.0.1:${port}/live/stamped` : `srt://127.0.0.1:${port}?streamid=publish:stamped`, proto === 'rtmp' ? 'flv' : 'mpegts');
    t.true(await until(() => relay.stats().publishers === 1, 15000), 'the ingest went live');
    const context = await t.context.chromium.browser.newContext({ viewport: { width: 800, height: 600 } });
    t.teardown(() => context.close());
    const page = await openViewer(context, url, 'stamped');
    await t.notThrowsAsync(waitForPlayback(page, { width: 640, height: 360, timeout: 10000 }), 'the watch page decodes 640x360 frames');
    await until(async () => {
      const st = await viewerStatus(page);
      return st.latencies.length >= 30 && st.framesDecoded >= 30;
    }, 10000, 200);
    const s = await viewerStatus(page, 600);
    t.is(s.codec, 'H264');
    t.true(s.framesDecoded >= 30, `${s.framesDecoded} frames decoded`);
    t.true(s.latencies.length >= 30, `${s.latencies.length} stamped frames read`);
    const bad = s.latencies.filter((x) => !(x.latency > 0 && x.latency < 3000));
    t.deepEqual(bad, [], 'every stamp reads as a latency within (0, 3000) ms');
    const sorted = s.latencies.map((x) => x.latency).sort((a, b) => a - b);
    t.log(`${proto}: median glass-to-glass ${sorted[Math.floor(sorted.length / 2)]} ms over ${sorted.length} frames`);
  });
}
