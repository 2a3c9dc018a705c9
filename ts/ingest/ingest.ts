// Ingests: streams fed by the relay's own FFmpeg children (RTMP, SRT, RTSP sources), each through
// a native ingest peer: plain RTP on an AF_UNIX datagram socket in a directory only the relay
// can enter, taken only from the child's pid (SCM_CREDENTIALS) and on the SSRCs assigned to it.
// Media never enters the data plane from JavaScript: the child writes to its socket directly.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CODEC_IDS } from '../native.js';
import type { NativeEngine, PeerConfig } from '../native.js';
import { HttpError } from '../ops/errors.js';
import type { Session, SessionManager } from '../media/sessions.js';
import { CHILD_PREFIX, INGEST_AUDIO_PT, INGEST_VIDEO_PT, ingestCodecs, missingKind, outputArgs } from './ffmpeg.js';
import type { IngestKinds } from './ffmpeg.js';

/**
 * util-linux's setpriv (Essential in Debian) starts each FFmpeg child with a parent-death signal,
 * then execs FFmpeg in the same process: a relay that dies (SIGKILL included) takes its children
 * with it, where one whose input stays open (an RTSP pull) would otherwise run on unowned.
 */
const SETPRIV = '/usr/bin/setpriv';
const withParentDeathSignal = (cmd: string, args: string[]): [string, string[]] =>
  existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];

export interface IngestOptions {
  /** Concurrent ingests (children, also those still waiting for their source) at most; more are refused with 503. */
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
  /** The child's stdin (e.g. another process's stdout, passed as a descriptor), else none. */
  stdin?: Readable;
}

export interface IngestInfo {
  stream: string | undefined;
  kind: string;
  session: string | undefined;
  pid: number;
  startedAt: number;
  /** The ingest peer's socket (in the relay's 0700 directory). */
  socketPath: string;
}

/** A child, before (`stream` undefined: e.g. an RTMP connection whose key is not checked yet) and after it feeds a stream. */
export interface IngestChild extends IngestInfo {
  readonly child: ChildProcess;
  /** Called once when the child is gone (exit, kill, spawn failure) with how, and its stderr's tail. */
  onGone?: (how: string, stderr: string) => void;
}

interface Running extends IngestChild {
  videoSsrc: number;
  audioSsrc: number;
  kinds: IngestKinds;
  peerId: number;
  ended: boolean;
  stderr: string;
}

const STDERR_KEEP = 4096;

export class Ingests {
  private readonly children = new Set<Running>();
  private readonly byStream = new Map<string, Running>();
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
      'publisher:lost': (e) => {
        const bframes = e.reason === 'b-frames' && this.byStream.has(e.stream);
        this.ended(e.stream, undefined, e.reason);
        // Not a publisher that may come back as it was: the stream ends now.
        if (bframes) this.sessions.closeStream(e.stream, 'b-frames');
      },
      'publisher:back': (e) => this.ended(e.stream, undefined, 'replaced'),
    });
  }

  /** Children running, those waiting for their source included. */
  get count(): number {
    return this.children.size;
  }

  list(): IngestInfo[] {
    return [...this.children].map(({ stream, kind, session, pid, startedAt, socketPath }) => ({ stream, kind, session, pid, startedAt, socketPath }));
  }

  /**
   * Starts a child feeding `stream` at once (a source FFmpeg reads without waiting, e.g. an RTSP
   * or SRT URL it pulls). Throws HttpError 503 at the ingest limit, 409 when the stream has a
   * live publisher. The stream ends (or waits out the republish grace) when the child exits or
   * stops sending (the publisher media timeout).
   */
  start(stream: string, req: IngestRequest): Session {
    const r = this.prepare(req);
    // The socket must exist before the child opens its outputs: the session first.
    const session = this.attachRunning(r, stream);
    this.spawnChild(r, req.input, req.stdin);
    return session;
  }

  /**
   * Starts a child whose source has yet to say which stream it feeds (an RTMP publisher, before
   * its publish command): `attach` it once the stream is known and allowed. The child must not
   * open its outputs before that (FFmpeg opens them after its input is probed).
   */
  spawnWaiting(req: IngestRequest): IngestChild {
    const r = this.prepare(req);
    this.spawnChild(r, req.input);
    return r;
  }

  /** The waiting child now feeds `stream` (see spawnWaiting). Throws HttpError as `start`. */
  attach(c: IngestChild, stream: string): Session {
    const r = c as Running;
    if (!this.children.has(r) || r.ended) throw new HttpError(503, 'ingest child is gone');
    const session = this.attachRunning(r, stream);
    if (r.pid) this.engine.setIngestSource(r.peerId, r.pid);
    return session;
  }

  /** Stops a child (its stream then ends or waits out the grace). */
  stop(c: IngestChild | string): boolean {
    const r = typeof c === 'string' ? this.byStream.get(c) : (c as Running);
    if (!r || !this.children.has(r)) return false;
    this.kill(r);
    return true;
  }

  private prepare(req: IngestRequest): Running {
    if (this.closed) throw new HttpError(503, 'relay closing');
    if (this.children.size >= this.options.maxIngests) throw new HttpError(503, `ingest limit reached (${this.options.maxIngests})`);
    if (!req.kinds.video && !req.kinds.audio) throw new HttpError(400, 'source has neither video nor audio');
    // FFmpeg's -ssrc is a signed 32-bit option: SSRCs below 2^31.
    return {
      stream: undefined, kind: req.kind, session: undefined, pid: 0, startedAt: Date.now(), child: undefined as unknown as ChildProcess,
      socketPath: join(this.dir, `${randomInt(1, 2 ** 31)}-${Date.now()}.sock`),
      videoSsrc: randomInt(1, 2 ** 31 - 1), audioSsrc: randomInt(1, 2 ** 31 - 1), kinds: req.kinds, peerId: 0, ended: false, stderr: '',
    };
  }

  private attachRunning(r: Running, stream: string): Session {
    const { kinds } = r;
    const peer: Omit<PeerConfig, 'streamId'> = {
      role: 'ingest', localUfrag: '', localPwd: '', remoteUfrag: '', fingerprintAlgorithm: '', fingerprint: '',
      ingestPath: r.socketPath,
      ingestVideoSsrc: kinds.video ? r.videoSsrc : 0,
      ingestAudioSsrc: kinds.audio ? r.audioSsrc : 0,
      kindByPt: [...(kinds.video ? [[INGEST_VIDEO_PT, 1]] : []), ...(kinds.audio ? [[INGEST_AUDIO_PT, 0]] : [])] as [number, number][],
      codecByPt: [[INGEST_VIDEO_PT, CODEC_IDS.h264 ?? 1], [INGEST_AUDIO_PT, CODEC_IDS.opus ?? 5]],
    };
    const session = this.sessions.attachIngest(stream, ingestCodecs(kinds), peer);
    r.stream = stream;
    r.session = session.id;
    r.peerId = session.peerId;
    this.byStream.set(stream, r);
    return session;
  }

  private spawnChild(r: Running, input: string[], stdin?: Readable): void {
    const out = outputArgs({ path: r.socketPath, videoSsrc: r.videoSsrc, audioSsrc: r.audioSsrc, kinds: r.kinds, reencodeVideo: this.options.reencodeVideo, keyframeIntervalSec: this.options.keyframeIntervalSec });
    const child = spawn(...withParentDeathSignal(this.options.ffmpegPath, [...CHILD_PREFIX, ...input, ...out]), { stdio: [stdin ?? 'ignore', 'ignore', 'pipe'] });
    (r as { child: ChildProcess }).child = child;
    r.pid = child.pid ?? 0;
    this.children.add(r);
    child.stderr?.setEncoding('utf8');
    let told = false;
    child.stderr?.on('data', (d: string) => {
      r.stderr = (r.stderr + d).slice(-STDERR_KEEP);
      const missing = told ? undefined : missingKind(r.stderr);
      if (missing) {
        told = true;
        this.log.warn({ stream: r.stream, kind: r.kind, session: r.session }, `the source has no ${missing}: the stream carries ${missing === 'audio' ? 'video' : 'audio'} only`);
      }
    });
    child.on('error', (err) => this.childGone(r, `spawn failed: ${err.message}`));
    child.on('exit', (code, signal) => this.childGone(r, signal ? `killed by ${signal}` : `exited with ${code}`));
    if (r.peerId && r.pid) this.engine.setIngestSource(r.peerId, r.pid);
    this.log.info({ stream: r.stream, kind: r.kind, session: r.session, pid: child.pid }, 'ingest child started');
  }

  private childGone(r: Running, how: string): void {
    if (!this.children.delete(r)) return;
    if (r.stream !== undefined && this.byStream.get(r.stream) === r) this.byStream.delete(r.stream);
    const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    r.onGone?.(how, tail);
    if (r.ended) return;
    r.ended = true;
    this.log.warn({ stream: r.stream, kind: r.kind, session: r.session, how, stderr: tail }, 'ingest child ended; its stream loses its publisher');
    // Through the data plane, as a vanished WHIP publisher: its 'closed' event ends the stream
    // or starts the republish grace.
    if (r.peerId) this.engine.removePeer(r.peerId);
  }

  /** The session the child fed is over (ended, lost, replaced): the child goes too. */
  private ended(stream: string, session: string | undefined, reason: string): void {
    const r = this.byStream.get(stream);
    if (!r || (session !== undefined && session !== r.session) || r.ended) return;
    r.ended = true;
    this.byStream.delete(stream);
    if (reason === 'b-frames') {
      this.log.error({ stream, kind: r.kind, session: r.session }, 'the source sends B-frames, which WebRTC viewers cannot play: stream ended; turn B-frames off in the encoder (OBS: x264 options "bframes=0" or the "zerolatency" tune; FFmpeg: -bf 0) or run the relay with --ingest-reencode-video');
    }
    this.log.info({ stream, kind: r.kind, session: r.session, reason }, 'ingest stopped');
    this.kill(r);
  }

  private kill(r: Running): void {
    if (r.child && r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const r of this.children) {
      r.ended = true;
      this.kill(r);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
