// mediasoup 3.8.4 as a fan-out relay for bench/fanout: WHIP in, WHEP out, one mediasoup worker
// per core (a router each), the publisher's producer piped to every other router
// (pipeToRouter), viewers spread over the routers in turn. Same stdin/stdout protocol as
// ../../fanout/relay-child.mjs: prints {"event":"listening","port"}; "stats" answers with the
// egress RTP packets from mediasoup's own consumer counters, CPU time (mediasoup worker
// processes from /proc, plus this front end) and RSS; "exit" stops.
// Usage: node relay.mjs [workers]   (mediasoup must be installed: ./install.mjs)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { MEDIASOUP_DIR, WORKER_BIN } from './install.mjs';
import { buildAnswer, parseOffer, producerParameters, viewerCapabilities } from './sdp.mjs';

setTimeout(() => process.exit(3), 30 * 60 * 1000).unref(); // no benchmark run lasts this long
process.env.MEDIASOUP_WORKER_BIN ??= WORKER_BIN;
const mediasoup = createRequire(join(MEDIASOUP_DIR, 'package.json'))('mediasoup');
const out = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
const workerCount = Number(process.argv[2] ?? 0) || availableParallelism();

const MEDIA_CODECS = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
];
// mediasoup 3.8 has no WebRtcServer: each transport binds its own port. Spreading them over
// loopback addresses keeps thousands of viewers clear of one port range's end (and of other
// programs' ports on 127.0.0.1).
const base = 20000 + (process.pid % 4) * 5000;
const workers = [];
for (let i = 0; i < workerCount; i++) {
  const worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: base, rtcMaxPort: base + 4999 });
  worker.on('died', () => process.exit(4));
  const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  workers.push({ worker, router, transports: 0 });
}

const streams = new Map(); // name -> { producers: [{ producer, router }], piped: Map<routerIndex, Promise>, viewers: Set<id> }
const sessions = new Map(); // id -> { role, stream, transport, consumers }
let transportsMade = 0;
let nextRouter = 0;

async function newTransport(w) {
  const n = transportsMade++;
  const transport = await w.router.createWebRtcTransport({
    listenIps: [{ ip: `127.77.${n % 200}.${1 + ((n / 200) | 0) % 250}` }],
    enableUdp: true,
    enableTcp: false,
  });
  w.transports++;
  return transport;
}

async function onWhip(name, sdp) {
  if (streams.has(name)) return [409, 'stream already has a publisher'];
  const offer = parseOffer(sdp);
  const w = workers[0];
  const transport = await newTransport(w);
  await transport.connect({ dtlsParameters: { role: offer.remoteDtlsRole, fingerprints: offer.fingerprints } });
  const st = { producers: [], piped: new Map(), viewers: new Set() };
  const sections = [];
  for (const m of offer.media) {
    if (m.direction !== 'sendonly' || m.ssrc === undefined) {
      sections.push(null);
      continue;
    }
    const rtpParameters = producerParameters(m, w.router.rtpCapabilities.codecs);
    const producer = await transport.produce({ kind: m.kind, rtpParameters });
    st.producers.push(producer);
    sections.push({ direction: 'recvonly', rtpParameters });
  }
  const id = randomBytes(8).toString('hex');
  streams.set(name, st);
  sessions.set(id, { role: 'whip', stream: name, transport, consumers: [] });
  return [201, buildAnswer({ transport, setup: offer.answerSetup, offer, sections }), `/whip/${name}/${id}`];
}

/** The stream's producers made available on router `i` (pipeToRouter once per router). */
function onRouter(st, i) {
  if (i === 0) return Promise.resolve();
  if (!st.piped.has(i)) {
    st.piped.set(i, Promise.all(st.producers.map((p) => workers[0].router.pipeToRouter({ producerId: p.id, router: workers[i].router }))));
  }
  return st.piped.get(i);
}

async function onWhep(name, sdp) {
  const st = streams.get(name);
  if (!st) return [404, 'stream is not live'];
  const offer = parseOffer(sdp);
  const i = nextRouter++ % workers.length;
  const w = workers[i];
  await onRouter(st, i);
  const transport = await newTransport(w);
  await transport.connect({ dtlsParameters: { role: offer.remoteDtlsRole, fingerprints: offer.fingerprints } });
  const caps = viewerCapabilities(offer.media);
  const consumers = [];
  const sections = [];
  for (const m of offer.media) {
    const producer = st.producers.find((p) => p.kind === m.kind);
    if (!producer || m.direction === 'sendonly' || !w.router.canConsume({ producerId: producer.id, rtpCapabilities: caps })) {
      sections.push(null);
      continue;
    }
    const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: caps, paused: false });
    consumer.rtpParameters.mid = m.mid;
    consumers.push(consumer);
    sections.push({ direction: 'sendonly', rtpParameters: consumer.rtpParameters });
  }
  const id = randomBytes(8).toString('hex');
  st.viewers.add(id);
  sessions.set(id, { role: 'whep', stream: name, transport, consumers });
  return [201, buildAnswer({ transport, setup: offer.answerSetup, offer, sections }), `/whep/${name}/${id}`];
}

function endSession(id) {
  const s = sessions.get(id);
  if (!s) return;
  sessions.delete(id);
  s.transport.close();
  const st = streams.get(s.stream);
  if (s.role === 'whip') {
    streams.delete(s.stream);
    for (const v of st?.viewers ?? []) endSession(v);
  } else {
    st?.viewers.delete(id);
  }
}

const server = createServer((req, res) => {
  const m = /^\/(whip|whep)\/([A-Za-z0-9_.~-]{1,64})(?:\/([0-9a-f]{16}))?$/.exec(req.url ?? '');
  if (!m) return void res.writeHead(404).end();
  if (req.method === 'DELETE' && m[3]) {
    endSession(m[3]);
    return void res.writeHead(200).end();
  }
  if (req.method !== 'POST' || m[3]) return void res.writeHead(405).end();
  let body = '';
  req.on('data', (d) => {
    body += d;
    if (body.length > 65536) req.destroy();
  });
  req.on('end', () => {
    (m[1] === 'whip' ? onWhip : onWhep)(m[2], body).then(
      ([status, text, location]) => {
        res.writeHead(status, { 'Content-Type': status === 201 ? 'application/sdp' : 'text/plain', ...(location ? { Location: location } : {}) });
        res.end(text);
      },
      (err) => res.writeHead(400, { 'Content-Type': 'text/plain' }).end(String(err?.message ?? err)),
    );
  });
});

/** user and system CPU time (µs) and RSS (bytes) of one process, from /proc. */
function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 1e6 / 100; // USER_HZ is 100 on Linux
  const rssPages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  return { user: Number(f[11]) * tick, system: Number(f[12]) * tick, rss: rssPages * 4096 };
}

async function stats() {
  // Egress first (one getStats round trip per consumer), then CPU: the counting's own cost falls
  // outside the next window's start and inside its end, well under 1 % of a window.
  let txPackets = 0;
  let viewers = 0;
  const consumers = [];
  for (const s of sessions.values()) {
    if (s.role === 'whep') viewers++;
    consumers.push(...s.consumers);
  }
  for (let i = 0; i < consumers.length; i += 200) {
    const batch = await Promise.all(consumers.slice(i, i + 200).map((c) => c.getStats().catch(() => [])));
    for (const list of batch) for (const x of list) if (x.type === 'outbound-rtp') txPackets += x.packetCount;
  }
  const self = process.cpuUsage();
  let user = self.user;
  let system = self.system;
  let rss = process.memoryUsage.rss();
  let workerCpuUs = 0;
  for (const { worker } of workers) {
    const u = procUsage(worker.pid);
    user += u.user;
    system += u.system;
    workerCpuUs += u.user + u.system;
    rss += u.rss;
  }
  return { event: 'stats', viewers, txPackets, cpuUserUs: user, cpuSystemUs: system, workerCpuUs, rss };
}

server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port, workers: workerCount }));
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'stats') stats().then(out, (err) => out({ event: 'error', message: String(err) }));
    else if (line === 'exit') process.exit(0);
  })
  .on('close', () => process.exit(0));
