// The relay dies (SIGKILL) while an RTMP publisher's connection is spliced (halfsec-splice) to its
// FFmpeg ingest child, and the publisher has stalled (SIGSTOP: its TCP connection stays open, no
// byte comes): halfsec-splice must not outlive the relay, holding the publisher's connection and
// its FFmpeg child (which reads from the splice) forever. And an FFmpeg child whose input stays
// open when the relay dies (an RTSP pull) ends with it too: children start with a parent-death
// signal.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { spawnPeer, until } from './helpers.mjs';
import { camera, hasRtspServer } from './rtsp-camera.mjs';
import { freePort, startNodeProcess } from './cluster-helpers.mjs';
import { X264_LOW_LATENCY, ffmpegSource } from './ffmpeg-source.mjs';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

const children = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const comm = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
// Gone, or a zombie nobody has reaped yet.
const alive = (pid) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

test.serial('the relay killed while an RTMP publisher is spliced and stalled: halfsec-splice and the ingest child end with it', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing (scripts/test-deps.sh installs it)');
  t.timeout(60000);
  const rtmp = await freePort();
  const node = await startNodeProcess(t, undefined, 'rtmp-death', { extra: ['--rtmp-port', String(rtmp)] });
  const relay = node.relayPid();
  const pub = ffmpegSource(t, ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-t', '40', ...X264_LOW_LATENCY, '-f', 'flv', `rtmp://127.0.0.1:${rtmp}/live/death`], 40);
  let splice, ingest;
  const found = await until(() => {
    const kids = children(relay);
    splice = kids.find((p) => comm(p) === 'halfsec-splice');
    ingest = kids.find((p) => comm(p) === 'ffmpeg');
    return splice !== undefined && ingest !== undefined;
  }, 20000, 100);
  t.true(found, `a halfsec-splice and an ffmpeg child of the relay (children: ${children(relay).map((p) => `${p}:${comm(p)}`).join(' ')})`);
  process.kill(-pub.p.pid, 'SIGSTOP'); // the publisher stalls; teardown's SIGKILL still ends it
  process.kill(relay, 'SIGKILL');
  t.true(await until(() => !alive(splice), 5000, 100), 'halfsec-splice ended with the relay');
  t.true(await until(() => !alive(ingest), 8000, 100), 'the ingest child ended once the splice closed its connection');
});

test.serial('the relay killed while it pulls an RTSP camera that has stalled (the child\'s input stays open): the FFmpeg child ends with it (parent-death signal)', async (t) => {
  if (!hasFfmpeg || !hasRtspServer) return t.fail('ffmpeg or GStreamer RTSP server missing (scripts/test-deps.sh installs them)');
  t.timeout(60000);
  const camPort = await freePort();
  const cam = camera(t, camPort);
  t.true(await until(() => cam.includes('ready'), 10000), 'the RTSP server is up');
  const node = await startNodeProcess(t, undefined, 'rtsp-death', { extra: ['--rtsp-sources', `cam=rtsp://127.0.0.1:${camPort}/cam`] });
  const relay = node.relayPid();
  const viewer = spawnPeer(t, 'media-viewer.mjs', [`${node.url}/whep/cam`, ''], { limitSec: 40 });
  await viewer.waitFor('answered');
  let ingest;
  const found = await until(() => (ingest = children(relay).find((p) => comm(p) === 'ffmpeg')) !== undefined && cam.includes('client'), 15000, 100);
  t.true(found, `an ffmpeg child of the relay pulls the camera (children: ${children(relay).map((p) => `${p}:${comm(p)}`).join(' ')})`);
  // The camera stalls (its connection open, no data), so the child has nothing to write and
  // would not notice the relay's end through its output.
  cam.stop();
  process.kill(relay, 'SIGKILL');
  const killedAt = Date.now();
  t.true(await until(() => !alive(ingest), 3000, 50), 'the RTSP ingest child ended with the relay');
  t.log(`ended ${Date.now() - killedAt} ms after the relay was killed`);
});
