import test from 'ava';
import { startRelay } from './helpers.mjs';
import { LoadRun } from '../dist/load/run.js';

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
