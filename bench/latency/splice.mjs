// The RTMP hand-over's hop alone: round-trip time of small stamped messages through a relay-like
// middle that joins two TCP connections either in Node (socket.pipe both ways, how RTMP bytes
// went before) or in halfsec-splice (splice(2) in a child process, how they go now), and as a
// control Node's pipe in a child process of its own. A client
// writes a 64-byte message every `--interval-ms`, an echo server sends it back, both through the
// middle; the RTT is measured at the client. Modes alternate within one run. Prints figures only.
//
//   node bench/latency/splice.mjs [--messages 2000] [--interval-ms 2] [--rounds 3]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SPLICE_PATH } from '../../dist/ingest/rtmp.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '2000' }, 'interval-ms': { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, peer: { type: 'boolean', default: false }, middle: { type: 'string' } } });
const MODES = ['node', 'splice', 'node-child'];
const MESSAGES = Number(args.messages);
const INTERVAL = Number(args['interval-ms']);
const SIZE = 64;

const listen = (server) => new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));

/** The peer process: the echo server, then (told the middle's port) the client; prints the RTTs. */
async function peer() {
  const echo = createServer((s) => {
    s.setNoDelay(true);
    s.pipe(s);
  });
  console.log(JSON.stringify({ echoPort: await listen(echo) }));
  const [line] = await once(process.stdin, 'data');
  const { middlePort } = JSON.parse(String(line));
  const client = connect(middlePort, '127.0.0.1');
  client.setNoDelay(true);
  await once(client, 'connect');
  await new Promise((r) => setTimeout(r, 100));
  const rtts = [];
  let buf = Buffer.alloc(0);
  client.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= SIZE) {
      rtts.push(Number(process.hrtime.bigint() - buf.readBigUInt64BE(0)) / 1000);
      buf = buf.subarray(SIZE);
    }
  });
  for (let i = 0; i < MESSAGES; i++) {
    const m = Buffer.alloc(SIZE);
    m.writeBigUInt64BE(process.hrtime.bigint(), 0);
    client.write(m);
    await new Promise((r) => setTimeout(r, INTERVAL));
  }
  const deadline = Date.now() + 5000;
  while (rtts.length < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  console.log(JSON.stringify({ rtts }));
  process.exit(0);
}

async function round(mode) {
  const p = spawn(process.execPath, [new URL(import.meta.url).pathname, '--peer', '--messages', String(MESSAGES), '--interval-ms', String(INTERVAL)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  const { echoPort } = JSON.parse((await lines.next()).value);
  let child;
  if (mode === 'node-child') {
    // The control: Node's pipe, but in a process of its own as halfsec-splice is.
    child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--middle', String(echoPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await once(child.stdout, 'data');
    p.stdin.write(String(line));
    return finish(mode, JSON.parse((await lines.next()).value).rtts, child);
  }
  const middle = createServer(async (c) => {
    c.setNoDelay(true);
    const up = connect(echoPort, '127.0.0.1');
    up.setNoDelay(true);
    await once(up, 'connect');
    if (mode === 'node') {
      c.pipe(up);
      up.pipe(c);
    } else {
      c.pause();
      up.pause();
      child = spawn(SPLICE_PATH, [], { stdio: ['ignore', 'ignore', 'inherit', c, up] });
      c.destroy();
      up.destroy();
    }
  });
  const middlePort = await listen(middle);
  p.stdin.write(`${JSON.stringify({ middlePort })}\n`);
  const { rtts } = JSON.parse((await lines.next()).value);
  middle.close();
  return finish(mode, rtts, child);
}

function finish(mode, rtts, child) {
  child?.kill('SIGKILL');
  rtts.sort((a, b) => a - b);
  const q = (p) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))]?.toFixed(0);
  return { mode, got: rtts.length, p50us: q(0.5), p99us: q(0.99) };
}

/** The node-child mode's middle: Node's pipe both ways in a process of its own. */
async function middleProcess(echoPort) {
  const srv = createServer((c) => {
    c.setNoDelay(true);
    const up = connect(echoPort, '127.0.0.1');
    up.setNoDelay(true);
    c.pipe(up);
    up.pipe(c);
  });
  console.log(JSON.stringify({ middlePort: await listen(srv) }));
}

if (args.peer) await peer();
if (args.middle) {
  await middleProcess(Number(args.middle));
  await new Promise(() => undefined);
}
const rows = [];
for (let r = 0; r < Number(args.rounds); r++) {
  for (const mode of MODES) {
    const res = await round(mode);
    console.log(JSON.stringify({ round: r, ...res, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') }));
    rows.push(res);
  }
}
const med = (xs) => xs.map(Number).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nmachine: ${cpus()[0]?.model} x${cpus().length}, kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('| middle | rounds | RTT p50 (median of rounds) | RTT p99 (median of rounds) |\n|---|---|---|---|');
const names = { node: 'Node socket.pipe (in the bench process)', splice: 'halfsec-splice', 'node-child': 'Node socket.pipe (a process of its own)' };
for (const mode of MODES) {
  const rs = rows.filter((x) => x.mode === mode);
  console.log(`| ${names[mode]} | ${rs.length} | ${med(rs.map((x) => x.p50us))} µs | ${med(rs.map((x) => x.p99us))} µs |`);
}
