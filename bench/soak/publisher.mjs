// Soak publisher: one WHIP session sending H.264- and Opus-labelled RTP (payloads carry
// counters, as in test/peers) at a steady rate until told "stop" on stdin.
// Usage: node publisher.mjs <whip-url> <packets-per-second-per-track> <watchdog-seconds>
import nodeDataChannel from 'node-datachannel';
import { gatheredOffer, makePayload, newPeer, postOffer, rtpPacket, send, watchdog } from '../../test/peers/common.mjs';

const [url, ppsArg = '25', limitArg = '600'] = process.argv.slice(2);
const pps = Number(ppsArg);
watchdog(Number(limitArg) * 1000);

const pc = newPeer('soak-publisher', 50000);
const VIDEO_PT = 102, AUDIO_PT = 111;
const v = new nodeDataChannel.Video('0', 'SendOnly');
v.addH264Codec(VIDEO_PT);
v.addSSRC(1111, 'pub', 'stream', 'video');
const a = new nodeDataChannel.Audio('1', 'SendOnly');
a.addOpusCodec(AUDIO_PT);
a.addSSRC(2222, 'pub', 'stream', 'audio');
const tracks = [
  { kind: 1, pt: VIDEO_PT, ssrc: 1111, clock: 90000, size: 900, track: pc.addTrack(v) },
  { kind: 0, pt: AUDIO_PT, ssrc: 2222, clock: 48000, size: 120, track: pc.addTrack(a) },
];
for (const t of tracks) t.track.onMessage(() => {}); // RTCP from the relay; must be drained
const { answer, location } = await postOffer(url, await gatheredOffer(pc));
pc.setRemoteDescription(answer, 'answer');
const openBy = Date.now() + 15000;
while (!tracks.every((t) => t.track.isOpen())) {
  if (Date.now() > openBy) {
    send({ event: 'error', error: 'publisher tracks did not open in 15 s' });
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 10));
}
send({ event: 'open', location });

let i = 0;
const timer = setInterval(() => {
  for (const t of tracks) {
    const payload = makePayload(t.kind, i, t.size);
    t.track.sendMessageBinary(rtpPacket({ pt: t.pt, seq: (1000 + i) & 0xffff, ts: Math.round(i * (t.clock / pps)), ssrc: t.ssrc, marker: true, payload }));
  }
  i++;
}, 1000 / pps);

process.stdin.setEncoding('utf8');
process.stdin.on('data', async (chunk) => {
  if (!chunk.split('\n').includes('stop')) return;
  clearInterval(timer);
  const res = await fetch(location, { method: 'DELETE' }).catch(() => null);
  send({ event: 'stopped', sent: i, status: res?.status ?? 0 });
  pc.close();
  process.exit(0);
});
