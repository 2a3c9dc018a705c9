// Shared by the node-datachannel peer processes the integration tests spawn.
import nodeDataChannel from 'node-datachannel';

export const MAGIC = 0x48534543; // "HSEC": marks a test payload

/** A node-datachannel PeerConnection bound to loopback only (see shared/PEERS.md). */
export function newPeer(name, portBase) {
  return new nodeDataChannel.PeerConnection(name, {
    iceServers: [],
    // PEER_BIND: e.g. ::1 for a viewer over IPv6 loopback.
    bindAddress: process.env.PEER_BIND ?? '127.0.0.1',
    portRangeBegin: portBase,
    portRangeEnd: portBase + 999,
  });
}

/** Local description once ICE gathering is complete (no trickle: WHIP/WHEP take one offer). */
export function gatheredOffer(pc) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ICE gathering timed out')), 5000);
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') {
        clearTimeout(t);
        resolve(pc.localDescription().sdp);
      }
    });
    pc.setLocalDescription();
  });
}

export async function postOffer(url, sdp) {
  // PEER_TOKEN: a publish/view token for relays with tokens on.
  const auth = process.env.PEER_TOKEN ? { Authorization: `Bearer ${process.env.PEER_TOKEN}` } : {};
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth }, body: sdp });
  let body = await res.text();
  if (res.status !== 201) throw new Error(`${url}: ${res.status} ${body}`);
  // PROXY_PORT: reach the relay through a test proxy (see test/lossy-proxy.mjs).
  if (process.env.PROXY_PORT) body = body.replace(/(a=candidate:\S+ 1 udp \d+ )127\.0\.0\.1 \d+/g, `$1127.0.0.1 ${process.env.PROXY_PORT}`);
  return { answer: body, location: new URL(res.headers.get('location'), url).toString() };
}

/** An RTCP packet type 205/206 with one FCI (RFC 4585). */
export function rtcpFeedback(pt, fmt, senderSsrc, mediaSsrc, fci = Buffer.alloc(0)) {
  const b = Buffer.alloc(12);
  b[0] = 0x80 | fmt;
  b[1] = pt;
  b.writeUInt16BE((12 + fci.length) / 4 - 1, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  return Buffer.concat([b, fci]);
}

export function nackPacket(senderSsrc, mediaSsrc, seqs) {
  const fci = Buffer.alloc(4 * seqs.length);
  seqs.forEach((s, i) => fci.writeUInt16BE(s & 0xffff, 4 * i));
  return rtcpFeedback(205, 1, senderSsrc, mediaSsrc, fci);
}

export function rembPacket(senderSsrc, mediaSsrc, bps) {
  let exp = 0;
  while (bps / 2 ** exp > 0x3ffff) exp++;
  const mantissa = Math.floor(bps / 2 ** exp);
  const fci = Buffer.from([0x52, 0x45, 0x4d, 0x42, 1, (exp << 2) | (mantissa >> 16), (mantissa >> 8) & 0xff, mantissa & 0xff, 0, 0, 0, 0]);
  fci.writeUInt32BE(mediaSsrc >>> 0, 8);
  return rtcpFeedback(206, 15, senderSsrc, 0, fci);
}

export const KEYFRAME_EVERY = Number(process.env.PUB_KEYFRAME_EVERY ?? 30);

/**
 * Bytes in front of the test payload so that the relay sees the codec's own keyframe markers:
 * an IDR or non-IDR NAL header for H.264 (RFC 6184), a payload descriptor and the frame
 * header's P bit for VP8 (RFC 7741). Viewers start at a keyframe.
 */
export function codecPrefix(codec, counter, key = counter % KEYFRAME_EVERY === 0) {
  if (codec === 'VP8') return Buffer.from([0x10, key ? 0x00 : 0x01]);
  if (codec === 'H264') return Buffer.from([key ? 0x65 : 0x41]);
  // VP9 payload descriptor (RFC 9628): B (start of frame), P (inter-picture predicted) unset on a keyframe.
  if (codec === 'VP9') return Buffer.from([key ? 0x08 : 0x48]);
  // AV1 aggregation header: N (first packet of a coded video sequence) on a keyframe.
  if (codec === 'AV1') return Buffer.from([key ? 0x08 : 0x00]);
  return Buffer.alloc(0);
}

/**
 * H.264 keyframe picture as encoders packetize it (aiortc, libwebrtc): a STAP-A with SPS and
 * PPS, then the IDR's slices, each a FU-A start; one RTP timestamp. `part` 0, 1, 2.
 */
export function h264KeyframePart(part) {
  if (part === 0) return Buffer.from([0x78, 0x00, 0x04, 0x67, 0x42, 0xe0, 0x1f, 0x00, 0x02, 0x68, 0xce]);
  return Buffer.from([0x7c, 0x85]);
}

/** Where the test payload starts (its MAGIC), after whatever codec bytes lead; -1: none. */
export function payloadStart(payload) {
  for (let i = 0; i + 4 <= Math.min(payload.length, 24); i++) if (payload.readUInt32BE(i) === MAGIC) return i;
  return -1;
}

export function prefixLength(codec) {
  return codec === 'VP8' ? 2 : codec === 'H264' || codec === 'VP9' || codec === 'AV1' ? 1 : 0;
}

/** Test payload: codec prefix, magic, kind (0 audio, 1 video), counter, bytes derived from the counter. */
export function makePayload(kind, counter, size, codec = 'opus', key = undefined) {
  const prefix = key === undefined ? codecPrefix(kind === 1 ? codec : 'opus', counter) : codecPrefix(kind === 1 ? codec : 'opus', counter, key);
  const p = Buffer.alloc(size);
  p.writeUInt32BE(MAGIC, 0);
  p.writeUInt8(kind, 4);
  p.writeUInt32BE(counter, 5);
  for (let i = 9; i < size; i++) p[i] = (counter * 31 + i) & 0xff;
  return Buffer.concat([prefix, p]);
}

export function rtpPacket({ pt, seq, ts, ssrc, marker = false, payload, rid }) {
  const h = Buffer.alloc(12);
  h[0] = rid ? 0x90 : 0x80;
  h[1] = (marker ? 0x80 : 0) | pt;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  if (!rid) return Buffer.concat([h, payload]);
  // RFC 8285 one-byte header extension carrying the rid (RFC 8852), padded to a word.
  const [id, value] = rid;
  const body = Buffer.concat([Buffer.from([(id << 4) | (value.length - 1)]), Buffer.from(value)]);
  const ext = Buffer.alloc(4 + Math.ceil(body.length / 4) * 4);
  ext.writeUInt16BE(0xbede, 0);
  ext.writeUInt16BE((ext.length - 4) / 4, 2);
  body.copy(ext, 4);
  return Buffer.concat([h, ext, payload]);
}

/** An RTCP sender report (RFC 3550 §6.4.1) without report blocks, clock stamped now. */
export function senderReport({ ssrc, rtpTs, packets, octets }) {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  const ms = Date.now() + 2208988800000; // NTP era 0 starts in 1900
  b.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 8);
  b.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  b.writeUInt32BE(packets >>> 0, 20);
  b.writeUInt32BE(octets >>> 0, 24);
  return b;
}

/**
 * What one RTCP datagram holds (RFC 3550 §6.1): its first packet's type, every type, and
 * whether an SDES packet carries a CNAME; null when it is not RTCP.
 */
export function rtcpShape(buf) {
  if (buf.length < 8 || buf[0] >> 6 !== 2 || buf[1] < 192 || buf[1] > 223) return null;
  const types = [];
  let cname = false;
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    const pt = buf[off + 1];
    types.push(pt === 205 || pt === 206 ? `${pt}.${buf[off] & 0x1f}` : String(pt));
    if (pt === 202) {
      for (let q = off + 8; q + 2 <= off + len && buf[q] !== 0; q += 2 + buf[q + 1]) if (buf[q] === 1 && buf[q + 1] > 0) cname = true;
    }
    off += len;
  }
  return { first: buf[1], types, cname };
}

export function parseRtp(buf) {
  if (buf.length < 12 || buf[0] >> 6 !== 2) return null;
  const pt = buf[1] & 0x7f;
  if (buf[1] >= 200 && buf[1] <= 206) return null; // RTCP
  const cc = buf[0] & 0x0f;
  let off = 12 + 4 * cc;
  if (buf[0] & 0x10) off += 4 + 4 * buf.readUInt16BE(off + 2);
  return { pt, seq: buf.readUInt16BE(2), ts: buf.readUInt32BE(4), ssrc: buf.readUInt32BE(8), payload: buf.subarray(off) };
}

export function send(msg) {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

export function watchdog(ms) {
  setTimeout(() => {
    send({ event: 'watchdog' });
    process.exit(3);
  }, ms).unref();
}
