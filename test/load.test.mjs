import test from 'ava';
import { startRelay } from './helpers.mjs';
import { LoadRun } from '../dist/load/run.js';
import { loadNative } from '../dist/load/native.js';

test.serial('native load generator: 50 viewers and a publisher, every viewer receives, SRTP authenticates', async (t) => {
  const { url } = await startRelay(t);
  const run = await LoadRun.start({
    url,
    stream: 'loadsmoke',
    viewers: 50,
    rateKbps: 1000,
    fps: 30,
    packetSize: 1200,
    publish: true,
    peer: 'native',
    concurrency: 20,
    threads: 1,
    joinTimeoutMs: 10000,
  });
  t.teardown(() => run.close());
  await run.joinAll();
  const [a, b] = await run.window(3);
  const s = run.summarize(a, b);
  t.is(s.viewers.joined, 50, `all viewers connected (errors: ${s.viewers.errors.join(' | ')})`);
  t.is(s.viewers.failed, 0);
  t.true(s.window.expectedPackets > 200, `the publisher sent ${s.window.expectedPackets} packets in the window`);
  t.true(s.window.deliveredMin >= 0.95, `every viewer received >= 95 % (min ${(s.window.deliveredMin * 100).toFixed(1)} %)`);
  t.true(s.auth.checked > 0, 'sampled packets were authenticated');
  t.is(s.auth.failed, 0, 'no SRTP authentication failure');
  t.is(s.auth.badPayload, 0, 'every decrypted payload carried the publisher header');
  t.true(s.latencyUs.count > 0, 'latency samples were taken');
});

// The publisher of bench/crowd answers the relay's PLI as encoders do (keyframeOnRequest): with the
// keyframe cache off, a joining viewer then gets media at the next packet instead of the next
// natural IDR (every 60 packets: ~5.8 s at 100 kbit/s). The publisher that ignores requests is
// the control, in the same test.
test.serial('native load publisher answers PLI with an IDR when asked to (keyframeOnRequest)', async (t) => {
  const { url } = await startRelay(t, { keyframeCacheMaxAgeMs: 0 });
  const joinMs = {};
  for (const keyframeOnRequest of [true, false]) {
    const run = await LoadRun.start({
      url, stream: `kfreq-${keyframeOnRequest}`, viewers: 4, rateKbps: 100, fps: 30, packetSize: 1200, publish: true, peer: 'native',
      concurrency: 4, threads: 1, joinTimeoutMs: 10000, keyframeOnRequest,
    });
    try {
      await new Promise((r) => setTimeout(r, 1500)); // past the publisher's first IDR
      await run.joinAll();
      const deadline = Date.now() + 9000;
      let c = run.viewers.counters();
      while (Date.now() < deadline && c.some((v) => v.joinMs === undefined)) {
        await new Promise((r) => setTimeout(r, 100));
        c = run.viewers.counters();
      }
      joinMs[keyframeOnRequest] = c.map((v) => v.joinMs ?? Infinity);
    } finally {
      await run.close(true);
    }
  }
  t.log(`join ms, answering PLI: ${joinMs.true.map((x) => x.toFixed(0)).join(', ')}; ignoring PLI: ${joinMs.false.map((x) => x.toFixed(0)).join(', ')}`);
  t.true(Math.max(...joinMs.true) < 2500, 'every viewer got media soon after joining: the relay asked for a keyframe and the publisher sent one');
  t.true(Math.min(...joinMs.false) > Math.max(...joinMs.true), 'without answering, viewers waited for the next natural IDR');
});

test.serial('native load generator: every client presents a certificate of its own, made ahead or on demand', (t) => {
  const engine = new loadNative.LoadEngine({ threads: 1, ipOctet: 151 });
  t.teardown(() => engine.close());
  engine.prepareCertificates(3);
  // Three from the prepared ones, two more made on demand: all distinct, none the engine's.
  const fps = Array.from({ length: 5 }, () => engine.allocate('viewer').fingerprint);
  t.is(new Set(fps).size, 5);
  t.false(fps.includes(engine.fingerprint));
  for (const fp of fps) t.regex(fp, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.throws(() => engine.prepareCertificates(-1), { message: /0\.\.100000/ });
  // ownCertificates: false: every client presents the engine's (comparisons with older runs).
  const shared = new loadNative.LoadEngine({ threads: 1, ipOctet: 152, ownCertificates: false });
  t.teardown(() => shared.close());
  shared.prepareCertificates(2);
  t.is(shared.allocate('viewer').fingerprint, shared.fingerprint);
});

// A publisher that never connects: the answer names an address off loopback, which the load
// generator refuses before connecting, or one on loopback where nothing listens. Either way the
// failed start removes its session, so an immediate retry is not refused as a second publisher of
// the stream (409) but fails the same way.
for (const [where, ip, expected] of [['off loopback', '192.0.2.1', /no UDP host candidate/], ['on loopback, nothing listening', '127.0.0.2', /publisher (failed|did not connect)/]]) {
  test.serial(`a load publisher that does not connect (answer ${where}) DELETEs its session: a retry is not a 409`, async (t) => {
    const { url } = await startRelay(t, { announcedIps: [ip] });
    const start = () => LoadRun.start({ url, stream: 'unreachable', viewers: 0, rateKbps: 100, fps: 30, packetSize: 1200, publish: true, peer: 'native', concurrency: 1, threads: 1, joinTimeoutMs: 1500 });
    const first = await t.throwsAsync(start);
    t.regex(first.message, expected);
    const second = await t.throwsAsync(start);
    t.regex(second.message, expected, 'the retry reached the same point, not a refusal');
    t.notRegex(second.message, /409/);
  });
}
