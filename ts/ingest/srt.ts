// SRT publish: srt://<relay>:<port>?streamid=publish:<stream>&passphrase=<key>. One listening
// port per configured stream: FFmpeg 5.1's libsrt listener has no hook to read the caller's
// streamid before accepting (nor reports it after), so the port names the stream. What it
// can check before accepting is the passphrase: with one set, libsrt rejects a caller whose key
// differs, or who has none, in the handshake (enforced encryption), before any media.
//
// A listener child (FFmpeg: SRT in, MPEG-TS out on its stdout, no re-encoding) waits for a
// caller; once FFmpeg has read the caller's streams ("Input #0"), an ingest child is started on
// its stdout (the pipe passes between the two processes directly, not through JavaScript). When
// the caller leaves, both end, the stream loses its publisher (republish grace), and the port
// listens again.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { SessionManager } from '../media/sessions.js';
import type { Ingests } from './ingest.js';

export interface SrtListener {
  stream: string;
  port: number;
  /** SRT encryption passphrase (10-79 characters); without it anyone reaching the port may publish. */
  passphrase?: string;
}

export interface SrtOptions {
  host: string;
  ffmpegPath: string;
  /** SRT receiver latency (its retransmission window), ms. */
  latencyMs: number;
}

const RELISTEN_MS = 300;

export class SrtListeners {
  private readonly running = new Map<string, ChildProcess>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ingests: Ingests,
    sessions: SessionManager,
    private readonly log: Logger,
    private readonly o: SrtOptions,
    private readonly listeners: SrtListener[],
  ) {
    // The stream ended or lost its publisher (the caller went quiet, the ingest child died): the
    // listener child goes too, so the port listens again at once rather than after SRT's own
    // peer timeout.
    const done = (e: { stream: string }): void => {
      const c = this.running.get(e.stream);
      if (c && c.stdout?.destroyed) c.kill('SIGKILL');
    };
    this.unsubscribe = sessions.subscribe({ 'stream:stop': done, 'publisher:lost': done });
  }

  start(): void {
    for (const l of this.listeners) {
      this.log.info({ stream: l.stream, port: l.port, passphrase: l.passphrase !== undefined }, 'SRT ingest listening');
      this.listen(l);
    }
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const c of this.running.values()) c.kill('SIGKILL');
    this.running.clear();
  }

  private listen(l: SrtListener): void {
    if (this.closed) return;
    const params = new URLSearchParams({ mode: 'listener', latency: String(this.o.latencyMs * 1000) });
    if (l.passphrase) params.set('passphrase', l.passphrase);
    const url = `srt://${this.o.host}:${l.port}?${params.toString()}`;
    const c = spawn(this.o.ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'info', '-fflags', '+nobuffer', '-i', url, '-map', '0', '-c', 'copy', '-f', 'mpegts', '-muxdelay', '0', '-pes_payload_size', '0', '-flush_packets', '1', 'pipe:1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.running.set(l.stream, c);
    let stderr = '';
    let started = false;
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4096);
      if (started || !/Input #0/.test(stderr)) return;
      started = true;
      try {
        this.ingests.start(l.stream, { kind: 'srt', input: ['-f', 'mpegts', '-i', 'pipe:0'], kinds: { video: true, audio: true }, stdin: c.stdout ?? undefined });
        // The ingest child holds the pipe now; without the relay's copy, the listener child
        // learns of the ingest child's end from its next write.
        c.stdout?.destroy();
        this.log.info({ stream: l.stream, port: l.port }, 'SRT caller connected');
      } catch (err) {
        this.log.warn({ stream: l.stream, port: l.port, reason: (err as Error).message }, 'SRT caller refused');
        c.kill('SIGKILL');
      }
    });
    c.on('error', (err) => this.log.error({ stream: l.stream, err: err.message }, 'SRT listener could not start'));
    c.on('exit', (code, signal) => {
      if (this.running.get(l.stream) === c) this.running.delete(l.stream);
      if (this.closed) return;
      if (!started) this.log.warn({ stream: l.stream, port: l.port, code, signal, stderr: stderr.trim().split('\n').slice(-2).join(' | ') }, 'SRT listener ended before a caller');
      else this.log.info({ stream: l.stream, port: l.port }, 'SRT caller left');
      const t = setTimeout(() => this.listen(l), started ? 0 : RELISTEN_MS * 10);
      t.unref();
    });
  }
}
