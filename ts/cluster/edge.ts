// This node as an edge: pulls of streams that live on other nodes, kept while local viewers
// watch, dropped after a linger, and re-pulled under viewers that stay when the source returns.
import type { Logger } from 'pino';
import { newIceParams } from '../media/answer.js';
import type { SessionManager } from '../media/sessions.js';
import type { PullCredentials } from '../access/pull-token.js';
import { PULL_HEADER } from '../access/pull-token.js';
import { upstreamCandidates } from './director.js';
import type { RegionDistances } from './director.js';
import { LAYERS_HEADER, PATH_HEADER } from './headers.js';
import { buildPullOffer, parsePullAnswer } from './pull-sdp.js';
import type { NodeRecord, Registry } from './registry.js';

export interface EdgeDeps {
  sessions: SessionManager;
  registry: Registry;
  log: Logger;
  nodeId: string;
  fingerprint: () => string;
  /** The registry's node list as of the latest heartbeat. */
  nodes: () => NodeRecord[];
  lingerMs: number;
  /** How long an edge keeps viewers of a stream whose source went away, waiting for it. */
  graceMs: number;
  /** Mints this edge's pull credentials; undefined when no cluster secret is set. */
  credentials: PullCredentials | undefined;
  region: string;
  distances: RegionDistances;
}

/** An upstream refused for a reason another upstream may not have (full, draining, failed pull). */
class Refused extends Error {
  constructor(
    message: string,
    readonly retryOthers: boolean,
  ) {
    super(message);
  }
}

interface Pull {
  upstream: string;
  /** The upstream's session resource (for DELETE), absolute. */
  resource: string | undefined;
  path: string[];
  linger?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
  retry?: NodeJS.Timeout;
  lost: boolean;
}

const REQUEST_TIMEOUT_MS = 5000;
const REPULL_EVERY_MS = 300;
/** How long a pull keeps looking when every candidate is full (a new carrier shows up within a heartbeat or two). */
const FULL_RETRY_MS = 4000;

export class Edge {
  private readonly pulls = new Map<string, Pull>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly d: EdgeDeps) {
    this.unsubscribe = d.sessions.subscribe({
      'viewer:join': (e) => this.clearLinger(e.stream),
      'viewer:leave': (e) => this.maybeLinger(e.stream),
      'source:lost': (e) => this.sourceLost(e.stream, e.reason),
      'stream:stop': (e) => this.stopped(e.stream),
      // A publisher took the stream over here (origin failover): the viewers stay, the pull goes.
      'stream:adopted': (e) => this.stopped(e.stream),
      'stream:wanted': (e) => {
        void this.ensure(e.stream, []).catch((err: Error) => d.log.warn({ stream: e.stream, err: err.message }, 'pull for a waiting view failed'));
      },
    });
  }

  get count(): number {
    return this.pulls.size;
  }

  /** Streams pulled here, with the node each comes from. */
  list(): { stream: string; upstream: string; lost: boolean }[] {
    return [...this.pulls].map(([stream, p]) => ({ stream, upstream: p.upstream, lost: p.lost }));
  }

  /**
   * Makes `stream` local by pulling it when another node has it. Resolves true when it is local
   * (already or now), false when no other node has it; rejects when the pull failed.
   * `path`: the nodes a pull request to this node came through (empty for a viewer).
   */
  ensure(stream: string, path: string[]): Promise<boolean> {
    if (this.d.sessions.isLive(stream) && !this.pulls.get(stream)?.lost) return Promise.resolve(true);
    const running = this.pending.get(stream);
    if (running) return running;
    const p = this.pull(stream, path).finally(() => this.pending.delete(stream));
    this.pending.set(stream, p);
    return p;
  }

  private async pull(stream: string, path: string[]): Promise<boolean> {
    if (this.closed) return false;
    const exclude = new Set([...path, this.d.nodeId]);
    const deadline = Date.now() + FULL_RETRY_MS;
    let nodes = this.d.nodes();
    let last: Error | undefined;
    for (;;) {
      // Read each round: a publisher that failed over to another node moves the origin record.
      const origin = await this.d.registry.origin(stream);
      if (!origin || origin.node === this.d.nodeId) return false;
      // Best first; on a refusal that another node may not give (full, draining), the next.
      for (const up of upstreamCandidates(nodes, origin, exclude, this.d.region, this.d.distances).slice(0, 8)) {
        try {
          return await this.pullFrom(stream, path, up);
        } catch (err) {
          last = err as Error;
          if (!(err instanceof Refused && err.retryOthers)) throw err;
          this.d.log.debug({ stream, upstream: up.id, err: last.message }, 'upstream refused the pull; trying the next');
        }
      }
      if (this.closed || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, REPULL_EVERY_MS));
      nodes = await this.d.registry.nodes().catch(() => nodes);
    }
    throw last ?? new Error('no node to pull from');
  }

  private async pullFrom(stream: string, path: string[], up: { id: string; url: string }): Promise<boolean> {
    const ice = newIceParams();
    const headers: Record<string, string> = { 'Content-Type': 'application/sdp', [PATH_HEADER]: [...path, this.d.nodeId].join(','), [LAYERS_HEADER]: 'simulcast' };
    if (this.d.credentials) {
      headers[PULL_HEADER] = await this.d.credentials.mint({ edge: this.d.nodeId, stream, upstream: up.id, fingerprint: this.d.fingerprint() });
    }
    let res: Response;
    try {
      res = await fetch(`${up.url}/whep/${encodeURIComponent(stream)}`, {
        method: 'POST',
        headers,
        body: buildPullOffer(ice, this.d.fingerprint()),
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      // A node that died after its last heartbeat: the others may still serve.
      throw new Refused(`upstream ${up.id} unreachable: ${(err as Error).message}`, true);
    }
    const body = await res.text();
    if (res.status !== 201) throw new Refused(`upstream ${up.id} answered ${res.status}: ${body.slice(0, 200)}`, res.status === 503 || res.status === 502 || res.status === 404);
    const answer = parsePullAnswer(body);
    const location = res.headers.get('location');
    if (this.closed) return false;
    if (this.d.sessions.isLive(stream) && !this.d.sessions.isRelayed(stream)) {
      // A publisher took the stream over here while this pull was on its way: not needed.
      if (location) void fetch(new URL(location, up.url), { method: 'DELETE', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return true;
    }
    this.d.sessions.attachPull(stream, {
      codecs: answer.codecs,
      localUfrag: ice.ufrag,
      localPwd: ice.pwd,
      remoteUfrag: answer.iceUfrag,
      remotePwd: answer.icePwd,
      remoteIp: answer.candidate.ip,
      remotePort: answer.candidate.port,
      fingerprintAlgorithm: answer.fingerprintAlgorithm,
      fingerprint: answer.fingerprint,
      ...(answer.layers ? { layers: answer.layers } : {}),
      ...(answer.ddExtId !== undefined ? { ddExtId: answer.ddExtId } : {}),
    });
    const prev = this.pulls.get(stream);
    if (prev) this.clearTimers(prev);
    this.pulls.set(stream, { upstream: up.id, resource: location ? new URL(location, up.url).href : undefined, path, lost: false });
    this.d.log.info({ stream, upstream: up.id, url: up.url, path: [...path, this.d.nodeId] }, prev ? 'stream re-pulled' : 'stream pulled');
    // Nobody may come after all (the viewer's offer can still fail): the linger covers that.
    this.maybeLinger(stream);
    return true;
  }

  /**
   * Called with each heartbeat's node list: a pull whose upstream node left the registry (died
   * without a goodbye, its record expired) is dropped at once and looked for again, rather than
   * after the consent timeout. A list without this node is no evidence (a registry hiccup).
   */
  checkUpstreams(nodes: NodeRecord[]): void {
    if (!nodes.some((n) => n.id === this.d.nodeId)) return;
    const live = new Set(nodes.map((n) => n.id));
    for (const [stream, p] of this.pulls) {
      if (!p.lost && !live.has(p.upstream)) this.d.sessions.dropPull(stream, `upstream ${p.upstream} left the registry`);
    }
  }

  private maybeLinger(stream: string): void {
    const p = this.pulls.get(stream);
    if (!p || p.linger || this.d.sessions.viewerCount(stream) > 0) return;
    p.linger = setTimeout(() => {
      p.linger = undefined;
      if (this.d.sessions.viewerCount(stream) === 0) this.d.sessions.closeStream(stream, 'no viewers left');
    }, this.d.lingerMs);
    p.linger.unref();
  }

  private clearLinger(stream: string): void {
    const p = this.pulls.get(stream);
    if (p?.linger) {
      clearTimeout(p.linger);
      p.linger = undefined;
    }
  }

  /** The source went away: keep the viewers, look for the stream again until the grace ends. */
  private sourceLost(stream: string, reason: string): void {
    const p = this.pulls.get(stream);
    if (!p) return;
    p.lost = true;
    p.resource = undefined;  // the upstream ended that session itself
    this.d.log.info({ stream, upstream: p.upstream, reason, graceMs: this.d.graceMs }, 'pulled stream lost its source; waiting for it to return');
    p.grace = setTimeout(() => {
      p.grace = undefined;
      if (this.pulls.get(stream) === p && p.lost) this.d.sessions.closeStream(stream, 'source did not return');
    }, this.d.graceMs);
    p.grace.unref();
    const again = (): void => {
      p.retry = undefined;
      if (this.closed || this.pulls.get(stream) !== p || !p.lost) return;
      this.ensure(stream, p.path)
        .catch((err: Error) => {
          this.d.log.debug({ stream, err: err.message }, 're-pull failed');
          return false;
        })
        .then((ok) => {
          if (!ok && this.pulls.get(stream) === p && p.lost && p.grace) {
            p.retry = setTimeout(again, REPULL_EVERY_MS);
            p.retry.unref();
          }
        });
    };
    again();
  }

  private stopped(stream: string): void {
    const p = this.pulls.get(stream);
    if (!p) return;
    this.pulls.delete(stream);
    this.clearTimers(p);
    this.d.log.info({ stream, upstream: p.upstream }, 'pull closed');
    if (p.resource && !p.lost) {
      // Free the upstream's session now rather than at its consent timeout.
      void fetch(p.resource, { method: 'DELETE', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    }
  }

  private clearTimers(p: Pull): void {
    for (const t of [p.linger, p.grace, p.retry]) if (t) clearTimeout(t);
    p.linger = p.grace = p.retry = undefined;
  }

  close(): void {
    this.closed = true;
    for (const p of this.pulls.values()) this.clearTimers(p);
    this.unsubscribe();
  }
}
