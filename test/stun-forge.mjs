// A STUN binding request (RFC 5389 / RFC 8445 §7.2.2) built in the test, for checks the real
// peers would not send: an attacker's check for its own session, sent from someone else's address.
import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const MAGIC = 0x2112a442;

function attr(type, value) {
  const pad = (4 - (value.length % 4)) % 4;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, Buffer.alloc(pad)]);
}

function header(length, tid) {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(0x0001, 0);
  h.writeUInt16BE(length, 2);
  h.writeUInt32BE(MAGIC, 4);
  tid.copy(h, 8);
  return h;
}

/** USERNAME is "<relay ufrag>:<own ufrag>"; MESSAGE-INTEGRITY is keyed with the relay's ice-pwd. */
export function bindingRequest({ username, pwd, useCandidate = true }) {
  const tid = randomBytes(12);
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(0x6e0001ff);
  const attrs = [attr(0x0006, Buffer.from(username)), attr(0x0024, priority), attr(0x802a, randomBytes(8))];
  if (useCandidate) attrs.push(attr(0x0025, Buffer.alloc(0)));
  let body = Buffer.concat(attrs);
  // The integrity covers the header with a length that already counts the MESSAGE-INTEGRITY attribute.
  const mac = createHmac('sha1', pwd).update(Buffer.concat([header(body.length + 24, tid), body])).digest();
  body = Buffer.concat([body, attr(0x0008, mac)]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(Buffer.concat([header(body.length + 8, tid), body])) ^ 0x5354554e) >>> 0);
  body = Buffer.concat([body, attr(0x8028, fp)]);
  return Buffer.concat([header(body.length, tid), body]);
}

/** The relay's ICE credentials from an answer. */
export function iceOf(sdp) {
  return { ufrag: /a=ice-ufrag:(\S+)/.exec(sdp)[1], pwd: /a=ice-pwd:(\S+)/.exec(sdp)[1] };
}
