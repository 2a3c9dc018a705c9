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
  // At least the 15 tests the first version had (a binary that registered none would pass otherwise).
  const m = /\b(\d+) tests, 0 failed checks/.exec(r.stdout);
  t.true(m !== null && Number(m[1]) >= 15, `test count and result: ${r.stdout.trim().split('\n').at(-1)}`);
});
