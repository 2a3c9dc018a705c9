// SRT publish through halfsec-srt (libsrt): Debian's ffmpeg is the SRT caller. Two streams on
// ONE port, told apart by streamid=publish:<stream>:<token>; node-datachannel viewers get H.264
// and Opus and FFmpeg decodes the H.264 one of them received. Wrong stream ids and missing
// tokens are refused in the SRT handshake, bad tokens after the SRT accept but before any byte
// of media is read; a killed caller ends its stream and only its stream; nothing is left
// (children, FIFOs, sessions, native peers). The per-stream port (srtListeners, passphrase) and
// a relay without halfsec-srt are covered too, and halfsec-srt's own pending-caller bound.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { spawnPeer, startRelay, sleep, until } from './helpers.mjs';
import { X264_LOW_LATENCY, ffmpegSource } from './ffmpeg-source.mjs';
import { SRT_HELPER_PATH, SrtIngest } from '../dist/ingest/srt.js';

const hasSrt = /\bsrt\b/.test(spawnSync('ffmpeg', ['-hide_banner', '-protocols'], { encoding: 'utf8' }).stdout ?? '');
const hasHelper = existsSync(SRT_HELPER_PATH);
const SECRET = 'an-srt-ingest-test-secret-of-at-least-32-bytes';
const PASS = 'ingest-test-passphrase';
const srtPort = () => 20000 + Math.floor(Math.random() * 9000);

/** An FFmpeg SRT caller sending testsrc2 + sine (H.264 + AAC in MPEG-TS) to `query` on `port`. */
function caller(t, port, query, seconds = 30) {
  const args = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]', '-t', String(seconds),
    ...X264_LOW_LATENCY, '-c:a', 'aac', '-muxdelay', '0', '-pes_payload_size', '0', '-flush_packets', '1', '-f', 'mpegts', `srt://127.0.0.1:${port}?${query}`];
  return ffmpegSource(t, args, seconds);
}

const token = (stream, secret = SECRET, action = 'publish') =>
  new SignJWT({ stream, action }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2m').sign(new TextEncoder().encode(secret));

function ffmpegChildren() {
  return spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

async function nothingLeft(t, relay) {
  const clean = () => relay.ingests.count === 0 && relay.stats().streams === 0 && relay.srt.stats().connected === 0 && relay.stats().workers.every((w) => w.peers === 0) && ffmpegChildren().length === 0;
  await until(clean, 10000);
  t.is(relay.ingests.count, 0, 'no ingest child tracked');
  t.is(relay.stats().streams, 0, 'no stream left');
  t.is(relay.stats().sessions, 0, 'no session left');
  t.is(relay.srt.stats().connected, 0, 'no SRT caller left in halfsec-srt');
  t.deepEqual(relay.stats().workers.map((w) => w.peers), [0, 0], 'no native peer left');
  t.deepEqual(ffmpegChildren(), [], 'no FFmpeg child left');
  t.deepEqual(readdirSync(relay.srt.fifoDir), [], 'no FIFO left');
}

async function watch(t, url, stream, out, base, viewToken) {
  const env = { VIEWER_PORT_BASE: String(base), ...(viewToken ? { PEER_TOKEN: viewToken } : {}) };
  const v = spawnPeer(t, 'media-viewer.mjs', [`${url}/whep/${stream}`, out], { limitSec: 50, env });
  await v.waitFor('answered');
  return v;
}

test.serial('SRT: two streams on one port by streamid; bad ids, missing and wrong tokens refused before media; a killed caller ends only its stream; nothing left', async (t) => {
  if (!hasSrt) return t.fail("ffmpeg without libsrt (Debian's has it)");
  if (!hasHelper) return t.fail(`${SRT_HELPER_PATH} is not built: scripts/test-deps.sh installs libsrt-openssl-dev and runs scripts/build-srt.sh`);
  t.timeout(90000);
  const port = srtPort();
  const { relay, url } = await startRelay(t, { srtPort: port, republishGraceMs: 0, tokenSecret: SECRET });
  t.true((await relay.srt.ready).available, 'halfsec-srt listens');
  const starts = [];
  relay.on('stream:start', (e) => starts.push(e.stream));

  // Refused in the SRT handshake (reject reason; the caller never connects): no streamid, a
  // mode other than publish, a bad stream name, no token while the relay requires one.
  for (const query of ['latency=120000', 'streamid=play:srta', 'streamid=publish:bad/name', 'streamid=publish:srta']) {
    const c = caller(t, port, query, 5);
    t.not(await Promise.race([c.exited, sleep(10000).then(() => 'running')]), 'running', `the caller (${query}) failed`);
  }
  t.is(relay.srt.stats().refusedInHandshake, 4, 'four callers refused in the handshake');
  // Accepted by SRT, refused by the relay's token check before a byte of media is read.
  for (const tok of ['not.a.jwt', await token('other'), await token('srta', 'a-different-secret-of-at-least-32-bytes!!')]) {
    const c = caller(t, port, `streamid=publish:srta:${tok}`, 5);
    t.not(await Promise.race([c.exited, sleep(12000).then(() => 'running')]), 'running', 'the caller with a bad token was disconnected');
  }
  const s0 = relay.srt.stats();
  t.is(s0.refusedByRelay, 3, 'three callers refused by the token check');
  t.is(s0.refusedBytes, 0, 'no byte read from a refused caller');
  t.is(s0.accepted, 0);
  t.deepEqual(starts, [], 'no stream started');
  t.is(relay.stats().workers.reduce((n, w) => n + w.rxPackets, 0), 0, 'no media reached the data plane');
  await nothingLeft(t, relay);

  // Two publishers on the same port.
  const pubA = caller(t, port, `streamid=publish:srta:${await token('srta')}`, 40);
  const pubB = caller(t, port, `streamid=publish:srtb:${await token('srtb')}`, 40);
  t.true(await until(() => relay.stats().publishers === 2, 20000), 'both streams live');
  t.deepEqual([...starts].sort(), ['srta', 'srtb']);
  const out = join(mkdtempSync(join(tmpdir(), 'ingest-srt-')), 'a.h264');
  t.teardown(() => rmSync(out, { force: true }));
  const va = await watch(t, url, 'srta', out, 30000, await token('srta', SECRET, 'view'));
  const vb = await watch(t, url, 'srtb', '', 31000, await token('srtb', SECRET, 'view'));
  let ra, rb;
  await until(async () => {
    ra = await va.request('report', 'report');
    rb = await vb.request('report', 'report');
    return [ra, rb].every((r) => r.video.packets > 150 && r.audio.packets > 50 && (r.nalTypes[5] ?? 0) > 0);
  }, 20000, 300);
  for (const [name, r] of [['a', ra], ['b', rb]]) {
    t.true(r.video.packets > 150 && (r.nalTypes[7] ?? 0) > 0 && (r.nalTypes[5] ?? 0) > 0, `${name}: H.264 over SRT → WebRTC: ${r.video.packets} packets ${JSON.stringify(r.nalTypes)}`);
    t.true(r.audio.packets > 50, `${name}: Opus ${r.audio.packets} packets`);
  }
  const decoded = async () => (await va.request('report', 'report'), spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'h264', '-i', out, '-f', 'framecrc', '-'], { encoding: 'utf8', timeout: 15000 }).stdout.split('\n').filter((l) => /^0,/.test(l)).length);
  let frames = 0;
  await until(async () => (frames = await decoded()) >= 30, 15000, 500);
  t.true(frames >= 30, `FFmpeg decoded ${frames} frames a viewer received over SRT → WebRTC`);

  // The caller of a is killed (no SRT shutdown): a ends, b plays on.
  const stopped = new Promise((r) => relay.on('stream:stop', (e) => e.stream === 'srta' && r(e)));
  process.kill(-pubA.p.pid, 'SIGKILL');
  t.truthy(await Promise.race([stopped, sleep(8000)]), 'stream a ended when its caller was killed');
  t.true(await until(() => relay.srt.stats().connected === 1 && relay.ingests.count === 1, 5000), 'a\'s SRT connection and child are gone');
  const before = (await vb.request('report', 'report')).video.packets;
  await sleep(1500);
  t.true((await vb.request('report', 'report')).video.packets > before + 20, 'b still plays');
  t.is(relay.stats().streams, 1);
  process.kill(-pubB.p.pid, 'SIGKILL');
  va.send('exit');
  vb.send('exit');
  await nothingLeft(t, relay);
  t.is(relay.srt.stats().accepted, 2);
});

test.serial('SRT per-stream port (srtListeners): a wrong passphrase is refused in the handshake; the right one publishes; the port takes the next caller', async (t) => {
  if (!hasSrt || !hasHelper) return t.fail('ffmpeg with libsrt and halfsec-srt needed');
  t.timeout(60000);
  const port = srtPort();
  const { relay, url } = await startRelay(t, { republishGraceMs: 0, srtListeners: { live: { port, passphrase: PASS } } });
  t.true((await relay.srt.ready).available);
  const starts = [];
  relay.on('stream:start', (e) => starts.push(e.stream));
  const wrong = caller(t, port, 'streamid=publish:live&passphrase=not-the-passphrase', 5);
  t.not(await Promise.race([wrong.exited, sleep(10000).then(() => 'running')]), 'running', 'the caller with a wrong passphrase failed');
  t.deepEqual(starts, [], 'no stream for a wrong passphrase');
  t.is(relay.srt.stats().accepted, 0);
  for (const round of [1, 2]) {
    const pub = caller(t, port, `passphrase=${PASS}`, 30);
    t.true(await until(() => relay.stats().publishers === 1, 15000), `round ${round}: live`);
    const v = await watch(t, url, 'live', '', 30000);
    let r;
    await until(async () => {
      r = await v.request('report', 'report');
      return r.video.packets > 100 && r.audio.packets > 50 && (r.nalTypes[5] ?? 0) > 0;
    }, 12000, 300);
    t.true(r.video.packets > 100 && (r.nalTypes[5] ?? 0) > 0, `round ${round}: H.264 ${r.video.packets} packets`);
    t.true(r.audio.packets > 50, `round ${round}: Opus ${r.audio.packets} packets`);
    const stopped = new Promise((res) => relay.once('stream:stop', res));
    process.kill(-pub.p.pid, 'SIGKILL');
    t.truthy(await Promise.race([stopped, sleep(8000)]), `round ${round}: the stream ended when the caller left`);
    v.send('exit');
    await nothingLeft(t, relay);
  }
  t.deepEqual(starts, ['live', 'live']);
});

/** An SRT caller sending only video (H.264) or only audio (AAC), as a camera without a microphone or a radio feed. */
function oneKindCaller(t, port, query, { video, audio }, seconds) {
  const graph = [video && 'testsrc2=size=640x360:rate=30[out0]', audio && `sine=frequency=440:sample_rate=48000[out${video ? 1 : 0}]`].filter(Boolean).join(';');
  const args = ['-re', '-f', 'lavfi', '-i', graph, '-t', String(seconds), ...(video ? X264_LOW_LATENCY : []), ...(audio ? ['-c:a', 'aac'] : []),
    '-muxdelay', '0', '-pes_payload_size', '0', '-flush_packets', '1', '-f', 'mpegts', `srt://127.0.0.1:${port}?${query}`];
  return ffmpegSource(t, args, seconds);
}

test.serial('SRT: audio-less and video-less callers run with what they have, with the events and /metrics of a WHIP stream; the ingest limit refuses a second caller with nothing read', async (t) => {
  if (!hasSrt || !hasHelper) return t.fail('ffmpeg with libsrt and halfsec-srt needed');
  t.timeout(70000);
  const port = srtPort();
  const { relay, url } = await startRelay(t, { srtPort: port, republishGraceMs: 0, maxIngests: 1 });
  t.true((await relay.srt.ready).available, 'halfsec-srt listens');
  const events = [];
  for (const e of ['stream:start', 'stream:stop']) relay.on(e, (x) => events.push(`${e} ${x.stream}`));
  const metric = async (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
  let base = 47100;
  for (const [name, kinds, kind] of [['srtmute', { video: true, audio: false }, 'video'], ['srtblind', { video: false, audio: true }, 'audio']]) {
    const pub = oneKindCaller(t, port, `streamid=publish:${name}`, kinds, 25);
    t.true(await until(() => relay.stats().publishers === 1, 15000), `${name}: live`);
    t.is(await metric('halfsec_publishers'), 1, `${name}: counted in /metrics as a publisher`);
    t.is(await metric('halfsec_streams'), 1, `${name}: and as a stream`);
    const v = await watch(t, url, name, '', (base += 20));
    let r;
    await until(async () => {
      r = await v.request('report', 'report');
      return r[kind].packets > 40;
    }, 12000, 300);
    t.true(r[kind].packets > 40, `${name}: ${kind} arrived (${r[kind].packets} packets)`);
    t.is(r[kind === 'video' ? 'audio' : 'video'].packets, 0, `${name}: nothing of the missing kind`);
    if (name === 'srtmute') {
      // maxIngests 1: a second caller is accepted by SRT, refused by the relay (503), nothing read.
      const refusedBefore = relay.srt.stats().refusedByRelay;
      const second = caller(t, port, 'streamid=publish:srtsecond', 10);
      t.not(await Promise.race([second.exited, sleep(12000).then(() => 'running')]), 'running', 'the second caller was refused');
      t.is(relay.srt.stats().refusedByRelay, refusedBefore + 1);
      t.is(relay.srt.stats().refusedBytes, 0, 'nothing read from it');
      t.is(relay.stats().streams, 1);
    }
    v.send('exit');
    process.kill(-pub.p.pid, 'SIGKILL');
    await nothingLeft(t, relay);
  }
  t.deepEqual(events, ['stream:start srtmute', 'stream:stop srtmute', 'stream:start srtblind', 'stream:stop srtblind'], 'the events a WHIP stream has');
  t.is(await metric('halfsec_publishers'), 0);
});

test('SRT without halfsec-srt: the relay runs on and says why SRT is off', async (t) => {
  // Only the logger and the "not built" path are exercised: the ingest, access and session
  // arguments are never used on this path, so they are stand-ins.
  const warnings = [];
  const log = { warn: (o, msg) => warnings.push({ ...o, msg }), info() {}, error() {} };
  const srt = new SrtIngest({}, { open: true }, { subscribe: () => () => undefined }, log, { host: '127.0.0.1', port: srtPort(), listeners: [], latencyMs: 120, helperPath: '/nonexistent/halfsec-srt' });
  t.teardown(() => srt.close());
  const s = await srt.start();
  t.false(s.available);
  t.is(warnings.length, 1);
  t.regex(warnings[0].msg, /SRT ingest unavailable: halfsec-srt is not built .*libsrt-openssl-dev.*npm run build:srt/);
});

test.serial('halfsec-srt alone: callers waiting for a decision are bounded per address (the fifth is refused in the handshake, 1402); undecided ones are closed; stdin closing ends it with no FIFO left', async (t) => {
  if (!hasSrt || !hasHelper) return t.fail('ffmpeg with libsrt and halfsec-srt needed');
  t.timeout(40000);
  const { spawn } = await import('node:child_process');
  const { createInterface } = await import('node:readline');
  const dir = mkdtempSync(join(tmpdir(), 'halfsec-srt-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = srtPort();
  const h = spawn(SRT_HELPER_PATH, ['--dir', dir, '--auth-timeout-ms', '6000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => h.kill('SIGKILL'));
  const lines = [];
  createInterface({ input: h.stdout }).on('line', (l) => lines.push(l));
  h.stdin.write(`listen 127.0.0.1 ${port} *\nstart\n`);
  t.true(await until(() => lines.includes('ready'), 5000), 'listening');
  // The relay never answers: every caller stays waiting for a decision.
  for (let i = 1; i <= 4; i++) {
    caller(t, port, `streamid=publish:s${i}`, 10);
    await until(() => lines.filter((l) => l.startsWith('caller ')).length === i, 8000);
  }
  const fifth = caller(t, port, 'streamid=publish:s5', 10);
  t.not(await Promise.race([fifth.exited, sleep(8000).then(() => 'running')]), 'running', 'the fifth caller failed to connect');
  t.is(lines.filter((l) => l.startsWith('caller ')).length, 4, 'four callers accepted and waiting');
  t.truthy(lines.find((l) => /^refused 0 127\.0\.0\.1:\d+ 1402 /.test(l)), `the fifth refused with SRT_REJX_OVERLOAD: ${lines.join(' | ')}`);
  t.is(readdirSync(dir).length, 4, 'one FIFO per waiting caller');
  // No decision within --auth-timeout-ms: each is closed, none read.
  t.true(await until(() => lines.filter((l) => / 0 no decision in time$/.test(l)).length === 4, 10000), 'undecided callers closed with 0 bytes read');
  t.deepEqual(readdirSync(dir), [], 'their FIFOs removed');
  const exited = new Promise((r) => h.once('exit', r));
  h.stdin.end();
  t.truthy(await Promise.race([exited.then(() => true), sleep(5000)]), 'halfsec-srt exits when its stdin closes');
});

test.serial('SRT on a port already taken: the relay starts, says SRT could not start, and does not retry', async (t) => {
  if (!hasHelper) return t.fail('halfsec-srt needed');
  const { createSocket } = await import('node:dgram');
  const taken = createSocket('udp4');
  await new Promise((r) => taken.bind(0, '127.0.0.1', r));
  t.teardown(() => taken.close());
  const { relay } = await startRelay(t, { srtPort: taken.address().port });
  const s = await relay.srt.ready;
  t.false(s.available, 'SRT is off');
  await sleep(2500);
  t.false(relay.srt.stats().available, 'and stays off');
  t.is(relay.srt.stats().starts, 1, 'halfsec-srt was not restarted');
  t.is(relay.stats().streams, 0);
});
