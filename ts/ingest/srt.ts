// SRT publish: srt://<relay>:<srtPort>?streamid=publish:<stream>[:<token>] on ONE UDP port for
// every stream. libsrt (Debian's libsrt-openssl) runs in a child process of its own, halfsec-srt
// (native/srt/, built only where libsrt's headers are installed: scripts/build-srt.sh): it reads
// the caller's stream id in libsrt's listen callback and refuses malformed ids, a missing token
// (when tokens are required) and floods in the SRT handshake, with a reject reason. A caller it
// accepts is not read until this class has checked its token (Access, as for WHIP and RTMP) and
// started the stream's FFmpeg ingest child on a FIFO; halfsec-srt then copies the caller's
// MPEG-TS into that FIFO. Media never passes through JavaScript.
//
// Per-stream ports (`srtListeners`, the port names the stream, its passphrase is the credential)
// are more listeners of the same child.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { Access } from '../access/access.js';
import type { SessionManager } from '../media/sessions.js';
import { checkStreamName } from '../media/streams.js';
import type { Ingests } from './ingest.js';

export interface SrtListener {
  stream: string;
  port: number;
  /** SRT encryption passphrase (10-79 characters); without it anyone reaching the port may publish. */
  passphrase?: string;
}

export interface SrtOptions {
  host: string;
  /** The shared port: the stream comes from each caller's streamid (0 = none). */
  port: number;
  /** Encryption passphrase every caller of the shared port must use (optional). */
  passphrase?: string;
  /** Per-stream ports (the port names the stream). */
  listeners: SrtListener[];
  /** SRT receiver latency (its retransmission window), ms. */
  latencyMs: number;
  /** The halfsec-srt executable. */
  helperPath: string;
}

export interface SrtStats {
  /** halfsec-srt runs and listens. */
  available: boolean;
  /** The shared port as bound (useful with port 0), when listening. */
  port: number | undefined;
  /** Callers refused in the SRT handshake (bad streamid, missing token, flood). */
  refusedInHandshake: number;
  /** Callers accepted by SRT and refused by the relay (token, limits) before any media was read. */
  refusedByRelay: number;
  /** Bytes read from callers the relay refused (0: none is ever read). */
  refusedBytes: number;
  /** Callers whose media flowed to a stream. */
  accepted: number;
  /** Callers connected now (waiting for a decision or flowing). */
  connected: number;
  /** Times halfsec-srt was started (restarts after a crash included). */
  starts: number;
}

interface Caller {
  stream: string;
  remote: string;
  session?: string;
  refused: boolean;
}

/** Where scripts/build-srt.sh puts halfsec-srt (beside the addon; dist/ingest/ -> build/Release/). */
export const SRT_HELPER_PATH = fileURLToPath(new URL('../../build/Release/halfsec-srt', import.meta.url));

const RESTART_MS = 1000;
const SHARED = -1;

export class SrtIngest {
  private child: ChildProcess | undefined;
  private readonly callers = new Map<number, Caller>();
  /** The private (0700) directory of the callers' FIFOs. */
  readonly fifoDir = mkdtempSync(join(tmpdir(), 'halfsec-srt-'));
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly counts = { refusedInHandshake: 0, refusedByRelay: 0, refusedBytes: 0, accepted: 0, starts: 0 };
  private available = false;
  /** halfsec-srt has listened once: later exits are restarted. */
  private listened = false;
  private lastError: string | undefined;
  private sharedPort: number | undefined;
  /** Index of each listener line given to halfsec-srt: SHARED or an index into `o.listeners`. */
  private readonly lines: number[] = [];
  /** Resolves once halfsec-srt listens, or has failed / is unavailable (see stats().available). */
  readonly ready: Promise<SrtStats>;
  private settle: (s: SrtStats) => void = () => undefined;

  constructor(
    private readonly ingests: Ingests,
    private readonly access: Access,
    sessions: SessionManager,
    private readonly log: Logger,
    private readonly o: SrtOptions,
  ) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
    // The stream ended or lost its publisher (the ingest child died or stalled): the caller is
    // cut off at once rather than after SRT's peer idle timeout.
    const done = (e: { stream: string; session?: string }): void => {
      for (const [id, c] of this.callers) {
        if (c.stream === e.stream && c.session !== undefined && (e.session === undefined || e.session === c.session)) this.send(`close ${id}`);
      }
    };
    this.unsubscribe = sessions.subscribe({ 'stream:stop': done, 'publisher:lost': done });
  }

  stats(): SrtStats {
    return { available: this.available, port: this.sharedPort, ...this.counts, connected: this.callers.size };
  }

  start(): Promise<SrtStats> {
    if (this.o.port <= 0 && this.o.listeners.length === 0) {
      this.settle(this.stats());
      return this.ready;
    }
    if (!existsSync(this.o.helperPath)) {
      this.log.warn({ path: this.o.helperPath }, 'SRT ingest unavailable: halfsec-srt is not built (it needs libsrt: apt-get install libsrt-openssl-dev, then npm run build:srt); the relay runs without SRT');
      this.settle(this.stats());
      return this.ready;
    }
    this.spawn();
    return this.ready;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.child?.kill('SIGKILL');
    this.callers.clear();
    rmSync(this.fifoDir, { recursive: true, force: true });
  }

  private spawn(): void {
    const args = ['--dir', this.fifoDir, '--latency-ms', String(this.o.latencyMs), '--max-pending', '16'];
    if (!this.access.open) args.push('--token-required');
    const child = spawn(this.o.helperPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.counts.starts++;
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-2048)));
    child.stdin?.on('error', () => undefined);
    // Passphrases go on stdin, never on a command line.
    this.lines.length = 0;
    const config: string[] = [];
    if (this.o.port > 0 || this.o.listeners.length === 0) {
      this.lines.push(SHARED);
      config.push(`listen ${this.o.host} ${this.o.port} * ${this.o.passphrase ?? ''}`.trimEnd());
    }
    this.o.listeners.forEach((l, i) => {
      this.lines.push(i);
      config.push(`listen ${this.o.host} ${l.port} ${l.stream} ${l.passphrase ?? ''}`.trimEnd());
    });
    child.stdin?.write(`${config.join('\n')}\nstart\n`);
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    child.on('error', (err) => this.log.error({ err: err.message }, 'SRT ingest: halfsec-srt could not start'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.available = false;
      this.callers.clear();
      if (this.closed) return;
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      this.settle(this.stats());
      // It never listened (a port in use, a bad host): the configuration is wrong, and
      // restarting would fail the same way.
      if (!this.listened) {
        this.log.error({ code, signal, reason: this.lastError, stderr: tail }, 'SRT ingest could not start: the relay runs without SRT');
        return;
      }
      this.log.error({ code, signal, stderr: tail }, 'SRT ingest: halfsec-srt ended; restarting');
      setTimeout(() => !this.closed && this.spawn(), RESTART_MS).unref();
    });
  }

  private send(line: string): void {
    if (this.child?.stdin?.writable) this.child.stdin.write(`${line}\n`);
  }

  private listenerOf(index: number): SrtListener | undefined {
    const at = this.lines[index];
    return at === undefined || at === SHARED ? undefined : this.o.listeners[at];
  }

  private onLine(line: string): void {
    const [verb, a = '', b = '', c = '', d = '', e = '', ...rest] = line.split(' ');
    if (verb === 'listening') {
      const l = this.listenerOf(Number(a));
      if (l) this.log.info({ stream: l.stream, port: Number(b), passphrase: l.passphrase !== undefined }, 'SRT ingest listening (per-stream port)');
      else {
        this.sharedPort = Number(b);
        this.log.info({ srt: `${this.o.host}:${b}`, passphrase: this.o.passphrase !== undefined, tokens: !this.access.open }, 'SRT ingest listening: srt://<relay>:<port>?streamid=publish:<stream>[:<token>]');
      }
    } else if (verb === 'ready') {
      this.available = true;
      this.listened = true;
      this.settle(this.stats());
    } else if (verb === 'error') {
      this.lastError = line.slice(6);
      this.log.error({ reason: this.lastError }, 'SRT ingest: halfsec-srt failed');
    } else if (verb === 'refused') {
      this.counts.refusedInHandshake++;
      this.log.warn({ remote: b, code: Number(c), reason: [d, e, ...rest].join(' ') }, 'SRT caller refused in the handshake');
    } else if (verb === 'refused-more') {
      // Past halfsec-srt's lines a second: a flood of refused handshakes, told as one count.
      const n = Number(a) || 0;
      this.counts.refusedInHandshake += n;
      this.log.warn({ count: n }, 'SRT callers refused in the handshake within a second, beyond those logged one by one');
    } else if (verb === 'caller') {
      void this.onCaller(Number(a), Number(b), c, d, e === '-' ? undefined : e, rest.join(' '));
    } else if (verb === 'flowing') {
      const caller = this.callers.get(Number(a));
      if (caller) this.log.info({ stream: caller.stream, remote: caller.remote }, 'SRT caller publishing');
    } else if (verb === 'ended') {
      const id = Number(a);
      const caller = this.callers.get(id);
      if (!caller) return;
      this.callers.delete(id);
      if (caller.refused) {
        this.counts.refusedBytes += Number(b);
        return;
      }
      this.log.info({ stream: caller.stream, remote: caller.remote, bytes: Number(b), reason: [c, d, e, ...rest].join(' ') }, 'SRT caller left');
      // Its child sees the FIFO's end and exits; one that never opened it (the caller left
      // first) would wait for a writer: stop it now.
      if (this.ingests.list().some((i) => i.stream === caller.stream && i.session === caller.session)) this.ingests.stop(caller.stream);
    }
  }

  /** `caller <id> <index> <remote> <stream> <token|-> <fifo>`: a caller SRT accepted, not read yet. */
  private async onCaller(id: number, index: number, remote: string, stream: string, token: string | undefined, fifo: string): Promise<void> {
    const caller: Caller = { stream, remote, refused: false };
    this.callers.set(id, caller);
    const fixed = this.listenerOf(index);
    try {
      checkStreamName(stream);
      // A per-stream port's passphrase is its credential (checked by libsrt in the handshake);
      // the shared port checks the publish token as WHIP and RTMP do.
      if (!fixed) await this.access.admit('publish', stream, { authorization: token, origin: undefined, remoteAddress: remote.replace(/:\d+$/, '') });
      if (this.closed || !this.callers.has(id)) return;
      const session = this.ingests.start(stream, { kind: 'srt', input: ['-analyzeduration', '500000', '-probesize', '262144', '-f', 'mpegts', '-i', `file:${fifo}`], kinds: { video: true, audio: true } });
      caller.session = session.id;
      this.counts.accepted++;
      this.send(`accept ${id}`);
      this.log.info({ stream, remote }, 'SRT caller accepted');
    } catch (err) {
      caller.refused = true;
      this.counts.refusedByRelay++;
      this.send(`reject ${id}`);
      this.log.warn({ stream, remote, reason: (err as Error).message }, 'SRT caller refused');
    }
  }
}
