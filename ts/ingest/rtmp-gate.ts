// Reads an RTMP publisher's bytes (client to server) up to its `publish` command, so the relay can
// check the stream key before the publish reaches FFmpeg (which answers everything else and
// would accept any key). Only what the gate needs: the handshake's fixed sizes (C0+C1, C2; the
// replies come from FFmpeg), chunk headers (RTMP spec 5.3.1), Set Chunk Size, and of AMF0
// (AMF0 spec 2.x) a command's name and publish's stream name. Bounded: messages up to 64 KiB,
// 8 chunk streams, chunk size up to 64 KiB; anything else is an error and the connection closes.
//
// Commands are re-emitted, never passed as they came: each as one message with a full (type 0)
// chunk header, so dropping some cannot leave FFmpeg's header state out of step with the
// client's. releaseStream and FCPublish, which carry the key, are dropped (clients do not wait
// for their answers); publish is rebuilt with the bare stream name: FFmpeg's listener refuses
// names longer than it expects, and a token has no business in the child anyway.

const HANDSHAKE_BYTES = 1 + 1536 + 1536;  // C0 + C1, then C2 after the server's S0 S1 S2
const MAX_MESSAGE = 64 * 1024;
const MAX_CHUNK_STREAMS = 8;
const MAX_CHUNK_SIZE = 64 * 1024;
const TYPE_SET_CHUNK_SIZE = 1;
const TYPE_AMF3_COMMAND = 17;
const TYPE_AMF0_COMMAND = 20;
const DROPPED = new Set(['releaseStream', 'FCPublish']);

interface ChunkStream {
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
  body: Buffer[];
  got: number;
}

export type GateResult =
  | { kind: 'more' }
  /** The publish command: its app (from connect), raw name, and how to re-emit it with another name. */
  | { kind: 'publish'; app: string; name: string; rebuild: (stream: string) => Buffer; rest: Buffer }
  | { kind: 'error'; reason: string };

export class RtmpGate {
  private buf: Buffer = Buffer.alloc(0);
  private handshake = HANDSHAKE_BYTES;
  private chunkSize = 128;
  private readonly streams = new Map<number, ChunkStream>();
  private app = '';
  private out: Buffer[] = [];

  /** Takes bytes from the client; what may go to FFmpeg so far is in `take()`. */
  push(data: Buffer): GateResult {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    if (this.buf.length > MAX_MESSAGE + HANDSHAKE_BYTES) return { kind: 'error', reason: 'too much data before publish' };
    for (;;) {
      if (this.handshake > 0) {
        if (this.handshake === HANDSHAKE_BYTES && this.buf.length > 0 && this.buf[0] !== 3) return { kind: 'error', reason: 'not RTMP (C0 version is not 3)' };
        const n = Math.min(this.handshake, this.buf.length);
        this.out.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.handshake -= n;
        if (this.handshake > 0) return { kind: 'more' };
      }
      const r = this.chunk();
      if (r === 'more') return { kind: 'more' };
      if (r !== undefined) return r;
    }
  }

  /** Bytes for FFmpeg, in order; removes them. */
  take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  /** One chunk; undefined when it was consumed and parsing goes on. */
  private chunk(): 'more' | GateResult | undefined {
    const b = this.buf;
    if (b.length < 1) return 'more';
    const fmt = b[0]! >> 6;
    let csid = b[0]! & 0x3f;
    let off = 1;
    if (csid === 0) {
      if (b.length < 2) return 'more';
      csid = 64 + b[1]!;
      off = 2;
    } else if (csid === 1) {
      if (b.length < 3) return 'more';
      csid = 64 + b[1]! + b[2]! * 256;
      off = 3;
    }
    let cs = this.streams.get(csid);
    if (!cs) {
      if (fmt !== 0) return { kind: 'error', reason: `chunk stream ${csid} starts without a full header` };
      if (this.streams.size >= MAX_CHUNK_STREAMS) return { kind: 'error', reason: 'too many chunk streams' };
      cs = { length: 0, type: 0, streamId: 0, extended: false, body: [], got: 0 };
    }
    const headerLen = [11, 7, 3, 0][fmt]!;
    if (b.length < off + headerLen) return 'more';
    let { extended, length, type, streamId } = cs;
    if (fmt <= 2) extended = b.readUIntBE(off, 3) === 0xffffff;
    if (fmt <= 1) {
      length = b.readUIntBE(off + 3, 3);
      type = b[off + 6]!;
    }
    if (fmt === 0) streamId = b.readUInt32LE(off + 7);
    off += headerLen;
    if (extended) off += 4;
    if (b.length < off) return 'more';
    if (length > MAX_MESSAGE) return { kind: 'error', reason: `message of ${length} bytes before publish` };
    if (fmt <= 1 && cs.got > 0) return { kind: 'error', reason: 'new message header inside a message' };
    const take = Math.min(this.chunkSize, length - cs.got);
    if (b.length < off + take) return 'more';
    this.streams.set(csid, cs);
    Object.assign(cs, { length, type, streamId, extended });
    const isCommand = type === TYPE_AMF0_COMMAND || type === TYPE_AMF3_COMMAND;
    // Other messages pass as they came (their chunk headers are the client's own sequence).
    if (!isCommand) this.out.push(b.subarray(0, off + take));
    cs.body.push(b.subarray(off, off + take));
    cs.got += take;
    this.buf = b.subarray(off + take);
    if (cs.got < length) return undefined;
    const body = Buffer.concat(cs.body);
    cs.body = [];
    cs.got = 0;
    if (type === TYPE_SET_CHUNK_SIZE) {
      if (body.length < 4) return { kind: 'error', reason: 'short Set Chunk Size' };
      const size = body.readUInt32BE(0) & 0x7fffffff;
      if (size < 1 || size > MAX_CHUNK_SIZE) return { kind: 'error', reason: `chunk size ${size} out of range` };
      if ([...this.streams.values()].some((s) => s.got > 0)) return { kind: 'error', reason: 'Set Chunk Size inside a message' };
      this.chunkSize = size;
      return undefined;
    }
    if (!isCommand) return undefined;
    const amf = type === TYPE_AMF3_COMMAND ? body.subarray(1) : body;
    const cmd = readCommand(amf);
    if (!cmd) return { kind: 'error', reason: 'malformed command' };
    if (cmd.name === 'connect' && cmd.app !== undefined) this.app = cmd.app;
    if (cmd.name === 'publish') {
      if (cmd.stream === undefined || cmd.txid === undefined) return { kind: 'error', reason: 'publish without a stream name' };
      const { txid } = cmd;
      const rebuild = (stream: string): Buffer => this.emit(csid, TYPE_AMF0_COMMAND, streamId, publishCommand(txid, stream));
      return { kind: 'publish', app: this.app, name: cmd.stream, rebuild, rest: this.buf };
    }
    if (!DROPPED.has(cmd.name)) this.out.push(this.emit(csid, type, streamId, body));
    return undefined;
  }

  /** One message as chunks: a type-0 header, then type-3 continuations (RTMP spec 5.3.1). */
  private emit(csid: number, type: number, streamId: number, body: Buffer): Buffer {
    const basic = (fmt: number): Buffer =>
      csid < 64 ? Buffer.from([(fmt << 6) | csid]) : csid < 320 ? Buffer.from([fmt << 6, csid - 64]) : Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8]);
    const head = Buffer.alloc(11);
    head.writeUIntBE(0, 0, 3);
    head.writeUIntBE(body.length, 3, 3);
    head[6] = type;
    head.writeUInt32LE(streamId, 7);
    const parts = [basic(0), head];
    for (let o = 0; o < body.length; o += this.chunkSize) {
      if (o > 0) parts.push(basic(3));
      parts.push(body.subarray(o, o + this.chunkSize));
    }
    return Buffer.concat(parts);
  }
}

function amfString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const h = Buffer.alloc(3);
  h[0] = 0x02;
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}

/** publish(txid, null, name, "live") in AMF0. */
function publishCommand(txid: number, stream: string): Buffer {
  const num = Buffer.alloc(9);
  num[0] = 0x00;
  num.writeDoubleBE(txid, 1);
  return Buffer.concat([amfString('publish'), num, Buffer.from([0x05]), amfString(stream), amfString('live')]);
}

/** AMF0: a command's name and transaction id, and connect's `app` or publish's stream name (AMF0 spec 2.2-2.7). */
export function readCommand(b: Buffer): { name: string; txid?: number; app?: string; stream?: string } | undefined {
  const str = (o: number): [string, number] | undefined => {
    if (b[o] !== 0x02 || o + 3 > b.length) return undefined;
    const n = b.readUInt16BE(o + 1);
    if (o + 3 + n > b.length) return undefined;
    return [b.toString('utf8', o + 3, o + 3 + n), o + 3 + n];
  };
  const name = str(0);
  if (!name) return undefined;
  let o = name[1];
  if (b[o] !== 0x00 || o + 9 > b.length) return { name: name[0] };
  const txid = b.readDoubleBE(o + 1);
  o += 9;
  if (name[0] === 'publish') {
    if (b[o] === 0x05) o += 1;  // command object: null
    const s = str(o);
    return s ? { name: name[0], txid, stream: s[0] } : { name: name[0], txid };
  }
  if (name[0] === 'connect' && b[o] === 0x03) {
    // The command object: its "app" property (a string); scalar values before it are skipped.
    o += 1;
    for (let guard = 0; guard < 64 && o + 3 <= b.length; guard++) {
      const klen = b.readUInt16BE(o);
      if (klen === 0) break;
      const key = b.toString('utf8', o + 2, o + 2 + klen);
      o += 2 + klen;
      if (key === 'app') return { name: name[0], txid, app: str(o)?.[0] ?? '' };
      const t = b[o];
      if (t === 0x02) o = str(o)?.[1] ?? b.length;
      else if (t === 0x00) o += 9;
      else if (t === 0x01) o += 2;
      else if (t === 0x05 || t === 0x06) o += 1;
      else break;  // nested or unusual values: no app (it is informative only)
    }
  }
  return { name: name[0], txid };
}
