// RTMP publish through FFmpeg children: Debian's ffmpeg publishes testsrc2 + sine (H.264 + AAC)
// to rtmp://127.0.0.1:<port>/live/<stream>; node-datachannel viewers receive H.264 and Opus and
// FFmpeg decodes the H.264 they got. A wrong token is refused before the publish reaches FFmpeg;
// a killed child or a vanished publisher ends the stream; audio-less input has a clear outcome;
// the ingest limit holds; no child, session or native peer is left behind.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { spawnPeer, startRelay, sleep, until } from './helpers.mjs';
import { X264_LOW_LATENCY, ffmpegSource } from './ffmpeg-source.mjs';

const SECRET = 'an-ingest-test-secret-of-at-least-32-bytes';
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
const rtmpPort = () => 20000 + Math.floor(Math.random() * 9000);

/** An FFmpeg RTMP publisher (its own process group, killed at teardown). */
function publish(t, url, { audio = true, video = true, seconds = 40 } = {}) {
  const graph = [video && 'testsrc2=size=640x360:rate=30[out0]', audio && `sine=frequency=440:sample_rate=48000[out${video ? 1 : 0}]`].filter(Boolean).join(';');
  const args = ['-re', '-f', 'lavfi', '-i', graph, '-t', String(seconds)];
  if (video) args.push(...X264_LOW_LATENCY);
  if (audio) args.push('-c:a', 'aac', '-b:a', '96k');
  return ffmpegSource(t, [...args, '-f', 'flv', url], seconds);
}

function ffmpegChildren() {
  return spawnSync('pgrep', ['-P', String(process.pid), '^(ffmpeg|halfsec-splice)$'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

async function nothingLeft(t, relay) {
  await until(() => relay.ingests.count === 0 && relay.stats().streams === 0 && relay.stats().workers.every((w) => w.peers === 0) && ffmpegChildren().length === 0, 8000);
  t.is(relay.ingests.count, 0, 'no ingest child tracked');
  t.is(relay.stats().streams, 0, 'no stream left');
  t.is(relay.stats().sessions, 0, 'no session left');
  t.deepEqual(relay.stats().workers.map((w) => w.peers), [0, 0], 'no native peer left');
  t.deepEqual(ffmpegChildren(), [], 'no FFmpeg or halfsec-splice child left');
  if (relay.rtmp) t.is(relay.rtmp.stats().splicing, 0, 'no splice left');
}

test.serial('RTMP: two publishers on one port; viewers get H.264 and Opus; FFmpeg decodes the frames; a publisher leaving ends its stream', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing (scripts/test-deps.sh installs it)');
  t.timeout(55000);
  const port = rtmpPort();
  const { relay, url } = await startRelay(t, { rtmpPort: port, republishGraceMs: 0 });
  const pubA = publish(t, `rtmp://127.0.0.1:${port}/live/rtmpa`);
  const pubB = publish(t, `rtmp://127.0.0.1:${port}/live/rtmpb`);
  t.true(await until(() => relay.stats().publishers === 2, 15000), 'both ingest peers got media');
  t.is(relay.ingests.count, 2);
  const out = join(mkdtempSync(join(tmpdir(), 'ingest-rtmp-')), 'a.h264');
  t.teardown(() => rmSync(out, { force: true }));
  const va = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/rtmpa`, out], { limitSec: 50, env: { VIEWER_PORT_BASE: '30000' } });
  const vb = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/rtmpb`, ''], { limitSec: 50, env: { VIEWER_PORT_BASE: '31000' } });
  await Promise.all([va.waitFor('answered'), vb.waitFor('answered')]);
  let ra, rb;
  await until(async () => {
    ra = await va.request('report', 'report');
    rb = await vb.request('report', 'report');
    return ra.video.packets > 150 && ra.audio.packets > 50 && rb.video.packets > 150 && rb.audio.packets > 50;
  }, 15000, 300);
  for (const [name, r] of [['a', ra], ['b', rb]]) {
    t.true(r.video.packets > 150 && r.audio.packets > 50, `${name}: video ${r.video.packets}, audio ${r.audio.packets} packets`);
    t.true((r.nalTypes[7] ?? 0) > 0 && (r.nalTypes[8] ?? 0) > 0 && (r.nalTypes[5] ?? 0) > 0, `${name}: SPS, PPS, IDR in-band: ${JSON.stringify(r.nalTypes)}`);
  }
  // The viewer writes its Annex B file on each report: ask for a fresh one before every decode.
  // A loaded machine encodes testsrc2 slowly, so wait for 30 frames (bounded) rather than for a
  // packet count that may hold fewer.
  const decoded = async () => (await va.request('report', 'report'), spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'h264', '-i', out, '-f', 'framecrc', '-'], { encoding: 'utf8', timeout: 15000 }).stdout.split('\n').filter((l) => /^0,/.test(l)).length);
  let frames = 0;
  await until(async () => (frames = await decoded()) >= 30, 15000, 500);
  t.true(frames >= 30, `FFmpeg decoded ${frames} frames a viewer received over RTMP → WebRTC`);
  // After the publish, halfsec-splice carries the bytes: JavaScript read the handshake and the
  // commands (~4 KiB a connection), not the media (well over 150 KiB of video each by now).
  const rs = relay.rtmp.stats();
  t.is(rs.spliced, 2, 'both connections handed to halfsec-splice');
  t.is(rs.splicing, 2);
  t.true(rs.bytesReadByJs < 2 * 16384, `JavaScript read ${rs.bytesReadByJs} bytes of the two publishers`);
  // The publisher goes away: its stream ends (grace 0), the other one keeps going.
  const stopped = new Promise((r) => relay.on('stream:stop', (e) => e.stream === 'rtmpa' && r(e)));
  process.kill(-pubA.p.pid, 'SIGKILL');
  t.truthy(await Promise.race([stopped, sleep(5000)]), 'stream a ended when its publisher vanished');
  t.true(relay.stats().streams === 1 && relay.ingests.count === 1);
  process.kill(-pubB.p.pid, 'SIGKILL');
  va.send('exit');
  vb.send('exit');
  await nothingLeft(t, relay);
});

test.serial('RTMP: a wrong or missing token is refused before any media; a good one publishes', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(40000);
  const port = rtmpPort();
  const { relay } = await startRelay(t, { rtmpPort: port, republishGraceMs: 0, tokenSecret: SECRET });
  const starts = [];
  relay.on('stream:start', (e) => starts.push(e.stream));
  const other = await new SignJWT({ stream: 'other', action: 'publish' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
  for (const key of ['keyed', `keyed?token=${other}`, 'keyed?token=garbage']) {
    const pub = publish(t, `rtmp://127.0.0.1:${port}/live/${key}`, { seconds: 10 });
    const code = await Promise.race([pub.exited, sleep(12000).then(() => 'running')]);
    t.not(code, 0, `the publisher failed (${key.slice(0, 20)}): ${pub.stderr.slice(-200)}`);
    t.not(code, 'running');
  }
  t.deepEqual(starts, [], 'no stream started for a refused key');
  t.is(relay.stats().workers.reduce((n, w) => n + w.rxPackets, 0), 0, 'no media reached the data plane');
  await nothingLeft(t, relay);
  const good = await new SignJWT({ stream: 'keyed', action: 'publish' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
  const pub = publish(t, `rtmp://127.0.0.1:${port}/live/keyed?token=${good}`, { seconds: 20 });
  t.true(await until(() => relay.stats().publishers === 1, 15000), 'the publish with a good token went live');
  t.deepEqual(starts, ['keyed']);
  // Its child killed: the stream ends like a vanished WHIP publisher's, and the publisher is cut off.
  const stopped = new Promise((r) => relay.once('stream:stop', r));
  process.kill(relay.ingests.list()[0].pid, 'SIGKILL');
  t.truthy(await Promise.race([stopped, sleep(5000)]), 'the stream ended when its child died');
  t.not(await Promise.race([pub.exited, sleep(8000).then(() => 'running')]), 'running', 'the publisher was disconnected');
  await nothingLeft(t, relay);
});

test.serial('RTMP: audio-less and video-less inputs run with what they have; the ingest limit refuses extra publishers', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(55000);
  const port = rtmpPort();
  const { relay, url } = await startRelay(t, { rtmpPort: port, republishGraceMs: 0, maxIngests: 1 });
  for (const [name, opts, kind] of [['mute', { audio: false }, 'video'], ['blind', { video: false }, 'audio']]) {
    const pub = publish(t, `rtmp://127.0.0.1:${port}/live/${name}`, { ...opts, seconds: 20 });
    t.true(await until(() => relay.stats().publishers === 1, 15000), `${name}: live`);
    const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/${name}`, ''], { limitSec: 30 });
    await v.waitFor('answered');
    let r;
    await until(async () => {
      r = await v.request('report', 'report');
      return r[kind].packets > 40;
    }, 10000, 300);
    t.true(r[kind].packets > 40, `${name}: ${kind} arrived (${r[kind].packets} packets)`);
    t.is(r[kind === 'video' ? 'audio' : 'video'].packets, 0, `${name}: nothing of the missing kind`);
    v.send('exit');
    process.kill(-pub.p.pid, 'SIGKILL');
    await nothingLeft(t, relay);
  }
  // maxIngests 1: a second publisher is refused while the first runs.
  const first = publish(t, `rtmp://127.0.0.1:${port}/live/one`, { seconds: 20 });
  t.true(await until(() => relay.stats().publishers === 1, 15000));
  const second = publish(t, `rtmp://127.0.0.1:${port}/live/two`, { seconds: 10 });
  t.not(await Promise.race([second.exited, sleep(12000).then(() => 'running')]), 'running', 'the second publisher was refused');
  t.is(relay.stats().streams, 1);
  process.kill(-first.p.pid, 'SIGKILL');
  await nothingLeft(t, relay);
});

test.serial('RTMP: a source with B-frames is refused with a clear error; with ingestReencodeVideo it plays', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(50000);
  for (const reencode of [false, true]) {
    const port = rtmpPort();
    const { relay, url } = await startRelay(t, { rtmpPort: port, republishGraceMs: 5000, ingestReencodeVideo: reencode });
    const stops = [];
    relay.on('stream:stop', (e) => stops.push(e.reason));
    const graph = 'testsrc2=size=640x360:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]';
    // An encoder left at x264's defaults: B-frames on.
    const { p } = ffmpegSource(t, ['-re', '-f', 'lavfi', '-i', graph, '-t', '15', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '3', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/bframes`], 15);
    if (!reencode) {
      t.true(await until(() => stops.length > 0, 15000), 'the stream ended');
      t.deepEqual(stops, ['b-frames'], 'ended for B-frames at once (no republish grace)');
    } else {
      t.true(await until(() => relay.stats().publishers === 1, 15000));
      const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/bframes`, ''], { limitSec: 30 });
      await v.waitFor('answered');
      let r;
      await until(async () => {
        r = await v.request('report', 'report');
        return r.video.packets > 100 && (r.nalTypes[5] ?? 0) > 0;
      }, 10000, 300);
      t.true(r.video.packets > 100, `re-encoded video arrived: ${r.video.packets}`);
      t.deepEqual(stops, []);
      v.send('exit');
    }
    process.kill(-p.pid, 'SIGKILL');
    await nothingLeft(t, relay);
  }
});

test.serial('RTMP: non-RTMP bytes are refused at once; one address may hold 4 connections before publishing; nothing is left', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(30000);
  const { connect } = await import('node:net');
  const port = rtmpPort();
  const { relay } = await startRelay(t, { rtmpPort: port });
  const open = () => new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const closed = (s) => new Promise((r) => (s.destroyed ? r() : s.once('close', r)));
  // An HTTP request to the RTMP port: not version 3, closed, its child gone.
  const junk = await open();
  junk.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.truthy(await Promise.race([closed(junk).then(() => true), sleep(3000)]), 'a non-RTMP connection is closed');
  await until(() => relay.ingests.count === 0, 5000);
  t.is(relay.ingests.count, 0);
  // Four silent connections hold four children; the fifth is refused at once.
  const held = [];
  for (let i = 0; i < 4; i++) held.push(await open());
  await until(() => relay.ingests.count === 4, 5000);
  t.is(relay.ingests.count, 4);
  const fifth = await open();
  t.truthy(await Promise.race([closed(fifth).then(() => true), sleep(3000)]), 'the fifth connection from one address is closed');
  t.is(relay.ingests.count, 4);
  for (const s of held) s.destroy();
  await nothingLeft(t, relay);
});

test.serial("RTMP: the README's GStreamer recipe (flvmux + rtmp2sink, x264enc, avenc_aac) publishes; a viewer gets H.264 and Opus", async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(50000);
  const port = rtmpPort();
  const { relay, url } = await startRelay(t, { rtmpPort: port, republishGraceMs: 0 });
  // The pipeline as README.md gives it, with this test's port and stream.
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const recipe = /```sh\n(gst-launch-1\.0 flvmux[\s\S]*?)```/.exec(readme)?.[1];
  t.truthy(recipe, 'README has the GStreamer RTMP recipe');
  const args = recipe.replace(/\\\n/g, ' ').replace('rtmp://127.0.0.1:1935/live/live', `rtmp://127.0.0.1:${port}/live/gst`).trim().split(/\s+/).slice(1)
    .map((a) => a.replace(/^(location=)"(.*)"$/, '$1$2'));
  const gst = spawn('timeout', ['-s', 'KILL', '40', 'gst-launch-1.0', '-q', ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let gstErr = '';
  gst.stderr.on('data', (d) => (gstErr += d));
  t.teardown(() => {
    try {
      process.kill(-gst.pid, 'SIGKILL');
    } catch {}
  });
  t.true(await until(() => relay.stats().publishers === 1, 20000), `GStreamer's publish went live: ${gstErr.slice(-500)}`);
  const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/gst`, ''], { limitSec: 30 });
  await v.waitFor('answered');
  let r;
  await until(async () => {
    r = await v.request('report', 'report');
    return r.video.packets > 60 && r.audio.packets > 40 && (r.nalTypes[5] ?? 0) > 0;
  }, 15000, 300);
  t.true(r.video.packets > 60 && (r.nalTypes[5] ?? 0) > 0, `H.264 from GStreamer: ${r.video.packets} packets ${JSON.stringify(r.nalTypes)}`);
  t.true(r.audio.packets > 40, `its AAC as Opus: ${r.audio.packets} packets`);
  v.send('exit');
  process.kill(-gst.pid, 'SIGKILL');
  await nothingLeft(t, relay);
});

test.serial('RTMP over the WebSocket: a viewer signalled on /ws gets H.264 and Opus; its publisher killed, it is told inactive once; a republish within the grace brings active and media back on the same session', async (t) => {
  if (!hasFfmpeg) return t.fail('ffmpeg missing');
  t.timeout(70000);
  const port = rtmpPort();
  const { relay, url } = await startRelay(t, { rtmpPort: port, republishGraceMs: 15000 });
  const first = publish(t, `rtmp://127.0.0.1:${port}/live/wsv`);
  t.true(await until(() => relay.stats().publishers === 1, 15000), 'the RTMP stream went live');
  const metrics = await (await fetch(`${url}/metrics`)).text();
  t.regex(metrics, /^halfsec_publishers 1$/m, 'counted as a publisher in /metrics, as a WHIP one is');
  const v = spawnPeer(t, 'media-viewer.mjs', [`${url.replace(/^http/, 'ws')}/ws?stream=wsv`, ''], { limitSec: 60, env: { VIEWER_PORT_BASE: '32000' } });
  await v.waitFor('answered');
  let r;
  await until(async () => ((r = await v.request('report', 'report')), r.video.packets > 100 && r.audio.packets > 30), 15000, 300);
  t.true(r.video.packets > 100 && r.audio.packets > 30, `over the WebSocket: video ${r.video.packets}, audio ${r.audio.packets} packets`);
  t.true((r.nalTypes[5] ?? 0) > 0, 'an IDR arrived');
  const ws = (type) => v.messages.filter((m) => m.event === 'ws' && m.type === type);
  t.is(ws('active').length, 1);

  const killedAt = Date.now();
  process.kill(-first.p.pid, 'SIGKILL');
  t.true(await until(() => ws('inactive').length > 0, 8000, 100), 'the viewer is told the stream lost its publisher');
  t.log(`inactive ${ws('inactive')[0].at - killedAt} ms after the RTMP publisher was killed`);
  t.is(relay.stats().streams, 1, 'the stream waits out the republish grace');
  const before = (await v.request('report', 'report')).video.packets;

  publish(t, `rtmp://127.0.0.1:${port}/live/wsv`);
  t.true(await until(() => ws('active').length === 2, 20000, 100), 'a republish within the grace: active again');
  t.true(await until(async () => (await v.request('report', 'report')).video.packets > before + 100, 15000, 300), 'and media flows to the same session again');
  t.is(ws('inactive').length, 1, 'inactive was said once');
  t.deepEqual(v.messages.filter((m) => m.event === 'ws' && m.type === 'stopped'), [], 'the view was never stopped');
});
