// A minimal fan-out relay on node-datachannel, the peer a Node user might pick instead of halfsec:
// WHIP/WHEP over node:http; every RTP packet the publisher's track delivers to JavaScript is sent
// to each viewer's track. Same stdin/stdout protocol as ../fanout/relay-child.mjs.
// Usage: node ndc-relay.mjs
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import nodeDataChannel from 'node-datachannel';

setTimeout(() => process.exit(3), 30 * 60 * 1000).unref();
const out = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);

const streams = new Map(); // name -> { publisher, viewers: Map<id, {pc, track}> }
const sessions = new Map(); // id -> { stream, pc, role }
let txPackets = 0;
let rxPackets = 0;
let portNext = 50000 + (process.pid % 10) * 1000;

function newPc(id) {
  // The server side muxes every peer on one port (libjuice allows that on one side only).
  const port = portNext++;
  return new nodeDataChannel.PeerConnection(id, {
    iceServers: [],
    bindAddress: '127.0.0.1',
    enableIceUdpMux: true,
    portRangeBegin: port,
    portRangeEnd: port,
  });
}

function answer(pc, offer) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('gathering timed out')), 5000);
    pc.onGatheringStateChange((s) => {
      if (s === 'complete') {
        clearTimeout(t);
        resolve(pc.localDescription().sdp);
      }
    });
    pc.setRemoteDescription(offer, 'offer');
  });
}

async function onOffer(role, name, sdp) {
  const st = streams.get(name);
  if (role === 'whip' && st) return [409, 'stream already has a publisher'];
  if (role === 'whep' && !st) return [404, 'stream is not live'];
  const id = randomBytes(8).toString('hex');
  const pc = newPc(id);
  const s = { id, stream: name, pc, role, tracks: [] };
  pc.onTrack((track) => {
    s.tracks.push(track);
    if (role === 'whip') {
      track.onMessage((msg) => {
        if (msg.length < 12 || (msg[1] >= 192 && msg[1] <= 223)) return;
        rxPackets++;
        const v = streams.get(name)?.viewers;
        if (!v) return;
        for (const viewer of v.values()) {
          const t = viewer.tracks[0];
          if (t?.isOpen() && t.sendMessageBinary(msg)) txPackets++;
        }
      });
    } else {
      track.onMessage(() => undefined);
    }
  });
  pc.onStateChange((state) => {
    if (state === 'failed' || state === 'closed') endSession(id);
  });
  const ans = await answer(pc, sdp);
  sessions.set(id, s);
  if (role === 'whip') streams.set(name, { publisher: s, viewers: new Map() });
  else streams.get(name)?.viewers.set(id, s);
  return [201, ans, `/${role}/${name}/${id}`];
}

function endSession(id) {
  const s = sessions.get(id);
  if (!s) return;
  sessions.delete(id);
  const st = streams.get(s.stream);
  if (s.role === 'whip' && st?.publisher === s) {
    for (const v of st.viewers.keys()) endSession(v);
    streams.delete(s.stream);
  } else {
    st?.viewers.delete(id);
  }
  try {
    s.pc.close();
  } catch {
    // already closed
  }
}

const server = createServer((req, res) => {
  const m = /^\/(whip|whep)\/([A-Za-z0-9_.~-]+)(?:\/([0-9a-f]+))?$/.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  if (req.method === 'DELETE' && m[3]) {
    endSession(m[3]);
    res.writeHead(200).end();
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  let body = '';
  req.on('data', (d) => {
    body += d;
    if (body.length > 65536) req.destroy();
  });
  req.on('end', () => {
    onOffer(m[1], m[2], body).then(
      ([status, text, location]) => {
        res.writeHead(status, { 'Content-Type': status === 201 ? 'application/sdp' : 'text/plain', ...(location ? { Location: location } : {}) });
        res.end(text);
      },
      (err) => res.writeHead(500).end(String(err?.message ?? err)),
    );
  });
});

server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'stats') {
      const cpu = process.cpuUsage();
      let viewers = 0;
      for (const st of streams.values()) viewers += st.viewers.size;
      out({ event: 'stats', viewers, txPackets, rxPackets, dropped: 0, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: process.memoryUsage.rss() });
    } else if (line === 'exit') {
      process.exit(0);
    }
  })
  .on('close', () => process.exit(0));
