// A WHIP publisher: node-datachannel sends H.264- and Opus-labelled RTP whose payloads carry
// counters. Usage: node publisher.mjs <whip-url> <packets> <interval-ms> [video|audio|both] [codec]
// (<whip-url> may be ws://host:port/ws?stream=<name> to publish over WebSocket signaling.)
// PUB_SIMULCAST=1: video goes out as two simulcast layers, rid "l" (SSRC 1112, small packets,
// counters + 1e6) and rid "h" (SSRC 1111), each tagged with the rtp-stream-id extension.
import nodeDataChannel from 'node-datachannel';
import { codecPrefix, gatheredOffer, makePayload, newPeer, rtpPacket, send, senderReport, watchdog } from './common.mjs';
import { signal } from './signal.mjs';

const [url, countArg = '200', intervalArg = '10', kinds = 'both', codec = 'H264'] = process.argv.slice(2);
const total = Number(countArg);
const interval = Number(intervalArg);
watchdog(60000);

const pc = newPeer('publisher', 20000 + (process.pid % 50) * 100);
const tracks = [];
const VIDEO_PT = 102, AUDIO_PT = 111;
if (kinds !== 'audio') {
  const v = new nodeDataChannel.Video('0', 'SendOnly');
  if (codec === 'VP8') v.addVP8Codec(VIDEO_PT);
  else v.addH264Codec(VIDEO_PT);
  v.addSSRC(1111, 'pub', 'stream', 'video');
  tracks.push({ kind: 1, pt: VIDEO_PT, ssrc: 1111, clock: 90000, track: pc.addTrack(v) });
}
if (kinds !== 'video') {
  const a = new nodeDataChannel.Audio('1', 'SendOnly');
  a.addOpusCodec(AUDIO_PT);
  a.addSSRC(2222, 'pub', 'stream', 'audio');
  tracks.push({ kind: 0, pt: AUDIO_PT, ssrc: 2222, clock: 48000, track: pc.addTrack(a) });
}
// PUB_NACK=1: answer the relay's NACKs from libdatachannel's own packet store.
if (process.env.PUB_NACK === '1') for (const t of tracks) t.track.setMediaHandler(new nodeDataChannel.RtcpNackResponder(2048));
let plis = 0;
for (const t of tracks) {
  t.track.onMessage((msg) => {
    // RTCP from the relay: count PLIs (PSFB, FMT 1) anywhere in the compound packet.
    for (let off = 0; off + 4 <= msg.length; off += (msg.readUInt16BE(off + 2) + 1) * 4) {
      if (msg[off + 1] === 206 && (msg[off] & 0x1f) === 1) plis++;
    }
  });
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
      for (let i = 0; i < total; i++) {
        for (const t of tracks) {
          if (SIMULCAST && t.kind === 1) {
            for (const [rid, ssrc, base, size] of [['l', 1112, 1_000_000, 300], ['h', 1111, 0, 900]]) {
              const payload = Buffer.concat([codecPrefix(codec, i), makePayload(1, base + i, size, 'none')]);
              const ok = t.track.sendMessageBinary(rtpPacket({ pt: t.pt, seq: 3000 + i, ts: i * 1800, ssrc, marker: true, payload, rid: [RID_EXT, rid] }));
              if (ok) sent++;
            }
            continue;
          }
          const payload = makePayload(t.kind, i, t.kind === 1 ? 900 : 120, codec);
          const ok = t.track.sendMessageBinary(rtpPacket({ pt: t.pt, seq: 1000 + i, ts: i * (t.clock / 50), ssrc: t.ssrc, marker: true, payload }));
          if (ok) {
            sent++;
            t.lastTs = i * (t.clock / 50);
            t.packets = (t.packets ?? 0) + 1;
            t.octets = (t.octets ?? 0) + payload.length;
          }
        }
        await new Promise((r) => setTimeout(r, interval));
      }
      send({ event: 'sent', count: total, packets: sent });
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
