// Ingests: streams fed by the relay's own FFmpeg children (RTMP, SRT, RTSP sources), each through
// a native ingest peer: plain RTP on an AF_UNIX datagram socket in a directory only the relay
// can enter, taken only from the child's pid (SCM_CREDENTIALS) and on the SSRCs assigned to it.
// Media never enters JavaScript: the child writes to the data plane's socket directly.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CODEC_IDS } from '../native.js';
import type { NativeEngine, PeerConfig } from '../native.js';
import { HttpError } from '../ops/errors.js';
import type { Session, SessionManager } from '../media/sessions.js';
import { CHILD_PREFIX, INGEST_AUDIO_PT, INGEST_VIDEO_PT, ingestCodecs, outputArgs } from './ffmpeg.js';
import type { IngestKinds } from './ffmpeg.js';

export interface IngestOptions {
  /** Concurrent ingests (children) at most; more are refused with 503. */
  maxIngests: number;
  ffmpegPath: string;
  /** Re-encode video (libx264, no B-frames) instead of passing H.264 through. */
  reencodeVideo: boolean;
  /** Keyframe interval of re-encoded video, seconds (viewers join and recover at keyframes). */
  keyframeIntervalSec: number;
}

export interface IngestRequest {
  /** Where the stream comes from, for logs and lists ("rtmp", "srt", "rtsp", "ffmpeg"). */
  kind: string;
  /** FFmpeg's input arguments (ending with `-i <url>`). */
  input: string[];
  kinds: IngestKinds;
}

export interface IngestInfo {
  stream: string;
  kind: string;
  session: string;
  pid: number;
  startedAt: number;
}

interface Running extends IngestInfo {
  child: ChildProcess;
  peerId: number;
  ended: boolean;
  stderr: string;
}

const STDERR_KEEP = 4096;

export class Ingests {
  private readonly running = new Map<string, Running>();
  private readonly dir: string;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly sessions: SessionManager,
    private readonly engine: NativeEngine,
    private readonly log: Logger,
    private readonly options: IngestOptions,
  ) {
    // mkdtemp creates the directory 0700: only the relay's user (and root) can reach its sockets.
    this.dir = mkdtempSync(join(tmpdir(), 'halfsec-ingest-'));
    this.unsubscribe = sessions.subscribe({
      'stream:stop': (e) => this.ended(e.stream, e.session, e.reason),
      'publisher:lost': (e) => this.ended(e.stream, undefined, e.reason),
      'publisher:back': (e) => this.ended(e.stream, undefined, 'replaced'),
    });
  }

  get count(): number {
    return this.running.size;
  }

  list(): IngestInfo[] {
    return [...this.running.values()].map(({ stream, kind, session, pid, startedAt }) => ({ stream, kind, session, pid, startedAt }));
  }

  /**
   * Starts a child feeding `stream`. Throws HttpError 503 at the ingest limit, 409 when the
   * stream has a live publisher. The stream ends (or waits out the republish grace) when the
   * child exits or stops sending (the publisher media timeout).
   */
  start(stream: string, req: IngestRequest): Session {
    if (this.closed) throw new HttpError(503, 'relay closing');
    if (this.running.size >= this.options.maxIngests) throw new HttpError(503, `ingest limit reached (${this.options.maxIngests})`);
    if (!req.kinds.video && !req.kinds.audio) throw new HttpError(400, 'source has neither video nor audio');
    const path = join(this.dir, `${randomInt(1, 2 ** 31)}-${Date.now()}.sock`);
    // FFmpeg's -ssrc is a signed 32-bit option: SSRCs below 2^31.
    const videoSsrc = randomInt(1, 2 ** 31 - 1);
    const audioSsrc = randomInt(1, 2 ** 31 - 1);
    const peer: Omit<PeerConfig, 'streamId'> = {
      role: 'ingest',
      localUfrag: '',
      localPwd: '',
      remoteUfrag: '',
      fingerprintAlgorithm: '',
      fingerprint: '',
      ingestPath: path,
      ingestVideoSsrc: req.kinds.video ? videoSsrc : 0,
      ingestAudioSsrc: req.kinds.audio ? audioSsrc : 0,
      kindByPt: [...(req.kinds.video ? [[INGEST_VIDEO_PT, 1]] : []), ...(req.kinds.audio ? [[INGEST_AUDIO_PT, 0]] : [])] as [number, number][],
      codecByPt: [[INGEST_VIDEO_PT, CODEC_IDS.h264 ?? 1], [INGEST_AUDIO_PT, CODEC_IDS.opus ?? 5]],
    };
    const session = this.sessions.attachIngest(stream, ingestCodecs(req.kinds), peer);
    const args = [...CHILD_PREFIX, ...req.input, ...outputArgs({ path, videoSsrc, audioSsrc, kinds: req.kinds, reencodeVideo: this.options.reencodeVideo, keyframeIntervalSec: this.options.keyframeIntervalSec })];
    const child = spawn(this.options.ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const r: Running = { stream, kind: req.kind, session: session.id, pid: child.pid ?? 0, startedAt: Date.now(), child, peerId: session.peerId, ended: false, stderr: '' };
    this.running.set(stream, r);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      r.stderr = (r.stderr + d).slice(-STDERR_KEEP);
    });
    child.on('error', (err) => this.childGone(r, `spawn failed: ${err.message}`));
    child.on('exit', (code, signal) => this.childGone(r, signal ? `killed by ${signal}` : `exited with ${code}`));
    if (child.pid) this.engine.setIngestSource(session.peerId, child.pid);
    this.log.info({ stream, kind: req.kind, session: session.id, pid: child.pid }, 'ingest child started');
    return session;
  }

  /** Stops the child feeding `stream` (the stream then ends or waits out the grace). */
  stop(stream: string): boolean {
    const r = this.running.get(stream);
    if (!r) return false;
    this.kill(r);
    return true;
  }

  private childGone(r: Running, how: string): void {
    if (this.running.get(r.stream) === r) this.running.delete(r.stream);
    if (r.ended) return;
    r.ended = true;
    const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    this.log.warn({ stream: r.stream, kind: r.kind, session: r.session, how, stderr: tail }, 'ingest child ended; its stream loses its publisher');
    // Through the data plane, as a vanished WHIP publisher: its 'closed' event ends the stream
    // or starts the republish grace.
    this.engine.removePeer(r.peerId);
  }

  /** The session the child fed is over (ended, lost, replaced): the child goes too. */
  private ended(stream: string, session: string | undefined, reason: string): void {
    const r = this.running.get(stream);
    if (!r || (session !== undefined && session !== r.session) || r.ended) return;
    r.ended = true;
    this.running.delete(stream);
    this.log.info({ stream, kind: r.kind, session: r.session, reason }, 'ingest stopped');
    this.kill(r);
  }

  private kill(r: Running): void {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const r of this.running.values()) {
      r.ended = true;
      this.kill(r);
    }
    this.running.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
