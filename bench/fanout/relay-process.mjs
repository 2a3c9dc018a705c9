// Starts a relay script in its own process and talks to it over stdin/stdout (JSON lines).
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

// `cpus`: a taskset CPU list the relay process is confined to (bench/fanout --relay-cpus).
export async function startRelayProcess(script, args = [], limitSec = 1200, env = process.env, cpus = undefined) {
  // HALFSEC_BENCH_RELAY_NODE_ARGS: extra node flags for the relay process only, for profiling it
  // apart from the load generator (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof --perf-basic-prof-only-functions").
  const nodeArgs = (process.env.HALFSEC_BENCH_RELAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const argv = ['-s', 'KILL', String(limitSec), process.execPath, ...nodeArgs, script, ...args];
  const child = cpus === undefined ? spawn('timeout', argv, { stdio: ['pipe', 'pipe', 'pipe'], env }) : spawn('taskset', ['-c', cpus, 'timeout', ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stderr = '';
  // HALFSEC_BENCH_RELAY_STDERR: a file the relay process's stderr is appended to (diagnostics).
  const keep = process.env.HALFSEC_BENCH_RELAY_STDERR;
  child.stderr.on('data', (d) => {
    if (keep) appendFileSync(keep, d);
    stderr = (stderr + d).slice(-4000);
  });
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      return;
    }
    const w = waiting.findIndex((x) => x.event === m.event);
    if (w >= 0) waiting.splice(w, 1)[0].resolve(m);
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
    for (const w of waiting.splice(0)) w.reject(new Error(`relay process exited; stderr: ${stderr}`));
  });
  const next = (event, ms = 15000) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`relay process exited; stderr: ${stderr}`));
      const w = { event, resolve, reject };
      waiting.push(w);
      setTimeout(() => reject(new Error(`relay process: no "${event}" within ${ms} ms; stderr: ${stderr}`)), ms).unref();
    });
  const listening = await next('listening');
  return {
    port: listening.port,
    pid: listening.pid,
    url: `http://127.0.0.1:${listening.port}`,
    async stats() {
      const p = next('stats', 60000); // a saturated relay answers late
      child.stdin.write('stats\n');
      return p;
    },
    // bench/memory: "memory" or "trim" (see relay-child.mjs).
    async memory(command = 'memory') {
      const p = next('memory', 60000);
      child.stdin.write(`${command}\n`);
      return p;
    },
    async stop() {
      if (exited) return;
      child.stdin.write('exit\n');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 3000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}
