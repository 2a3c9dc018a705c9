// RTMP publish: rtmp://<relay>:<rtmpPort>/live/<stream>[?token=<jwt>], several publishers on one
// port. FFmpeg speaks RTMP (one `-listen 1` child per connection, on a loopback port of its own);
// the relay only passes the connection's bytes to it and reads them up to the publish command
// (rtmp-gate.ts), so a wrong stream key or token is refused before the publish reaches FFmpeg
// and before the publisher may send any media. Once the publish is accepted, both sockets are
// handed to halfsec-splice (native/splice/), which joins them with splice(2): the media bytes
// never pass through JavaScript. See docs/ingest.md for why not an npm RTMP server.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Access } from '../access/access.js';
import { HttpError } from '../ops/errors.js';
import { checkStreamName } from '../media/streams.js';
import type { IngestChild, Ingests } from './ingest.js';
import { RtmpGate } from './rtmp-gate.js';
import type { GateResult } from './rtmp-gate.js';

export interface RtmpOptions {
  host: string;
  port: number;
  /** The application name in the URL (rtmp://host/<app>/<stream>). */
  app: string;
  /** A connection must have sent its publish command within this long, ms. */
  gateTimeoutMs: number;
  /** The halfsec-splice executable (joins the accepted connection to its child's). */
  splicePath: string;
}

export interface RtmpStats {
  /** Bytes the relay's JavaScript read from publishers (the gate's handshake and commands only). */
  bytesReadByJs: number;
  /** Connections handed to halfsec-splice after their publish was accepted. */
  spliced: number;
  /** halfsec-splice processes running now. */
  splicing: number;
}

/** Built with the addon (binding.gyp): dist/ingest/ -> build/Release/. */
export const SPLICE_PATH = fileURLToPath(new URL('../../build/Release/halfsec-splice', import.meta.url));

const UPSTREAM_TRIES = 100;
/** RTMP connections one address may have before their publish (each holds an FFmpeg child). */
const MAX_PENDING_PER_ADDRESS = 4;
const UPSTREAM_RETRY_MS = 20;

/** A free loopback TCP port for a child's listener (bound, read, released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Splits "name?token=..." (OBS: the stream key field) into the stream and its token. */
export function parsePublishName(raw: string): { stream: string; token: string | undefined } {
  const q = raw.indexOf('?');
  if (q < 0) return { stream: raw, token: undefined };
  const params = new URLSearchParams(raw.slice(q + 1));
  return { stream: raw.slice(0, q), token: params.get('token') ?? undefined };
}

export class RtmpIngest {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Map<string, number>();
  private readonly splices = new Set<ChildProcess>();
  private readonly counts = { bytesReadByJs: 0, spliced: 0 };

  constructor(
    private readonly ingests: Ingests,
    private readonly access: Access,
    private readonly log: Logger,
    private readonly o: RtmpOptions,
  ) {}

  listen(): Promise<number> {
    const server = (this.server = createServer((s) => this.onConnection(s)));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : this.o.port;
        this.log.info({ rtmp: `${this.o.host}:${port}`, app: this.o.app }, 'RTMP ingest listening');
        resolve(port);
      });
    });
  }

  close(): void {
    this.server?.close();
    for (const s of this.sockets) s.destroy();
    for (const c of this.splices) c.kill('SIGKILL');
  }

  stats(): RtmpStats {
    let live = 0;
    for (const s of this.sockets) live += s.bytesRead;
    return { bytesReadByJs: this.counts.bytesReadByJs + live, spliced: this.counts.spliced, splicing: this.splices.size };
  }

  private onConnection(client: Socket): void {
    const remote = `${client.remoteAddress}:${client.remotePort}`;
    // A connection flood from one address may not take every child slot before publishing.
    const ip = client.remoteAddress ?? '';
    const waiting = this.pending.get(ip) ?? 0;
    if (waiting >= MAX_PENDING_PER_ADDRESS) {
      this.log.warn({ remote, waiting }, 'RTMP connection refused: too many connections from this address before their publish');
      client.destroy();
      return;
    }
    this.pending.set(ip, waiting + 1);
    let counted = true;
    const settle = (): void => {
      if (!counted) return;
      counted = false;
      const n = (this.pending.get(ip) ?? 1) - 1;
      if (n > 0) this.pending.set(ip, n);
      else this.pending.delete(ip);
    };
    client.once('close', settle);
    this.sockets.add(client);
    client.on('close', () => {
      this.sockets.delete(client);
      this.counts.bytesReadByJs += client.bytesRead;
    });
    client.on('error', () => undefined);
    client.setNoDelay(true);
    void this.serve(client, remote, settle).catch((err: Error) => {
      this.log.warn({ remote, err: err.message }, 'RTMP connection failed');
      client.destroy();
    });
  }

  private async serve(client: Socket, remote: string, published: () => void): Promise<void> {
    const port = await freePort();
    let child: IngestChild;
    try {
      child = this.ingests.spawnWaiting({ kind: 'rtmp', input: ['-listen', '1', '-i', `rtmp://127.0.0.1:${port}/${this.o.app}/gate`], kinds: { video: true, audio: true } });
    } catch (err) {
      this.log.warn({ remote, reason: (err as Error).message }, 'RTMP connection refused');
      client.destroy();
      return;
    }
    let ended = false;
    let handed = false;
    const end = (why: string): void => {
      if (ended || handed) return;
      ended = true;
      client.destroy();
      upstream?.destroy();
      this.ingests.stop(child);
      this.log.info({ remote, stream: child.stream, why }, 'RTMP connection closed');
    };
    child.onGone = (how, stderr) => {
      if (!client.destroyed && !handed) {
        this.log.warn({ remote, stream: child.stream, how, stderr }, 'RTMP ingest child ended');
        client.destroy();
      }
    };
    client.on('close', () => end('publisher disconnected'));
    const gate = new RtmpGate();
    const early: Buffer[] = [];
    let open = true;
    const timer = setTimeout(() => {
      if (open) end(`no publish within ${this.o.gateTimeoutMs} ms`);
    }, this.o.gateTimeoutMs);
    timer.unref();
    const onData = (d: Buffer): void => {
      if (!open) return;
      const r = gate.push(d);
      early.push(gate.take());
      flush();
      if (r.kind === 'error') {
        open = false;
        end(`refused: ${r.reason}`);
      } else if (r.kind === 'publish') {
        open = false;
        client.pause();
        clearTimeout(timer);
        const handOver = (): void => {
          handed = true;
        };
        void this.onPublish(client, () => upstream, child, r, remote, published, handOver).catch((err: Error) => end(`refused: ${err.message}`));
      }
    };
    let upstream: Socket | undefined;
    const flush = (): void => {
      if (!upstream) return;
      for (const b of early.splice(0)) if (b.length) upstream.write(b);
    };
    client.on('data', onData);
    upstream = await connectWithRetry(port, () => client.destroyed);
    if (!upstream) {
      end('the RTMP child did not listen');
      return;
    }
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    upstream.on('close', () => handed || client.destroy());
    upstream.pipe(client);
    flush();
  }

  private async onPublish(client: Socket, upstream: () => Socket | undefined, child: IngestChild, p: Extract<GateResult, { kind: 'publish' }>, remote: string, published: () => void, handOver: () => void): Promise<void> {
    const { stream, token } = parsePublishName(p.name);
    try {
      if (p.app !== this.o.app) throw new HttpError(404, `unknown RTMP application "${p.app}" (use /${this.o.app}/<stream>)`);
      checkStreamName(stream);
      await this.access.admit('publish', stream, { authorization: token, origin: undefined, remoteAddress: client.remoteAddress });
      if (client.destroyed) return;
      this.ingests.attach(child, stream);
    } catch (err) {
      // Before the publish reaches FFmpeg: the publisher never gets NetStream.Publish.Start.
      this.log.warn({ remote, stream, reason: (err as Error).message }, 'RTMP publish refused');
      client.destroy();
      this.ingests.stop(child);
      return;
    }
    const up = upstream();
    if (!up) throw new Error('the RTMP child is not connected');
    this.log.info({ remote, stream }, 'RTMP publish accepted');
    published();
    up.write(p.rebuild(stream));
    if (p.rest.length) up.write(p.rest);
    if (existsSync(this.o.splicePath)) return this.splice(client, up, child, remote, handOver);
    // An addon built before halfsec-splice existed: Node copies the bytes (as it once did).
    this.log.warn({ path: this.o.splicePath }, 'halfsec-splice missing (rebuild the addon): RTMP media passes through JavaScript');
    client.pipe(up);
    client.resume();
  }

  /**
   * Hands both sockets to a halfsec-splice child. Bytes Node has already read are written on
   * first, and both sockets' write queues must be empty; from the last check to closing Node's
   * descriptors nothing yields to the event loop, so Node cannot read another byte in between
   * (libuv reads only in its poll phase). The splice child's exit (either side closed) ends the
   * connection; the ingest child's end closes its socket, which ends the splice.
   */
  private async splice(client: Socket, up: Socket, child: IngestChild, remote: string, handOver: () => void): Promise<void> {
    up.unpipe(client);
    up.pause();
    for (;;) {
      if (client.destroyed || up.destroyed) throw new Error('the connection closed during the hand-over');
      for (let b: Buffer | null; (b = client.read() as Buffer | null) !== null; ) up.write(b);
      for (let b: Buffer | null; (b = up.read() as Buffer | null) !== null; ) client.write(b);
      if (client.writableLength === 0 && up.writableLength === 0) break;
      await Promise.race([once(client, 'drain'), once(up, 'drain'), once(client, 'close'), once(up, 'close')]);
    }
    // Its argument, the relay's pid: it checks that its parent is still there (see splice_main.cc).
    const sp = spawn(this.o.splicePath, [String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe', client, up] });
    handOver();
    // The child holds its own descriptors now: Node's copies go (close(2), no FIN, no RST).
    this.counts.bytesReadByJs += client.bytesRead;
    this.sockets.delete(client);
    client.removeAllListeners('close');
    client.destroy();
    up.destroy();
    this.counts.spliced++;
    this.splices.add(sp);
    let stderr = '';
    sp.stderr?.setEncoding('utf8');
    sp.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-1024)));
    const gone = (why: string): void => {
      if (!this.splices.delete(sp)) return;
      this.ingests.stop(child);
      this.log.info({ remote, stream: child.stream, why, stderr: stderr.trim() || undefined }, 'RTMP connection closed');
    };
    sp.on('error', (err) => gone(`halfsec-splice could not start: ${err.message}`));
    sp.on('exit', (code, signal) => gone(signal ? `splice killed by ${signal}` : 'publisher or ingest child disconnected'));
  }
}

async function connectWithRetry(port: number, abandoned: () => boolean): Promise<Socket | undefined> {
  for (let i = 0; i < UPSTREAM_TRIES && !abandoned(); i++) {
    const s = await new Promise<Socket | undefined>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(undefined));
    });
    if (s) return s;
    await new Promise((r) => setTimeout(r, UPSTREAM_RETRY_MS));
  }
  return undefined;
}
