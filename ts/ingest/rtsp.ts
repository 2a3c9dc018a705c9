// RTSP sources pulled on demand, like an edge's pulls: a registered rtsp:// URL becomes a stream
// when a viewer asks for it (WHEP, or a held WebSocket view), fed by an FFmpeg child reading the
// camera over RTSP-over-TCP, and is dropped `lingerMs` after its last viewer left.
import type { Logger } from 'pino';
import { HttpError } from '../ops/errors.js';
import type { SessionManager } from '../media/sessions.js';
import { checkStreamName } from '../media/streams.js';
import type { Ingests } from './ingest.js';

export interface RtspOptions {
  /** How long a pulled source stays after its last viewer left, ms. */
  lingerMs: number;
}

const MAX_URL = 2048;

export class RtspPulls {
  private readonly sources = new Map<string, string>();
  private readonly lingers = new Map<string, NodeJS.Timeout>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ingests: Ingests,
    private readonly sessions: SessionManager,
    private readonly log: Logger,
    private readonly o: RtspOptions,
  ) {
    this.unsubscribe = sessions.subscribe({
      'viewer:join': (e) => this.clearLinger(e.stream),
      'viewer:leave': (e) => this.maybeLinger(e.stream),
      'stream:stop': (e) => this.clearLinger(e.stream),
      'stream:wanted': (e) => {
        try {
          this.ensure(e.stream);
        } catch (err) {
          this.log.warn({ stream: e.stream, err: (err as Error).message }, 'RTSP pull for a waiting view failed');
        }
      },
    });
  }

  /** Registers (or replaces) `stream`'s RTSP URL; throws HttpError 400 for a bad name or URL. */
  register(stream: string, url: string): void {
    checkStreamName(stream);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new HttpError(400, `not a URL: ${url.slice(0, 80)}`);
    }
    if ((u.protocol !== 'rtsp:' && u.protocol !== 'rtsps:') || url.length > MAX_URL) throw new HttpError(400, 'an RTSP source must be an rtsp:// or rtsps:// URL (at most 2048 characters)');
    this.sources.set(stream, url);
    this.log.info({ stream, url: u.host + u.pathname }, 'RTSP source registered');
  }

  unregister(stream: string): boolean {
    this.ingests.stop(stream);
    return this.sources.delete(stream);
  }

  list(): { stream: string; pulling: boolean }[] {
    return [...this.sources.keys()].map((stream) => ({ stream, pulling: this.sessions.isLive(stream) }));
  }

  /**
   * Starts pulling `stream` if it is a registered source that is not live: true when it was
   * started. Called before a viewer's offer is answered; the viewer's video starts at the
   * camera's next keyframe (a child cannot be asked for one).
   */
  ensure(stream: string): boolean {
    const url = this.sources.get(stream);
    if (!url || this.sessions.isLive(stream)) return false;
    this.ingests.start(stream, { kind: 'rtsp', input: ['-rtsp_transport', 'tcp', '-timeout', '5000000', '-i', url], kinds: { video: true, audio: true } });
    this.log.info({ stream }, 'RTSP source pulled for a viewer');
    // Nobody may come after all (the viewer's offer can still fail): the linger covers that.
    this.maybeLinger(stream);
    return true;
  }

  private maybeLinger(stream: string): void {
    if (!this.sources.has(stream) || this.lingers.has(stream) || this.sessions.viewerCount(stream) > 0) return;
    const t = setTimeout(() => {
      this.lingers.delete(stream);
      if (this.sessions.viewerCount(stream) === 0 && this.sessions.isLive(stream)) {
        this.log.info({ stream }, 'RTSP source dropped: no viewers left');
        this.sessions.closeStream(stream, 'no viewers left');
      }
    }, this.o.lingerMs);
    t.unref();
    this.lingers.set(stream, t);
  }

  private clearLinger(stream: string): void {
    const t = this.lingers.get(stream);
    if (t) clearTimeout(t);
    this.lingers.delete(stream);
  }

  close(): void {
    this.unsubscribe();
    for (const t of this.lingers.values()) clearTimeout(t);
    this.lingers.clear();
  }
}
