// One WHEP viewer of real encoded media (not the synthetic test payloads of viewers.mjs): counts
// what arrives per kind, depacketizes H.264 (RFC 6184: single NAL, STAP-A, FU-A) into an Annex B
// file that a test can decode with FFmpeg, and checks Opus packets carry a TOC byte.
// Usage: node media-viewer.mjs <whep-url> <annexb-out-file>
// stdin: "report" prints {event:'report', ...}; "leave" DELETEs the session; "exit".
import { writeFileSync } from 'node:fs';
import nodeDataChannel from 'node-datachannel';
import { gatheredOffer, newPeer, parseRtp, send, watchdog } from './common.mjs';
import { signal } from './signal.mjs';

const [url, outFile] = process.argv.slice(2);
watchdog(55000);

const pc = newPeer('media-viewer', Number(process.env.VIEWER_PORT_BASE) || 30000 + (process.pid % 20) * 1000);
const v = new nodeDataChannel.Video('0', 'RecvOnly');
v.addH264Codec(96);
const a = new nodeDataChannel.Audio('1', 'RecvOnly');
a.addOpusCodec(111);
const stats = { video: { packets: 0, bytes: 0 }, audio: { packets: 0, bytes: 0, badToc: 0 }, nalTypes: {}, state: 'new' };
const annexb = [];
let fu = null;
const START = Buffer.from([0, 0, 0, 1]);
const nal = (buf) => {
  const type = buf[0] & 0x1f;
  stats.nalTypes[type] = (stats.nalTypes[type] ?? 0) + 1;
  annexb.push(START, buf);
};
function onVideo(p) {
  stats.video.packets++;
  stats.video.bytes += p.payload.length;
  const d = p.payload;
  const type = d[0] & 0x1f;
  if (type >= 1 && type <= 23) nal(Buffer.from(d));
  else if (type === 24) {
    for (let off = 1; off + 2 <= d.length; ) {
      const len = d.readUInt16BE(off);
      off += 2;
      if (len === 0 || off + len > d.length) break;
      nal(Buffer.from(d.subarray(off, off + len)));
      off += len;
    }
  } else if (type === 28 && d.length > 2) {
    const start = d[1] & 0x80, end = d[1] & 0x40;
    if (start) fu = [Buffer.from([(d[0] & 0xe0) | (d[1] & 0x1f)])];
    if (fu) fu.push(Buffer.from(d.subarray(2)));
    if (end && fu) {
      nal(Buffer.concat(fu));
      fu = null;
    }
  }
}
const track = (kind) => (msg) => {
  const p = parseRtp(msg);
  if (!p) return;
  if (kind === 'video') onVideo(p);
  else {
    stats.audio.packets++;
    stats.audio.bytes += p.payload.length;
    if (p.payload.length < 1) stats.audio.badToc++;
  }
};
const vt = pc.addTrack(v);
const at = pc.addTrack(a);
vt.onMessage(track('video'));
at.onMessage(track('audio'));
// A collected Track stops delivering (shared/PEERS.md): keep them all reachable.
globalThis.keepAlive = [pc, v, a, vt, at];
pc.onStateChange((s) => {
  stats.state = s;
});
const offer = await gatheredOffer(pc);
const signaled = await signal(url, offer, 'viewer');
pc.setRemoteDescription(signaled.answer, 'answer');
send({ event: 'answered' });

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  for (const line of chunk.split('\n').filter(Boolean)) {
    if (line === 'report') {
      if (outFile) writeFileSync(outFile, Buffer.concat(annexb));
      send({ event: 'report', ...stats, tracks: globalThis.keepAlive.length });
    } else if (line === 'leave') {
      signaled.stop().then((status) => send({ event: 'left', status }));
    } else if (line === 'exit') {
      pc.close();
      process.exit(0);
    }
  }
});
