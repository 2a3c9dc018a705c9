// Soak viewer host: many WHEP viewers in one process, joining and leaving on command.
// stdin: "join <id>" | "leave <id>" | "exit". stdout (JSON lines):
//   {event:'joined', id, ms}        answer applied (ms since join)
//   {event:'media', id, ms}         first RTP packet with a valid test payload (ms since join)
//   {event:'left', id, packets, bad} after DELETE and close
//   {event:'failed', id, error}
// Usage: node viewers.mjs <whep-url> <port-base> <watchdog-seconds>
import nodeDataChannel from 'node-datachannel';
import { MAGIC, gatheredOffer, newPeer, parseRtp, postOffer, send, watchdog } from '../../test/peers/common.mjs';

const [url, portBaseArg, limitArg = '600'] = process.argv.slice(2);
const portBase = Number(portBaseArg);
watchdog(Number(limitArg) * 1000);

const viewers = new Map();

async function join(id) {
  const t0 = performance.now();
  // newPeer gives each PeerConnection a 1000-port range; the process's ranges overlap on purpose
  // (libjuice picks a free port inside it).
  const pc = newPeer(`v${id}`, portBase);
  const v = new nodeDataChannel.Video('0', 'RecvOnly');
  v.addH264Codec(96);
  const a = new nodeDataChannel.Audio('1', 'RecvOnly');
  a.addOpusCodec(111);
  const r = { id, pc, location: null, packets: 0, bad: 0, media: false, leaving: false };
  viewers.set(id, r);
  const onMessage = (msg) => {
    const p = parseRtp(msg);
    if (!p) return;
    if (p.payload.length < 9 || p.payload.readUInt32BE(0) !== MAGIC) {
      r.bad++;
      return;
    }
    r.packets++;
    if (!r.media) {
      r.media = true;
      send({ event: 'media', id, ms: Math.round(performance.now() - t0) });
    }
  };
  const vt = pc.addTrack(v);
  const at = pc.addTrack(a);
  vt.onMessage(onMessage);
  at.onMessage(onMessage);
  r.tracks = [vt, at];
  try {
    const { answer, location } = await postOffer(url, await gatheredOffer(pc));
    r.location = location;
    if (r.leaving) {
      // Left while the POST was in flight: end the session the relay just made.
      await fetch(location, { method: 'DELETE' }).catch(() => null);
      return;
    }
    pc.setRemoteDescription(answer, 'answer');
    send({ event: 'joined', id, ms: Math.round(performance.now() - t0) });
  } catch (err) {
    send({ event: 'failed', id, error: String(err?.message ?? err).slice(0, 300) });
  }
}

async function leave(id) {
  const r = viewers.get(id);
  if (!r) return;
  r.leaving = true;
  viewers.delete(id);
  let status = 0;
  if (r.location) {
    const res = await fetch(r.location, { method: 'DELETE' }).catch(() => null);
    status = res?.status ?? 0;
  }
  try {
    r.pc.close();
  } catch {
    // already closed by the remote side
  }
  send({ event: 'left', id, packets: r.packets, bad: r.bad, status });
}

process.stdin.setEncoding('utf8');
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop();
  for (const line of lines) {
    const [cmd, arg] = line.trim().split(' ');
    if (cmd === 'join') void join(Number(arg));
    else if (cmd === 'leave') void leave(Number(arg));
    else if (cmd === 'exit') {
      for (const r of viewers.values()) r.pc.close();
      process.exit(0);
    }
  }
});
send({ event: 'ready' });
