// halfsec-srt under a flood of callers it refuses in the handshake (a malformed stream id, from
// several threads of one libsrt caller, test/tools/srt_refused_flood.cc): every refusal is
// counted, but at most 10 `refused` lines a second reach the relay (which logs each), the rest
// as one `refused-more <n>` a second, so the flood neither floods the relay's log nor, when the
// relay is slow to read, blocks halfsec-srt; a well-formed caller is still taken afterwards.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { sleep, until } from './helpers.mjs';
import { SRT_HELPER_PATH } from '../dist/ingest/srt.js';

const hasHelper = existsSync(SRT_HELPER_PATH);
const TOOL = fileURLToPath(new URL('./tools/srt_refused_flood.cc', import.meta.url));

function buildTool(dir) {
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'srt'], { encoding: 'utf8' });
  if (flags.status !== 0) return undefined;
  const out = join(dir, 'srt_refused_flood');
  const r = spawnSync('g++', ['-std=c++20', '-O1', '-pthread', TOOL, ...flags.stdout.trim().split(/\s+/), '-o', out], { encoding: 'utf8' });
  return r.status === 0 ? out : undefined;
}

/**
 * halfsec-srt alone on a fresh port with a private FIFO directory, listening (its stdout lines
 * recorded with their arrival times), and the flood tool built; undefined (the test failed) when
 * the tool cannot be built.
 */
async function startHelper(t, prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tool = buildTool(dir);
  if (!tool) return void t.fail('could not build test/tools/srt_refused_flood.cc (libsrt-openssl-dev and g++ needed)');
  const fifos = join(dir, 'fifos');
  spawnSync('mkdir', ['-m', '0700', fifos]);
  const port = 20000 + Math.floor(Math.random() * 9000);
  const h = spawn(SRT_HELPER_PATH, ['--dir', fifos, '--auth-timeout-ms', '2000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => h.kill('SIGKILL'));
  const lines = [];
  createInterface({ input: h.stdout }).on('line', (l) => lines.push({ at: Date.now(), l }));
  h.stdin.write(`listen 127.0.0.1 ${port} *\nstart\n`);
  t.true(await until(() => lines.some((x) => x.l === 'ready'), 5000), 'listening');
  return { tool, fifos, port, lines };
}

test.serial('halfsec-srt: a flood of refused handshakes is counted in full but reaches the relay as at most 10 lines a second plus one count a second', async (t) => {
  if (!hasHelper) return t.fail(`${SRT_HELPER_PATH} is not built (scripts/build-srt.sh)`);
  t.timeout(60000);
  const helper = await startHelper(t, 'halfsec-srt-flood-');
  if (!helper) return;
  const { tool, fifos, port, lines } = helper;

  // spawnSync: this process reads nothing from halfsec-srt while the flood runs, as a relay busy
  // elsewhere would not. Were every refusal a line, they would fill the stdout pipe and block
  // libsrt's receive thread (it writes them), stalling every handshake and every caller's media.
  const started = Date.now();
  const flood = spawnSync('timeout', ['-s', 'KILL', '40', tool, String(port), 'publish:not/a/name', '600', '4'], { encoding: 'utf8' });
  const elapsedSec = (Date.now() - started) / 1000;
  const refusedByTool = Number(flood.stdout.trim());
  t.is(refusedByTool, 600, `every flood connect was refused, none stalled (${elapsedSec.toFixed(1)} s): ${flood.stderr}`);
  await sleep(1500); // the last second's count
  const refusedLines = lines.filter((x) => x.l.startsWith('refused '));
  const more = lines.filter((x) => x.l.startsWith('refused-more ')).reduce((n, x) => n + Number(x.l.split(' ')[1]), 0);
  t.is(refusedLines.length + more, 600, 'every refusal is counted');
  t.true(refusedLines.every((x) => / 1400 stream name must be/.test(x.l)), 'refused as a bad request');
  t.true(refusedLines.length <= 10 * (Math.ceil(elapsedSec) + 1), `${refusedLines.length} refused lines over ${elapsedSec.toFixed(1)} s`);

  // The listener still takes a well-formed caller (it waits for a decision that never comes).
  const ok = spawn('timeout', ['-s', 'KILL', '10', tool, String(port), 'publish:fine', '1', '1'], { stdio: 'ignore' });
  t.teardown(() => ok.kill('SIGKILL'));
  t.true(await until(() => lines.some((x) => /^caller \d+ 0 127\.0\.0\.1:\d+ fine - /.test(x.l)), 5000), 'a well-formed caller after the flood is taken');
  t.true(await until(() => readdirSync(fifos).length === 0, 8000), 'its FIFO is gone once it is closed undecided');
});

test.serial('halfsec-srt: callers arriving together from one address are held to the per-address bound of 4 waiting for a decision, and the bound frees once they are closed', async (t) => {
  if (!hasHelper) return t.fail(`${SRT_HELPER_PATH} is not built (scripts/build-srt.sh)`);
  t.timeout(60000);
  const helper = await startHelper(t, 'halfsec-srt-burst-');
  if (!helper) return;
  const { tool, port } = helper;
  const texts = () => helper.lines.map((x) => x.l);
  const callers = () => texts().filter((l) => l.startsWith('caller ')).length;

  // 40 well-formed callers at once (40 threads); nobody decides, so each stays waiting.
  const burst = spawnSync('timeout', ['-s', 'KILL', '30', tool, String(port), 'publish:burst', '40', '40'], { encoding: 'utf8' });
  t.is(Number(burst.stdout.trim()), 36, `all but 4 refused: ${burst.stdout} ${burst.stderr}`);
  await sleep(300);
  t.is(callers(), 4, `at most 4 callers from one address waiting: ${texts().filter((l) => l.startsWith('caller ')).join(' | ')}`);

  // Closed undecided: the bound is free again for 4 more.
  t.true(await until(() => texts().filter((l) => / no decision in time$/.test(l)).length === 4, 8000), 'the 4 closed undecided');
  const again = spawnSync('timeout', ['-s', 'KILL', '30', tool, String(port), 'publish:again', '4', '4'], { encoding: 'utf8' });
  t.is(Number(again.stdout.trim()), 0, 'the next 4 are taken');
  t.true(await until(() => callers() === 8, 3000), `8 callers in all: ${callers()}`);
});
