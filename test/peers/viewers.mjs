// N WHEP viewers in one process; each records the counters of the RTP payloads it receives.
// Usage: node viewers.mjs <whep-url> <count> [codec]  (<whep-url> may be ws://host:port/ws?stream=<name>)
// stdin commands: "report" prints per-viewer results; "leave <i>" DELETEs viewer i; "exit".
import nodeDataChannel from 'node-datachannel';
import { gatheredOffer, nackPacket, newPeer, parseRtp, payloadStart, rembPacket, rtcpFeedback, rtcpShape, send, watchdog } from './common.mjs';
import { signal } from './signal.mjs';

const [url, countArg = '1', codec = 'H264', mode = ''] = process.argv.slice(2);
const count = Number(countArg);
watchdog(Number(process.env.PEER_WATCHDOG_MS) || 60000);

function newViewer(i) {
  // VIEWER_PORT_BASE: several viewer processes in one test must not share port ranges.
  const pc = newPeer(`viewer${i}`, (Number(process.env.VIEWER_PORT_BASE) || 30000 + (process.pid % 20) * 1000) + i * 40);
  const v = new nodeDataChannel.Video('0', 'RecvOnly');
  if (codec === 'VP8') v.addVP8Codec(96);
  else if (codec === 'VP9') v.addVP9Codec(96);
  else if (codec === 'AV1') v.addAV1Codec(96);
  else v.addH264Codec(96);
  const a = new nodeDataChannel.Audio('1', 'RecvOnly');
  a.addOpusCodec(111);
  const r = { index: i, pc, state: 'new', stop: null, received: { 0: [], 1: [] }, bad: 0, pts: new Set(), ssrcs: new Set(), lastSeq: {}, seqGaps: 0, mediaSsrc: {}, nacked: 0, rtcp: [], kindSsrcs: { 0: new Set(), 1: new Set() }, answeredAt: 0, firstVideoAt: 0 };
  const onMessage = (msg) => {
    const p = parseRtp(msg);
    if (!p) {
      const shape = rtcpShape(msg);
      if (shape) r.rtcp.push({ ...shape, at: Date.now() });
      return;
    }
    // Video payloads carry codec bytes (see codecPrefix) before the test payload.
    const start = payloadStart(p.payload);
    if (start < 0 || p.payload.length < start + 9) {
      r.bad++;
      return;
    }
    p.payload = p.payload.subarray(start);
    const kind = p.payload.readUInt8(4);
    const counter = p.payload.readUInt32BE(5);
    // Every byte after the header is derived from the counter: a corrupted payload shows here.
    for (let j = 9; j < p.payload.length; j++) {
      if (p.payload[j] !== ((counter * 31 + j) & 0xff)) {
        r.bad++;
        return;
      }
    }
    const last = r.lastSeq[kind];
    const ahead = last === undefined ? 1 : (p.seq - last) & 0xffff;
    if (last !== undefined && ahead !== 1) r.seqGaps++;
    if (ahead >= 1 && ahead < 0x8000) r.lastSeq[kind] = p.seq;
    r.mediaSsrc[kind] = p.ssrc;
    // VIEWER_NACK=1: NACK every hole at once and again while it stays open (libdatachannel
    // sends no NACKs of its own, see shared/PEERS.md).
    if (process.env.VIEWER_NACK === '1' && ahead > 1 && ahead < 200) {
      const missing = [];
      for (let s = (last + 1) & 0xffff; s !== p.seq; s = (s + 1) & 0xffff) missing.push(s);
      const track = r.tracks[kind === 1 ? 0 : 1];
      const ask = (tries) => {
        const still = missing.filter((s) => !r.seen[kind].has(s));
        if (still.length === 0 || !track.isOpen()) return;
        r.nacked += still.length;
        track.sendMessageBinary(nackPacket(0x5eed, p.ssrc, still));
        if (tries > 1) setTimeout(() => ask(tries - 1), 60);
      };
      ask(4);
    }
    r.seen[kind].add(p.seq);
    r.pts.add(p.pt);
    r.ssrcs.add(p.ssrc);
    r.kindSsrcs[kind]?.add(p.ssrc);
    if (kind === 1 && !r.firstVideoAt) r.firstVideoAt = Date.now();
    r.received[kind]?.push(counter);
    // VIEWER_TIMES=1: the wall-clock arrival time of each video packet (ms, fractional).
    if (kind === 1 && process.env.VIEWER_TIMES === '1') r.videoAt.push(performance.timeOrigin + performance.now());
  };
  r.videoAt = [];
  r.seen = { 0: new Set(), 1: new Set() };
  const vt = pc.addTrack(v);
  const at = pc.addTrack(a);
  vt.onMessage(onMessage);
  at.onMessage(onMessage);
  pc.onStateChange((s) => {
    r.state = s;
  });
  r.tracks = [vt, at];
  return r;
}

const viewers = [];
for (let i = 0; i < count; i++) {
  const r = newViewer(i);
  let offer = await gatheredOffer(r.pc);
  // "badfp": announce a certificate fingerprint that is not ours; the relay must refuse DTLS.
  if (mode === 'badfp') offer = offer.replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/, (_, p, b) => p + (b === '00' ? '01' : '00'));
  // "passive": offer the DTLS server role; the relay must answer active and be the client.
  if (mode === 'passive') offer = offer.replace(/a=setup:actpass/g, 'a=setup:passive');
  const signaled = await signal(url, offer, 'viewer');
  r.stop = signaled.stop;
  // Join time counts from the answer: media can reach onMessage before the 'connected' callback.
  r.answeredAt = Date.now();
  r.pc.setRemoteDescription(signaled.answer, 'answer');
  viewers.push(r);
}
const deadline = Date.now() + (mode === 'badfp' ? 3000 : 15000);
// A track the relay rejected (the stream lacks that kind) never opens: count the video track.
const isReady = (r) => r.state === 'connected' && r.tracks[0].isOpen();
while (Date.now() < deadline && !viewers.every(isReady)) {
  await new Promise((res) => setTimeout(res, 20));
}
send({ event: 'ready', open: viewers.filter(isReady).length });

process.stdin.setEncoding('utf8');
process.stdin.on('data', async (chunk) => {
  for (const line of chunk.split('\n').filter(Boolean)) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'report') {
      send({
        event: 'report',
        viewers: viewers.map((r) => ({
          index: r.index,
          state: r.state,
          video: r.received[1],
          audio: r.received[0],
          ...(process.env.VIEWER_TIMES === '1' ? { videoAt: r.videoAt } : {}),
          bad: r.bad,
          seqGaps: r.seqGaps,
          nacked: r.nacked,
          pts: [...r.pts],
          ssrcs: r.ssrcs.size,
          videoSsrcs: r.kindSsrcs[1].size,
          audioSsrcs: r.kindSsrcs[0].size,
          rtcp: r.rtcp,
          // From the peer connection's "connected" to the first video packet, ms (-1: none yet).
          firstVideoMs: r.firstVideoAt && r.answeredAt ? r.firstVideoAt - r.answeredAt : -1,
        })),
      });
    } else if (cmd === 'pli') {
      // Every viewer asks for a keyframe at once: the relay must merge these.
      for (const r of viewers) {
        if (r.tracks[0].isOpen() && r.mediaSsrc[1] !== undefined) r.tracks[0].sendMessageBinary(rtcpFeedback(206, 1, 0x5eed, r.mediaSsrc[1]));
      }
      send({ event: 'pli-sent' });
    } else if (cmd === 'remb') {
      const [, idx, bps] = line.split(' ');
      const r = viewers[Number(idx)];
      if (r.tracks[0].isOpen() && r.mediaSsrc[1] !== undefined) r.tracks[0].sendMessageBinary(rembPacket(0x5eed, r.mediaSsrc[1], Number(bps)));
      send({ event: 'remb-sent' });
    } else if (cmd === 'leave') {
      const r = viewers[Number(arg)];
      const status = await r.stop();
      r.pc.close();
      send({ event: 'left', index: r.index, status });
    } else if (cmd === 'exit') {
      for (const r of viewers) r.pc.close();
      process.exit(0);
    }
  }
});
