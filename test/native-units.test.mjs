// Runs the native unit tests (native/tests/, built by node-gyp as halfsec_native_tests).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../build/Release/halfsec_native_tests', import.meta.url));

test('native unit tests: NACK generator, retransmission buffer, pacing, seq rewriter, layer switcher, RTCP figures, transport-cc feedback writer, ingress bit rate window', (t) => {
  const r = spawnSync(bin, [], { encoding: 'utf8', timeout: 30_000 });
  t.is(r.error, undefined);
  t.log(r.stdout.trim().split('\n').at(-1));
  t.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /\b(1[5-9]|[2-9]\d) tests, 0 failed checks/);
});
