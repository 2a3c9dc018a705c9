// The loopback-only ingest peer: an FFmpeg child writes plain RTP to the data plane's AF_UNIX
// socket; only that child's pid and the SSRCs the relay assigned count. Viewers (node-datachannel)
// receive H.264 and Opus; FFmpeg decodes the received H.264. A forger on the same socket feeds
// nothing; a killed child ends the stream like a vanished WHIP publisher, and so does a stalled one.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnPeer, startRelay, sleep, until } from './helpers.mjs';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
// One lavfi input with both kinds (out0, out1), as an RTMP, SRT or RTSP source is one input.
const lavfi = (audio = true, video = true) => [
  '-re',
  '-f',
  'lavfi',
  '-i',
  [video && 'testsrc2=size=640x360:rate=30[out0]', audio && `sine=frequency=440:sample_rate=48000[out${video ? 1 : 0}]`].filter(Boolean).join(';'),
];

function childPids() {
  const r = spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

test.serial('an FFmpeg child feeds a stream through the ingest peer: viewers get H.264 and Opus, FFmpeg decodes the frames', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing (scripts/test-deps.sh installs it)');
  t.timeout(50000);
  const { relay, url } = await startRelay(t, { ingestReencodeVideo: true, republishGraceMs: 0 });
  const started = [];
  relay.on('stream:start', (e) => started.push(e.stream));
  relay.ingests.start('ing', { kind: 'ffmpeg', input: lavfi(), kinds: { video: true, audio: true } });
  t.deepEqual(started, ['ing']);
  // The socket lives in a directory only the relay's user may enter.
  const [{ socketPath }] = relay.ingests.list();
  t.is(statSync(dirname(socketPath)).mode & 0o777, 0o700, 'the socket directory is 0700');
  await until(() => relay.stats().publishers === 1, 10000);
  t.is(relay.stats().publishers, 1, 'the ingest peer reported connected on its first packet');
  const out = join(mkdtempSync(join(tmpdir(), 'ingest-test-')), 'v.h264');
  t.teardown(() => rmSync(out, { force: true }));
  const viewer = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/ing`, out], { limitSec: 50 });
  await viewer.waitFor('answered');
  let report;
  await until(async () => {
    report = await viewer.request('report', 'report');
    return report.video.packets > 150 && report.audio.packets > 50 && (report.nalTypes[5] ?? 0) > 0;
  }, 15000, 300);
  t.true(report.video.packets > 150, `video packets ${report.video.packets}`);
  t.true(report.audio.packets > 50, `audio packets ${report.audio.packets}`);
  t.true((report.nalTypes[7] ?? 0) > 0 && (report.nalTypes[8] ?? 0) > 0 && (report.nalTypes[5] ?? 0) > 0, `SPS, PPS and IDR arrived: ${JSON.stringify(report.nalTypes)}`);
  t.is(report.audio.badToc, 0);
  // The viewer rewrites its Annex B file on each report; a slow encoder may need a few more.
  let frames = 0;
  await until(async () => {
    await viewer.request('report', 'report');
    const dec = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'h264', '-i', out, '-f', 'framecrc', '-'], { encoding: 'utf8', timeout: 15000 });
    return (frames = dec.stdout.split('\n').filter((l) => /^0,/.test(l)).length) >= 30;
  }, 15000, 500);
  t.true(frames >= 30, `FFmpeg decoded ${frames} frames of what the viewer received`);

  // A killed child: the stream ends (grace 0), its peer, socket and child are gone.
  const stopped = new Promise((resolve) => relay.once('stream:stop', resolve));
  const [info] = relay.ingests.list();
  process.kill(info.pid, 'SIGKILL');
  const stop = await Promise.race([stopped, sleep(5000).then(() => undefined)]);
  t.truthy(stop, 'the stream ended when its child died');
  t.is(relay.ingests.count, 0);
  await until(() => relay.stats().workers.every((w) => w.peers === 0), 5000);
  t.deepEqual(relay.stats().workers.map((w) => w.peers), [0, 0], 'no native peer left');
  t.deepEqual(childPids(), [], 'no FFmpeg child left');
  viewer.send('exit');
});

test.serial('datagrams from any other process are dropped; only the child and its SSRCs feed the stream', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(40000);
  const { relay } = await startRelay(t, { ingestReencodeVideo: true, republishGraceMs: 0 });
  // The child sends nothing (it waits on an input that never comes) while a forger writes RTP.
  relay.ingests.start('quiet', { kind: 'ffmpeg', input: ['-f', 'mpegts', '-i', `tcp://127.0.0.1:${20000 + (process.pid % 5000)}?listen=1`], kinds: { video: true, audio: false } });
  // This relay's socket only (other test files' relays may run meanwhile).
  const socks = relay.ingests.list().map((i) => i.socketPath);
  t.true(socks.every((p) => existsSync(p)));
  t.true(socks.length >= 1);
  const before = relay.stats().workers.reduce((n, w) => n + w.dropped, 0);
  // Another process (same user, even root) writes plausible RTP of every SSRC it can guess.
  const forge = spawn('python3', ['-c', `
import socket, struct, sys
for path in sys.argv[1:]:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(path)
    except OSError:
        continue
    for i in range(200):
        s.send(struct.pack('>BBHII', 0x80, 102, i, i * 3000, i + 1) + bytes([0x65]) + bytes(500))
`, ...socks], { stdio: 'ignore' });
  await new Promise((r) => forge.on('exit', r));
  await until(() => relay.stats().workers.reduce((n, w) => n + w.dropped, 0) - before >= 200, 3000);
  const dropped = relay.stats().workers.reduce((n, w) => n + w.dropped, 0) - before;
  t.true(dropped >= 200, `forged datagrams dropped: ${dropped}`);
  t.is(relay.stats().publishers, 0, 'the forger never made the ingest peer live');
  relay.ingests.stop('quiet');
  await until(() => !relay.ingests.count && relay.stats().streams === 0, 5000);
  t.is(relay.stats().streams, 0);
  t.deepEqual(childPids(), []);
  t.false(socks.some((s) => existsSync(s)), 'the socket file is unlinked');
});

test.serial('a child that stalls (SIGSTOP) ends its stream through the publisher media timeout; the relay kills it and leaves nothing', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing (scripts/test-deps.sh installs it)');
  t.timeout(40000);
  const { relay } = await startRelay(t, { ingestReencodeVideo: true, republishGraceMs: 0, publisherMediaTimeoutMs: 2000 });
  relay.ingests.start('stall', { kind: 'ffmpeg', input: lavfi(), kinds: { video: true, audio: true } });
  t.true(await until(() => relay.stats().publishers === 1, 15000), 'live');
  const [info] = relay.ingests.list();
  const stopped = new Promise((resolve) => relay.once('stream:stop', resolve));
  const at = Date.now();
  process.kill(info.pid, 'SIGSTOP'); // alive, sending nothing: a hung encoder or a stuck source
  t.teardown(() => {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {}
  });
  const stop = await Promise.race([stopped, sleep(10000).then(() => undefined)]);
  t.truthy(stop, 'the stream ended while its child was alive but silent');
  t.log(`ended after ${Date.now() - at} ms: ${stop?.reason}`);
  t.true(await until(() => relay.ingests.count === 0 && childPids().length === 0 && relay.stats().workers.every((w) => w.peers === 0), 5000));
  t.deepEqual(childPids(), [], 'the stopped child was killed');
  t.deepEqual(relay.stats().workers.map((w) => w.peers), [0, 0], 'no native peer left');
  t.is(relay.stats().streams, 0);
});
