// Per-hop latency of cascading on loopback: one native publisher into origin A, native viewers on
// A and on edge B (which pulls from A) at the same time; the hop costs edge p50 - origin p50.
// Usage: node bench/cluster/hop-latency.mjs [viewers=20] [seconds=8] [runs=3]   (needs redis-server)
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createRelay } from '../../dist/index.js';

const [viewers = '20', seconds = '8', runs = '3'] = process.argv.slice(2);
const cli = new URL('../../dist/cli.js', import.meta.url).pathname;

const freePort = () => new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => r(port)); }); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function load(args) {
  return new Promise((resolve, reject) => {
    const p = spawn('timeout', ['-s', 'KILL', '120', process.execPath, cli, 'load', ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited ${code}: ${out.slice(-500)}`))));
  });
}

const redisPort = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await sleep(300);
const node = async (id, base) => {
  const relay = createRelay({ host: '127.0.0.1', port: 0, rtcBindAddress: '127.0.0.1', rtcPortMin: base, rtcPortMax: base + 9, workers: 1, logLevel: 'warn', redisUrl: `redis://127.0.0.1:${redisPort}`, nodeId: id, clusterHeartbeatMs: 500 });
  const { port } = await relay.listen();
  return { relay, url: `http://127.0.0.1:${port}` };
};
const results = [];
try {
  const a = await node('origin', 47000);
  const b = await node('edge', 47100);
  for (let i = 0; i < Number(runs); i++) {
    const stream = `hop${i}`;
    const origin = load(['--url', a.url, '--stream', stream, '--publish', '--viewers', viewers, '--seconds', String(Number(seconds) + 3)]);
    await sleep(2000);
    const edge = await load(['--url', b.url, '--stream', stream, '--viewers', viewers, '--seconds', seconds]);
    const o = await origin;
    results.push({ origin: o.latencyUs, edge: edge.latencyUs });
    const hop = edge.latencyUs.p50 - o.latencyUs.p50;
    console.log(`run ${i + 1}: origin p50 ${o.latencyUs.p50} µs p99 ${o.latencyUs.p99} µs | edge p50 ${edge.latencyUs.p50} µs p99 ${edge.latencyUs.p99} µs | hop p50 ${hop} µs`);
    await sleep(1500);
  }
  await a.relay.close();
  await b.relay.close();
} finally {
  redis.kill('SIGKILL');
}
const hops = results.map((r) => r.edge.p50 - r.origin.p50).sort((x, y) => x - y);
const machine = execFileSync('uname', ['-srm']).toString().trim();
console.log(JSON.stringify({ machine, viewersPerNode: Number(viewers), runs: results, hopP50MedianUs: hops[Math.floor(hops.length / 2)] }));
