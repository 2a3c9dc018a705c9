// A WHIP publisher: node-datachannel sends H.264- and Opus-labelled RTP whose payloads carry
// counters. Usage: node publisher.mjs <whip-url> <packets> <interval-ms> [video|audio|both] [codec]
// (<whip-url> may be ws://host:port/ws?stream=<name> to publish over WebSocket signaling.)
// PUB_SIMULCAST=1: video goes out as two simulcast layers, rid "l" (SSRC 1112, small packets,
// counters + 1e6) and rid "h" (SSRC 1111), each tagged with the rtp-stream-id extension.
// PUB_KEYFRAME_ON_PLI=1: the only keyframes are the first packet and the next one after a PLI.
// PUB_H264_AU=1: each H.264 keyframe picture goes out as encoders send it (h264KeyframePart).
// PUB_SWITCH_SSRC_AT=<n>: before packet n every track goes quiet 300 ms, then continues on a
// new SSRC with new sequence numbers and timestamps (an encoder restart), video at a keyframe.
// PUB_RESTART_SEQ_AT=<n>: at packet n the sequence numbers jump on the same SSRC, at a keyframe.
// PUB_BURST=<n>: packets go out n at a time back to back, then the interval (an unpaced encoder).
// PUB_FRAME=<n>: video packets carry the RTP marker bit only on every n-th (a frame's last),
// instead of on each.
// stdin "rtcp": reports the shape (rtcpShape) of every RTCP datagram the relay sent.
import nodeDataChannel from 'node-datachannel';
import { codecPrefix, gatheredOffer, h264KeyframePart, KEYFRAME_EVERY, makePayload, newPeer, rtcpShape, rtpPacket, send, senderReport, watchdog } from './common.mjs';
import { signal } from './signal.mjs';

const [url, countArg = '200', intervalArg = '10', kinds = 'both', codec = 'H264'] = process.argv.slice(2);
const total = Number(countArg);
const interval = Number(intervalArg);
const BURST = Math.max(1, Number(process.env.PUB_BURST) || 1);
const FRAME = Math.max(1, Number(process.env.PUB_FRAME) || 1);
watchdog(Number(process.env.PEER_WATCHDOG_MS) || 60000);

const pc = newPeer('publisher', 20000 + (process.pid % 50) * 100);
const tracks = [];
// PUB_VIDEO_PT=<pt>: video on another payload type (a republish whose offer numbers differ).
const VIDEO_PT = Number(process.env.PUB_VIDEO_PT) || 102, AUDIO_PT = 111;
if (kinds !== 'audio') {
  const v = new nodeDataChannel.Video('0', 'SendOnly');
  if (codec === 'VP8') v.addVP8Codec(VIDEO_PT);
  else if (codec === 'VP9') v.addVP9Codec(VIDEO_PT);
  else if (codec === 'AV1') v.addAV1Codec(VIDEO_PT);
  else v.addH264Codec(VIDEO_PT);
  v.addSSRC(1111, 'pub', 'stream', 'video');
  tracks.push({ kind: 1, pt: VIDEO_PT, ssrc: 1111, seqBase: 1000, tsOff: 0, clock: 90000, track: pc.addTrack(v) });
}
if (kinds !== 'video') {
  const a = new nodeDataChannel.Audio('1', 'SendOnly');
  a.addOpusCodec(AUDIO_PT);
  a.addSSRC(2222, 'pub', 'stream', 'audio');
  tracks.push({ kind: 0, pt: AUDIO_PT, ssrc: 2222, seqBase: 1000, tsOff: 0, clock: 48000, track: pc.addTrack(a) });
}
// PUB_NACK=1: answer the relay's NACKs from libdatachannel's own packet store.
if (process.env.PUB_NACK === '1') for (const t of tracks) t.track.setMediaHandler(new nodeDataChannel.RtcpNackResponder(2048));
let plis = 0;
let keyframeAsked = false;
const rtcp = [];
for (const t of tracks) {
  t.track.onMessage((msg) => {
    const shape = rtcpShape(msg);
    if (shape) rtcp.push(shape);
    // RTCP from the relay: count PLIs (PSFB, FMT 1) anywhere in the compound packet.
    for (let off = 0; off + 4 <= msg.length; off += (msg.readUInt16BE(off + 2) + 1) * 4) {
      if (msg[off + 1] === 206 && (msg[off] & 0x1f) === 1) {
        plis++;
        keyframeAsked = true;
      }
    }
  });
}
const ON_PLI = process.env.PUB_KEYFRAME_ON_PLI === '1';
const H264_AU = process.env.PUB_H264_AU === '1' && codec === 'H264';
const SWITCH_AT = Number(process.env.PUB_SWITCH_SSRC_AT ?? -1);
const RESTART_AT = Number(process.env.PUB_RESTART_SEQ_AT ?? -1);
// The video packet for counter i: its payload and RTP timestamp.
function videoPacket(t, i) {
  const ts = i * (t.clock / 50) + t.tsOff;
  const part = i % KEYFRAME_EVERY;
  if (H264_AU && part < 3 && !t.forceKey) {
    return { payload: Buffer.concat([h264KeyframePart(part), makePayload(1, i, 900, 'none')]), ts: ts - part * (t.clock / 50) };
  }
  let key;
  if (ON_PLI) key = i === 0 || keyframeAsked;
  if (t.forceKey) key = true;
  if (key) keyframeAsked = false;
  t.forceKey = false;
  return { payload: makePayload(1, i, 900, codec, key), ts };
}
pc.onStateChange((s) => send({ event: 'state', state: s }));
const SIMULCAST = process.env.PUB_SIMULCAST === '1';
const RID_EXT = 4;
let offer = await gatheredOffer(pc);
if (SIMULCAST) {
  // libdatachannel cannot offer simulcast itself: add what a browser's offer would say.
  offer = offer.replace(/(m=video[^\r\n]*\r?\n(?:(?!m=)[^\r\n]*\r?\n)*?)(a=mid:0\r?\n)/, (_, head, mid) =>
    `${head}${mid}a=extmap:${RID_EXT} urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=rid:l send\r\na=rid:h send\r\na=simulcast:send l;h\r\n`);
}
// PUB_SETUP=passive: offer the DTLS server role, as FFmpeg's WHIP muxer does (RFC 8842 §5): the
// relay must answer a=setup:active and open the handshake; libdatachannel follows the answer.
if (process.env.PUB_SETUP) offer = offer.replace(/a=setup:actpass/g, `a=setup:${process.env.PUB_SETUP}`);
const signaled = await signal(url, offer, 'publisher');
pc.setRemoteDescription(signaled.answer, 'answer');
send({ event: 'answered' });

await new Promise((resolve) => {
  const check = setInterval(() => {
    if (tracks.every((t) => t.track.isOpen())) {
      clearInterval(check);
      resolve();
    }
  }, 10);
});
send({ event: 'open' });

// Wait for the go signal so that viewers can join first.
process.stdin.setEncoding('utf8');
let started = false;
process.stdin.on('data', async (line) => {
  for (const cmd of line.split('\n').filter(Boolean)) {
    if (cmd === 'start' && !started) {
      started = true;
      // Sender reports about once a second while connected, as encoders send them: the relay
      // takes a publisher silent for ~2 s (no RTP, no RTCP) as gone.
      const sr = setInterval(() => {
        for (const t of tracks) if (t.track.isOpen() && t.packets) t.track.sendMessageBinary(senderReport({ ssrc: t.ssrc, rtpTs: t.lastTs, packets: t.packets, octets: t.octets }));
      }, 1000);
      sr.unref();
      let sent = 0;
      // PEER_TIMES=1: the wall-clock send time of each video packet (ms, fractional), for latency.
      const times = process.env.PEER_TIMES === '1' ? [] : undefined;
      for (let i = 0; i < total; i++) {
        times?.push(performance.timeOrigin + performance.now());
        if (i === SWITCH_AT) {
          await new Promise((r) => setTimeout(r, 300));
          for (const t of tracks) Object.assign(t, { ssrc: t.ssrc + 0x10000, seqBase: t.seqBase + 7777, tsOff: t.tsOff + 123456, forceKey: true });
        }
        if (i === RESTART_AT) for (const t of tracks) Object.assign(t, { seqBase: t.seqBase + 20000, forceKey: true });
        for (const t of tracks) {
          if (SIMULCAST && t.kind === 1) {
            for (const [rid, ssrc, base, size] of [['l', 1112, 1_000_000, 300], ['h', 1111, 0, 900]]) {
              const payload = Buffer.concat([codecPrefix(codec, i), makePayload(1, base + i, size, 'none')]);
              const ok = t.track.sendMessageBinary(rtpPacket({ pt: t.pt, seq: 3000 + i, ts: i * 1800, ssrc, marker: true, payload, rid: [RID_EXT, rid] }));
              if (ok) sent++;
            }
            continue;
          }
          const { payload, ts } = t.kind === 1 ? videoPacket(t, i) : { payload: makePayload(0, i, 120), ts: i * (t.clock / 50) + t.tsOff };
          const marker = t.kind !== 1 || (i + 1) % FRAME === 0;
          const ok = t.track.sendMessageBinary(rtpPacket({ pt: t.pt, seq: t.seqBase + i, ts, ssrc: t.ssrc, marker, payload }));
          if (ok) {
            sent++;
            t.lastTs = ts;
            t.packets = (t.packets ?? 0) + 1;
            t.octets = (t.octets ?? 0) + payload.length;
          }
        }
        if ((i + 1) % BURST === 0) await new Promise((r) => setTimeout(r, interval));
      }
      send({ event: 'sent', count: total, packets: sent, ...(times ? { times } : {}) });
    } else if (cmd === 'rtcp') {
      send({ event: 'rtcp', datagrams: rtcp });
    } else if (cmd === 'plis') {
      send({ event: 'plis', count: plis });
    } else if (cmd === 'delete') {
      send({ event: 'deleted', status: await signaled.stop() });
    } else if (cmd === 'exit') {
      pc.close();
      process.exit(0);
    }
  }
});
