import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// The churn soak of bench/soak, cut to a 30 s CI run (~580 viewers on this 2-core machine):
// viewers join and leave about 20 times a second against a live stream; every viewer that stays
// must get media, and peers and sockets must return to where they started.
test('churn soak, 30 s: every viewer that stays gets media; peers and sockets return to baseline', async (t) => {
  t.timeout(180_000);
  const out = join(tmpdir(), `halfsec-soak-${process.pid}.json`);
  const child = spawn('timeout', ['-s', 'KILL', '170', process.execPath, join(root, 'bench/soak/soak.mjs'), '--seconds', '30', '--concurrent', '200', '--out', out], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const code = await new Promise((r) => child.on('exit', r));
  t.is(code, 0, log.slice(-3000));
  const s = JSON.parse(readFileSync(out, 'utf8'));
  t.true(s.viewers.started >= 300, `viewers started: ${s.viewers.started}`);
  t.is(s.viewers.failed, 0);
  t.is(s.viewers.stayedWithoutMedia, 0);
  t.is(s.relay.afterPublisherLeft.peers, 0);
  t.true(s.relay.afterPublisherLeft.relaySockets <= s.relay.start.relaySockets);
  t.log(`soak: ${s.viewers.started} viewers, RSS start/peak/end ${s.relay.start.rssMB}/${s.relay.peak.rssMB}/${s.relay.afterPublisherLeft.rssMB} MB`);
});
