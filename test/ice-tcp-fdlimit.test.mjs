// ICE-TCP against the process's open-file limit: a relay started under a hard limit of 600
// descriptors takes ICE-TCP connections up to the limit less its reserve (a quarter, at least
// 256: engine.cc), refuses and counts the rest (halfsec_tcp_rejected_limit_total), and still
// answers HTTP. Real load-generator viewers over ICE-TCP (native/load). Needs prlimit (util-linux).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LoadRun } from '../dist/load/run.js';

const LIMIT = 600;
const RESERVE = 256;
const VIEWERS = 420;
const why = spawnSync('prlimit', ['--version']).status === 0 ? null : 'no prlimit';

(why ? test.skip : test)('ICE-TCP connections stop short of the open-file limit; the rest are refused and counted; HTTP keeps working', async (t) => {
  t.timeout(55_000);
  const script = fileURLToPath(new URL('../bench/fanout/relay-child.mjs', import.meta.url));
  const child = spawn('timeout', ['-s', 'KILL', '50', 'prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--', process.execPath, script, '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(JSON.parse(l)));
  const next = () => new Promise((r) => waiting.push(r));
  const { port } = await next();
  const url = `http://127.0.0.1:${port}`;
  const run = await LoadRun.start({ url, stream: 'fd', viewers: VIEWERS, rateKbps: 300, fps: 30, packetSize: 1200, publish: true, peer: 'native', transport: 'tcp', concurrency: 20, threads: 1, ipOctet: 178, joinTimeoutMs: 8000, holdWhileJoining: false });
  t.teardown(() => run.close(false).catch(() => {}));
  await run.joinAll().catch(() => {});
  const w = (await (await fetch(`${url}/api/stats`)).json()).workers[0];
  t.log(`connections ${w.tcpConnections}, accepted ${w.tcpAccepted}, refused ${w.tcpRejectedLimit}`);
  t.is(w.tcpConnections, LIMIT - RESERVE, 'connections up to the limit less the reserve');
  t.is(w.tcpRejectedLimit, VIEWERS - (LIMIT - RESERVE), 'the rest refused and counted');
  t.is((await fetch(`${url}/healthz`)).status, 200, 'HTTP still accepts');
  const metrics = await (await fetch(`${url}/metrics`)).text();
  t.regex(metrics, new RegExp(`halfsec_tcp_rejected_limit_total(\\{[^}]*\\})? ${w.tcpRejectedLimit}`));
});
