// RTSP pull on demand: GStreamer's RTSP server (a local "camera", H.264 + AAC) is pulled by an
// FFmpeg child when the first viewer asks for the registered stream, and dropped after the last
// viewer leaves (the pull linger); nothing is left behind. Video-only and audio-only cameras play
// what they have; a camera that goes away while watched ends its stream.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { spawnPeer, startRelay, sleep, until } from './helpers.mjs';
import { camera, hasRtspServer } from './rtsp-camera.mjs';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

const ffmpegChildren = () => spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

test.serial('a registered RTSP source is pulled for its first viewer (H.264 and Opus arrive) and dropped after the last leaves', async (t) => {
  if (!hasFfmpeg || !hasRtspServer) return t.fail('ffmpeg or GStreamer RTSP server missing (scripts/test-deps.sh installs them)');
  t.timeout(55000);
  const port = 20000 + Math.floor(Math.random() * 9000);
  const cam = camera(t, port);
  t.true(await until(() => cam.includes('ready'), 10000), 'the RTSP server is up');
  const { relay, url } = await startRelay(t, { pullLingerMs: 1500, republishGraceMs: 0, rtspSources: { cam: `rtsp://127.0.0.1:${port}/cam` } });
  t.throws(() => relay.rtsp.register('bad', 'http://example.com/'), { message: /rtsp:\/\// });
  await sleep(500);
  t.false(cam.includes('client'), 'nothing pulled before a viewer asked');
  t.is(relay.stats().streams, 0);
  const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/cam`, ''], { limitSec: 50 });
  await v.waitFor('answered');
  t.true(cam.includes('client') || (await until(() => cam.includes('client'), 5000)), 'the relay pulled the camera');
  let r;
  await until(async () => {
    r = await v.request('report', 'report');
    return r.video.packets > 100 && r.audio.packets > 50 && (r.nalTypes[5] ?? 0) > 0;
  }, 15000, 300);
  t.true(r.video.packets > 100 && (r.nalTypes[5] ?? 0) > 0, `video from the camera: ${r.video.packets} packets, NAL types ${JSON.stringify(r.nalTypes)}`);
  t.true(r.audio.packets > 50, `AAC from the camera as Opus: ${r.audio.packets} packets`);
  t.is(relay.ingests.count, 1);
  // The last viewer leaves: after the linger the pull stops.
  const stopped = new Promise((res) => relay.once('stream:stop', res));
  t.is((await v.request('leave', 'left')).status, 200);
  const stop = await Promise.race([stopped, sleep(8000)]);
  t.is(stop?.reason, 'no viewers left');
  await until(() => relay.ingests.count === 0 && ffmpegChildren().length === 0 && relay.stats().workers.every((w) => w.peers === 0), 5000);
  t.is(relay.ingests.count, 0);
  t.deepEqual(ffmpegChildren(), []);
  t.deepEqual(relay.stats().workers.map((w) => w.peers), [0, 0]);
  t.is(relay.stats().streams, 0);
});

test.serial('RTSP: a camera without audio, and an audio-only source, play what they have; a camera that goes away ends its stream with nothing left', async (t) => {
  if (!hasFfmpeg || !hasRtspServer) return t.fail('ffmpeg or GStreamer RTSP server missing (scripts/test-deps.sh installs them)');
  t.timeout(55000);
  const port = 20000 + Math.floor(Math.random() * 9000);
  const cam = camera(t, port);
  t.true(await until(() => cam.includes('ready'), 10000), 'the RTSP server is up');
  const { relay, url } = await startRelay(t, { pullLingerMs: 500, republishGraceMs: 0, rtspSources: { camv: `rtsp://127.0.0.1:${port}/cam-video`, cama: `rtsp://127.0.0.1:${port}/cam-audio` } });
  const nothingLeft = async () => {
    await until(() => relay.ingests.count === 0 && ffmpegChildren().length === 0 && relay.stats().streams === 0 && relay.stats().workers.every((w) => w.peers === 0), 8000);
    t.is(relay.ingests.count, 0, 'no child tracked');
    t.deepEqual(ffmpegChildren(), [], 'no FFmpeg child left');
    t.is(relay.stats().streams, 0, 'no stream left');
    t.deepEqual(relay.stats().workers.map((w) => w.peers), [0, 0], 'no native peer left');
  };
  for (const [stream, kind] of [['camv', 'video'], ['cama', 'audio']]) {
    const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/${stream}`, ''], { limitSec: 40 });
    await v.waitFor('answered');
    let r;
    await until(async () => {
      r = await v.request('report', 'report');
      return r[kind].packets > 40;
    }, 15000, 300);
    t.true(r[kind].packets > 40, `${stream}: ${kind} arrived (${r[kind].packets} packets)`);
    t.is(r[kind === 'video' ? 'audio' : 'video'].packets, 0, `${stream}: nothing of the missing kind`);
    t.is((await v.request('leave', 'left')).status, 200);
    await nothingLeft();
  }
  // The camera vanishes while watched (its server killed): the child exits or stalls and the
  // stream ends as a vanished WHIP publisher's does.
  const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/camv`, ''], { limitSec: 40 });
  await v.waitFor('answered');
  t.true(await until(() => relay.stats().publishers === 1, 15000), 'camv live');
  const stopped = new Promise((res) => relay.once('stream:stop', res));
  cam.kill();
  const stop = await Promise.race([stopped, sleep(12000)]);
  t.truthy(stop, 'the stream ended when its camera went away');
  t.log(`ended: ${stop?.reason}`);
  v.send('exit');
  await nothingLeft();
});
