// SRT publish: Debian's ffmpeg (libsrt) sends testsrc2 + sine as MPEG-TS to the relay's SRT
// listener; a wrong passphrase is refused in the SRT handshake (no stream, no media); with the
// right one node-datachannel viewers get H.264 and Opus; when the caller leaves the stream ends
// and the port listens again for the next caller. Nothing is left behind.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { spawnPeer, startRelay, sleep, until } from './helpers.mjs';
import { X264_LOW_LATENCY, ffmpegSource } from './ffmpeg-source.mjs';

const hasSrt = /\bsrt\b/.test(spawnSync('ffmpeg', ['-hide_banner', '-protocols'], { encoding: 'utf8' }).stdout ?? '');
const PASS = 'ingest-test-passphrase';

function publishSrt(t, port, passphrase, seconds = 20) {
  const args = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]', '-t', String(seconds),
    ...X264_LOW_LATENCY, '-c:a', 'aac', '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=publish:live&passphrase=${passphrase}`];
  return ffmpegSource(t, args, seconds);
}

const ingestChildren = (relay) => relay.ingests.count;

test.serial('SRT: a wrong passphrase is refused in the handshake; the right one publishes H.264 + Opus to viewers; the port listens again after the caller leaves', async (t) => {
  if (!hasSrt) return t.fail('ffmpeg without libsrt (Debian\'s has it)');
  t.timeout(55000);
  const port = 20000 + Math.floor(Math.random() * 9000);
  const { relay, url } = await startRelay(t, { republishGraceMs: 0, srtListeners: { live: { port, passphrase: PASS } } });
  const starts = [];
  relay.on('stream:start', (e) => starts.push(e.stream));
  await sleep(500);
  const wrong = publishSrt(t, port, 'not-the-passphrase', 5);
  t.not(await Promise.race([wrong.exited, sleep(10000).then(() => 'running')]), 'running', 'the caller with a wrong passphrase failed');
  t.deepEqual(starts, [], 'no stream for a wrong passphrase');
  t.is(relay.stats().workers.reduce((n, w) => n + w.rxPackets, 0), 0, 'no media reached the data plane');
  for (const round of [1, 2]) {
    const pub = publishSrt(t, port, PASS, 20);
    t.true(await until(() => relay.stats().publishers === 1, 15000), `round ${round}: live`);
    const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/live`, ''], { limitSec: 40 });
    await v.waitFor('answered');
    let r;
    await until(async () => {
      r = await v.request('report', 'report');
      return r.video.packets > 100 && r.audio.packets > 50 && (r.nalTypes[5] ?? 0) > 0;
    }, 12000, 300);
    t.true(r.video.packets > 100 && (r.nalTypes[5] ?? 0) > 0, `round ${round}: H.264 over SRT → WebRTC: ${r.video.packets} packets ${JSON.stringify(r.nalTypes)}`);
    t.true(r.audio.packets > 50, `round ${round}: Opus ${r.audio.packets} packets`);
    const stopped = new Promise((res) => relay.once('stream:stop', res));
    process.kill(-pub.p.pid, 'SIGKILL');
    t.truthy(await Promise.race([stopped, sleep(8000)]), `round ${round}: the stream ended when the caller left`);
    v.send('exit');
    t.true(await until(() => ingestChildren(relay) === 0 && relay.stats().workers.every((w) => w.peers === 0), 8000), `round ${round}: nothing left`);
  }
  t.deepEqual(starts, ['live', 'live']);
});
