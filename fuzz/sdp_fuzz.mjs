// SDP fuzzer: mutates real offers (fuzz/corpus/sdp) for a bounded time and runs each through
// parseOffer / codec choice / buildAnswer (see sdp_lib.mjs for the properties checked).
// The loop runs in a worker thread so that a hang (a regex or a loop that never ends) is caught:
// the main thread sees the execution counter stop and saves the input being processed.
// Usage: node fuzz/sdp_fuzz.mjs [--seconds 60] [--seed N] [--findings DIR] [--hang-ms 5000]
// Prints progress to stderr, a JSON summary line to stdout; exits 1 on any finding.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FUZZ_DIR, exercise, fuzzLoop, loadDir } from './sdp_lib.mjs';

const INPUT_BYTES = 1 << 20;

if (isMainThread) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const seconds = Number(opt('seconds', '60'));
  const seed = Number(opt('seed', String(Date.now() % 2 ** 31)));
  const findingsDir = opt('findings', join(FUZZ_DIR, 'out', 'findings', 'sdp'));
  const hangMs = Number(opt('hang-ms', '5000'));

  const save = (kind, role, text, message) => {
    mkdirSync(findingsDir, { recursive: true });
    const name = `${kind}-${role}-${createHash('sha1').update(text).digest('hex').slice(0, 12)}.sdp`;
    writeFileSync(join(findingsDir, name), text, 'utf8');
    console.error(`# finding ${kind} (${role}): ${message.slice(0, 300)}\n#   saved ${join(findingsDir, name)}`);
  };

  // Replay first: the saved regressions and the seeds themselves, both roles.
  let replayFailures = 0;
  for (const dir of ['regressions/sdp', 'corpus/sdp']) {
    for (const f of loadDir(join(FUZZ_DIR, dir))) {
      for (const role of ['publisher', 'viewer']) {
        try {
          exercise(f.text, role);
        } catch (err) {
          replayFailures++;
          console.error(`# replay ${dir}/${f.name} (${role}) FAILED: ${err.message}`);
        }
      }
    }
  }

  // Shared with the worker: [0] executions so far, [1] role of the current input (0/1),
  // [2] byte length of the current input, then the input bytes.
  const shared = new SharedArrayBuffer(12 + INPUT_BYTES);
  const header = new Int32Array(shared, 0, 3);
  const bytes = new Uint8Array(shared, 12);
  const worker = new Worker(new URL(import.meta.url), { workerData: { shared, seed, seconds } });
  console.error(`# sdp fuzz: seed ${seed}, ${seconds}s, hang limit ${hangMs} ms`);

  const started = Date.now();
  let last = -1;
  let lastChange = Date.now();
  let hung = false;
  const timer = setInterval(() => {
    const n = Atomics.load(header, 0);
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > hangMs) {
      hung = true;
      const len = Atomics.load(header, 2);
      const text = Buffer.from(bytes.subarray(0, len)).toString('utf8');
      save('hang', Atomics.load(header, 1) ? 'viewer' : 'publisher', text, `no progress for ${hangMs} ms`);
      void worker.terminate();
    }
  }, 250);

  worker.on('message', (res) => {
    clearInterval(timer);
    for (const f of res.findings) save(f.kind, f.role, f.text, `${f.message}${f.stack ? `\n${f.stack}` : ''}`);
    const findings = res.findings.length + replayFailures;
    const summary = { target: 'sdp', seed, seconds: (Date.now() - started) / 1000, ...res.stats, findings };
    console.log(JSON.stringify(summary));
    process.exitCode = findings > 0 ? 1 : 0;
  });
  worker.on('error', (err) => {
    clearInterval(timer);
    console.error(`# worker crashed: ${err.stack}`);
    const len = Atomics.load(header, 2);
    save('crash', Atomics.load(header, 1) ? 'viewer' : 'publisher', Buffer.from(bytes.subarray(0, len)).toString('utf8'), err.message);
    console.log(JSON.stringify({ target: 'sdp', seed, executions: Atomics.load(header, 0), findings: 1 + replayFailures }));
    process.exitCode = 1;
  });
  worker.on('exit', () => {
    clearInterval(timer);
    if (hung) {
      console.log(JSON.stringify({ target: 'sdp', seed, executions: Atomics.load(header, 0), findings: 1 + replayFailures }));
      process.exitCode = 1;
    }
  });
} else {
  const { shared, seed, seconds } = workerData;
  const header = new Int32Array(shared, 0, 3);
  const bytes = new Uint8Array(shared, 12);
  const seeds = loadDir(join(FUZZ_DIR, 'corpus', 'sdp'));
  const deadline = Date.now() + seconds * 1000;
  let progressAt = Date.now() + 10000;
  const res = fuzzLoop({
    seed,
    seeds,
    stop: (stats) => {
      Atomics.store(header, 0, stats.executions);
      const now = Date.now();
      if (now >= progressAt) {
        progressAt = now + 10000;
        console.error(`# sdp: ${stats.executions} executions (${stats.accepted} accepted)`);
      }
      return now >= deadline;
    },
    onInput: (text, role) => {
      const b = Buffer.from(text, 'utf8');
      const len = Math.min(b.length, INPUT_BYTES);
      bytes.set(b.subarray(0, len));
      Atomics.store(header, 1, role === 'viewer' ? 1 : 0);
      Atomics.store(header, 2, len);
    },
  });
  parentPort.postMessage(res);
}
