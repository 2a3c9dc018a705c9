// The RTMP gate's parser (ts/ingest/rtmp-gate.ts) on hand-built client byte streams: it finds the
// publish command however the bytes are split, drops the commands that carry the key, re-emits
// the others with full headers, and refuses what it does not bound (sizes, chunk streams).
import test from 'ava';
import { RtmpGate, readCommand } from '../dist/ingest/rtmp-gate.js';

const amfString = (s) => {
  const b = Buffer.from(s);
  const h = Buffer.alloc(3);
  h[0] = 2;
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
};
const amfNumber = (n) => {
  const b = Buffer.alloc(9);
  b.writeDoubleBE(n, 1);
  return b;
};
const connectBody = (app) => {
  const key = Buffer.alloc(2);
  key.writeUInt16BE(3);
  return Buffer.concat([amfString('connect'), amfNumber(1), Buffer.from([3]), key, Buffer.from('app'), amfString(app), Buffer.from([0, 0, 9])]);
};
const command = (name, txid, ...rest) => Buffer.concat([amfString(name), amfNumber(txid), Buffer.from([5]), ...rest.map(amfString)]);

/** One message as chunks of `size` bytes on chunk stream `csid`: a type-0 header, then type-3. */
function chunks(csid, type, body, size = 128, streamId = 0) {
  const head = Buffer.alloc(12);
  head[0] = csid;
  head.writeUIntBE(body.length, 4, 3);
  head[7] = type;
  head.writeUInt32LE(streamId, 8);
  const parts = [head];
  for (let o = 0; o < body.length; o += size) {
    if (o > 0) parts.push(Buffer.from([0xc0 | csid]));
    parts.push(body.subarray(o, o + size));
  }
  return Buffer.concat(parts);
}

const handshake = () => Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 1), Buffer.alloc(1536, 2)]);

function session(name) {
  return Buffer.concat([
    handshake(),
    chunks(3, 20, connectBody('live')),
    chunks(3, 20, command('releaseStream', 2, name)),
    chunks(3, 20, command('FCPublish', 3, name)),
    chunks(3, 20, command('createStream', 4)),
    chunks(4, 20, command('publish', 5, name, 'live'), 128, 1),
    Buffer.from('media after publish'),
  ]);
}

test('finds publish with its app and name, whole or byte by byte; the key-carrying commands are dropped', (t) => {
  const long = `cam1?token=${'x'.repeat(300)}`;
  const bytes = session(long);
  for (const step of [bytes.length, 1, 7, 1000]) {
    const g = new RtmpGate();
    let r;
    const forwarded = [];
    for (let o = 0; o < bytes.length && r?.kind !== 'publish'; o += step) {
      r = g.push(bytes.subarray(o, o + step));
      forwarded.push(g.take());
      t.not(r.kind, 'error', `step ${step}: ${r.reason}`);
    }
    t.is(r.kind, 'publish', `step ${step}`);
    t.is(r.app, 'live');
    t.is(r.name, long);
    const out = Buffer.concat(forwarded);
    t.false(out.includes(Buffer.from('token=')), 'no byte of the key reaches FFmpeg before the check');
    t.true(out.includes(Buffer.from('createStream')) && out.includes(Buffer.from('connect')));
    const rebuilt = r.rebuild('cam1');
    t.deepEqual(readCommand(rebuilt.subarray(12)), { name: 'publish', txid: 5, stream: 'cam1' }, 'publish rebuilt with the bare name');
    t.is(rebuilt.readUInt32LE(8), 1, 'on the publisher\'s message stream');
  }
});

test('refuses what it does not bound: not RTMP, oversized messages, too many chunk streams, a wild chunk size', (t) => {
  const push = (b) => new RtmpGate().push(b);
  t.regex(push(Buffer.from('GET / HTTP/1.1\r\n\r\n')).reason, /not RTMP/);
  const big = Buffer.concat([handshake(), chunks(3, 20, Buffer.alloc(70000))]);
  t.regex(push(big).reason, /bytes before publish|too much data/);
  const many = Buffer.concat([handshake(), ...Array.from({ length: 9 }, (_, i) => chunks(10 + i, 8, Buffer.alloc(300)).subarray(0, 12 + 128))]);
  t.regex(push(many).reason, /too many chunk streams/);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(1 << 20);
  t.regex(push(Buffer.concat([handshake(), chunks(2, 1, size)])).reason, /chunk size/);
  t.regex(push(Buffer.concat([handshake(), Buffer.from([0x43, 0, 0, 0])])).reason, /without a full header/);
  t.is(push(Buffer.concat([handshake(), chunks(3, 20, Buffer.from([9, 9, 9]))])).kind, 'error', 'a command that is not AMF0');
});
