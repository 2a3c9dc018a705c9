// This relay as a member of a cluster: its registry record and heartbeat, the origin records of
// the streams published here, the WHEP gate (pull, redirect, drain), the director, and the
// Prometheus figures an autoscaler reads.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { collectedGauge } from '../ops/metrics.js';
import type { Registry as PromRegistry } from 'prom-client';
import { checkStreamName } from '../media/streams.js';
import type { SessionManager } from '../media/sessions.js';
import { parseOffer } from '../media/sdp.js';
import { PULL_HEADER, PullCredentials } from '../access/pull-token.js';
import { chooseViewerNode, loadOf, parseRegionDistances } from './director.js';
import type { RegionDistances } from './director.js';
import { Edge } from './edge.js';
import { MAX_HOPS, PATH_HEADER, parsePath } from './headers.js';
import { MemoryRegistry } from './registry.js';
import type { NodeRecord, Registry } from './registry.js';
import { RedisRegistry } from './redis-registry.js';

export interface ClusterConfig {
  redisUrl: string | undefined;
  /** Redis Sentinel host:port list (wins over redisUrl when not empty) and the master name they monitor. */
  redisSentinels: string[];
  redisMasterName: string;
  publicUrl: string | undefined;
  nodeId: string | undefined;
  capacity: number;
  heartbeatMs: number;
  lingerMs: number;
  whepRedirect: boolean;
  /** Shared cluster secret for pull credentials; undefined: pulls are admitted like viewers. */
  clusterSecret: string | undefined;
  region: string;
  /** Edge pulls served at most (0: unlimited). */
  maxPulls: number;
  /** "a-b=30,..." (see parseRegionDistances). */
  regionDistances: string;
}

export interface ClusterDeps {
  sessions: SessionManager;
  log: Logger;
  fingerprint: () => string;
  egressBitsPerSecond: () => number;
  config: ClusterConfig;
}

/** What the gate decided instead of letting the request through. */
export interface GateReply {
  status: number;
  message: string;
  headers?: [string, string][];
}

/** A pull the gate let through: tell it the session it became (or that none did). */
export interface PullTicket {
  /** Signed by a node of this cluster: no view token is needed. */
  trusted: boolean;
  started(session: string): void;
  /** Frees the reserved pull slot when no session came of it; harmless after started(). */
  release(): void;
}

/** The gate's verdict: a reply instead of the session, a pull to admit, or undefined (a viewer: go on). */
export type GateResult = { reply: GateReply; pull?: undefined } | { pull: PullTicket; reply?: undefined } | undefined;

export interface DirectorAnswer {
  stream: string;
  node: string;
  url: string;
  whep: string;
  whip: string;
  /** The node named is the one answering (a page it served may use its own relative URLs). */
  local: boolean;
  /** The node carries the stream already (no pull needed). */
  carries: boolean;
  load: number;
}

export interface ClusterStats {
  node: string;
  url: string;
  registry: 'memory' | 'redis';
  registryUp: boolean;
  draining: boolean;
  capacity: number;
  nodesSeen: number;
  pulls: { stream: string; upstream: string; lost: boolean }[];
  region: string;
  maxPulls: number;
  /** Edge pulls this node serves now. */
  pullsServed: number;
}

const RETRY_AFTER_S = '5';

export class ClusterNode {
  readonly id: string;
  readonly registry: Registry;
  readonly edge: Edge;
  private url = '';
  private timer: NodeJS.Timeout | undefined;
  private nodeList: NodeRecord[] = [];
  private draining = false;
  private readonly origins = new Set<string>();
  private cpuPrev = { usage: process.cpuUsage(), at: performance.now() };
  private cpu = 0;
  private readonly unsubscribe: () => void;
  private readonly credentials: PullCredentials | undefined;
  private readonly distances: RegionDistances;
  /** Viewer sessions that are other nodes' pulls, by session id → stream. */
  private readonly served = new Map<string, string>();
  /** Pulls admitted by the gate whose session is not created yet (they hold a slot). */
  private reserved = 0;
  /** When the registry last became reachable (undefined while it is not). */
  private registrySince: number | undefined;

  constructor(private readonly d: ClusterDeps) {
    this.id = d.config.nodeId ?? randomBytes(6).toString('hex');
    this.credentials = d.config.clusterSecret !== undefined ? new PullCredentials(d.config.clusterSecret) : undefined;
    this.distances = parseRegionDistances(d.config.regionDistances);
    const c = d.config;
    const target = c.redisSentinels.length > 0 ? { sentinels: c.redisSentinels, name: c.redisMasterName } : c.redisUrl ? { url: c.redisUrl } : undefined;
    this.registry = target ? new RedisRegistry(target, d.log.child({ node: this.id })) : new MemoryRegistry();
    this.edge = new Edge({
      sessions: d.sessions,
      registry: this.registry,
      log: d.log.child({ node: this.id }),
      nodeId: this.id,
      fingerprint: d.fingerprint,
      nodes: () => this.nodeList,
      lingerMs: d.config.lingerMs,
      graceMs: Math.max(d.config.lingerMs, 3 * d.config.heartbeatMs, 10_000),
      credentials: this.credentials,
      region: d.config.region,
      distances: this.distances,
    });
    const sm = d.sessions;
    this.unsubscribe = sm.subscribe({
      'stream:start': (e) => {
        if (sm.isRelayed(e.stream)) return;
        this.origins.add(e.stream);
        this.registry.setOrigin(e.stream, this.record(), this.ttlMs).catch(() => undefined);
      },
      // This node pulled the stream and a publisher took it over here: now it is the origin.
      'stream:adopted': (e) => {
        this.origins.add(e.stream);
        this.registry.setOrigin(e.stream, this.record(), this.ttlMs).catch(() => undefined);
      },
      'viewer:leave': (e) => {
        this.served.delete(e.session);
      },
      'stream:stop': (e) => {
        if (!this.origins.delete(e.stream)) return;
        this.registry.clearOrigin(e.stream, this.id).catch(() => undefined);
      },
    });
  }

  /** Cluster mode: another node's streams can be pulled (a registry shared with others). */
  get enabled(): boolean {
    return this.registry.kind === 'redis';
  }

  private get ttlMs(): number {
    return 3 * this.d.config.heartbeatMs;
  }

  /** Starts the heartbeat; `defaultUrl` serves when no publicUrl was configured. */
  start(defaultUrl: string): void {
    this.url = (this.d.config.publicUrl ?? defaultUrl).replace(/\/+$/, '');
    if (this.timer) return;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.d.config.heartbeatMs);
    this.timer.unref();
  }

  record(): NodeRecord {
    const counts = this.d.sessions.counts();
    return {
      id: this.id,
      url: this.url,
      capacity: this.d.config.capacity,
      viewers: counts.viewers,
      egressMbps: Math.round(this.d.egressBitsPerSecond() / 1e4) / 100,
      cpu: Math.round(this.cpu * 1000) / 1000,
      draining: this.draining,
      region: this.d.config.region,
      maxPulls: this.d.config.maxPulls,
      pullsServed: this.served.size,
      streams: [...this.d.sessions.localStreams(), ...this.d.sessions.relayedStreams().filter((s) => !s.orphaned).map((s) => s.name)],
      held: this.d.sessions.relayedStreams().filter((s) => s.orphaned).map((s) => s.name),
      upstreams: Object.fromEntries(this.edge.list().filter((p) => !p.lost).map((p) => [p.stream, p.upstream])),
      at: Date.now(),
    };
  }

  private sampleCpu(): void {
    const now = performance.now();
    const usage = process.cpuUsage();
    const usedUs = usage.user - this.cpuPrev.usage.user + (usage.system - this.cpuPrev.usage.system);
    const wallUs = (now - this.cpuPrev.at) * 1000;
    if (wallUs > 0) this.cpu = Math.min(1, usedUs / wallUs / availableParallelism());
    this.cpuPrev = { usage, at: now };
  }

  private async beat(): Promise<void> {
    this.sampleCpu();
    try {
      await this.registry.heartbeat(this.record(), [...this.origins], this.ttlMs);
      this.nodeList = await this.registry.nodes();
      this.registrySince ??= Date.now();
      // After an outage longer than the TTL every record expired, and the others re-register at
      // their own next beat: a node missing from the list means it died only once all had time.
      if (Date.now() - this.registrySince > this.ttlMs + this.d.config.heartbeatMs) this.edge.checkUpstreams(this.nodeList);
    } catch {
      // Degraded: the registry logs the outage once; local streams carry on.
      this.registrySince = undefined;
    }
  }

  /**
   * Runs before a WHEP (or WHIP) offer is answered: refuses while draining, redirects when this
   * node is full, checks a pull's credential and this node's pull budget, pulls a stream that
   * lives elsewhere, refuses pull loops. `sdp`: the offer (a pull's credential is bound to its
   * DTLS fingerprint).
   */
  /** Whether pulls are checked by credential here (a cluster secret is set; ts/access/pull-token.ts). */
  get verifiesPulls(): boolean {
    return this.credentials !== undefined;
  }

  async gate(role: 'publisher' | 'viewer', stream: string, headers: Record<string, string | undefined>, sdp: string): Promise<GateResult> {
    checkStreamName(stream);
    const refuse = (status: number, message: string, extra?: [string, string][]): GateResult => ({ reply: { status, message, ...(extra ? { headers: extra } : {}) } });
    if (this.draining) return refuse(503, 'this node is draining; try another node', [['Retry-After', RETRY_AFTER_S]]);
    if (role === 'publisher') return this.gatePublisher(stream);
    const path = parsePath(headers[PATH_HEADER]);
    const isPull = headers[PATH_HEADER] !== undefined || headers[PULL_HEADER] !== undefined;
    if (path.includes(this.id)) return refuse(508, `pull loop: this node (${this.id}) is already on the path ${path.join(' > ')}`);
    if (path.length > MAX_HOPS) return refuse(508, `pull path longer than ${MAX_HOPS} hops`);
    let ticket: PullTicket | undefined;
    if (isPull) {
      if (this.credentials) {
        let fingerprint: string | undefined;
        try {
          fingerprint = parseOffer(sdp, 'viewer').fingerprint;
        } catch {
          fingerprint = undefined;
        }
        try {
          await this.credentials.verify(headers[PULL_HEADER], { stream, self: this.id, edge: path.at(-1), fingerprint });
        } catch (err) {
          const e = err as { status?: number; message: string };
          // Debug, not warn: anyone can send these, and a log line each would be a lever on the disk.
          this.d.log.debug({ stream, from: path.at(-1), err: e.message }, 'pull refused');
          return refuse(e.status ?? 401, e.message);
        }
      }
      if (this.d.config.maxPulls > 0 && this.served.size + this.reserved >= this.d.config.maxPulls) {
        return refuse(503, `this node serves its most pulls (${this.d.config.maxPulls}); pull from another node`, [['Retry-After', '1']]);
      }
      ticket = this.reserve(this.credentials !== undefined, stream);
    } else if (this.d.config.whepRedirect && this.enabled && this.full()) {
      const other = chooseViewerNode(this.nodeList.filter((n) => n.id !== this.id), stream, this.d.config.region, this.distances);
      if (other && loadOf(other) < 1) {
        return refuse(307, `this node is full; use ${other.url}`, [['Location', `${other.url}/whep/${encodeURIComponent(stream)}`]]);
      }
    }
    if (!this.enabled) return ticket ? { pull: ticket } : undefined;
    try {
      await this.edge.ensure(stream, path);
    } catch (err) {
      ticket?.release();
      this.d.log.warn({ stream, err: (err as Error).message }, 'pull failed');
      return refuse(502, `stream "${stream}" lives on another node, and pulling it failed: ${(err as Error).message}`);
    }
    return ticket ? { pull: ticket } : undefined;
  }

  private reserve(trusted: boolean, stream: string): PullTicket {
    this.reserved++;
    let held = true;
    const release = (): void => {
      if (held) this.reserved--;
      held = false;
    };
    return {
      trusted,
      started: (session) => {
        release();
        this.served.set(session, stream);
      },
      release,
    };
  }

  private async gatePublisher(stream: string): Promise<GateResult> {
    if (!this.enabled) return undefined;
    // Still pulling it: the origin may have died a moment ago (noticed within three heartbeats).
    const pulling = this.d.sessions.relayedStreams().some((s) => s.name === stream && !s.orphaned);
    if (this.d.sessions.isLive(stream) && !pulling) return undefined;
    const origin = await this.registry.origin(stream).catch(() => undefined);
    if (origin && origin.node !== this.id && (await reachable(origin.url))) {
      return { reply: { status: 409, message: `stream "${stream}" is already published on node ${origin.node}` } };
    }
    if (pulling) {
      // Not dropped here, before the publisher's token is checked: the heartbeat lets it go.
      return { reply: { status: 503, message: `this node still pulls stream "${stream}" from an origin that is gone; it takes a publisher within seconds`, headers: [['Retry-After', '1']] } };
    }
    return undefined;
  }

  private full(): boolean {
    return this.d.sessions.counts().viewers >= this.d.config.capacity;
  }

  /**
   * `region`: the client's region hint ('' = this node's region). `role` 'publisher': where a
   * publisher should (re)publish `stream`, i.e. a node that neither carries nor holds it, so the
   * edges holding it for their viewers can re-pull from it with their viewers' lines intact.
   */
  async director(stream: string, region = '', role: 'viewer' | 'publisher' = 'viewer'): Promise<DirectorAnswer | undefined> {
    let nodes: NodeRecord[];
    try {
      nodes = this.enabled ? await this.registry.nodes() : [];
    } catch {
      nodes = [];
    }
    if (!nodes.some((n) => n.id === this.id)) nodes.push(this.record());
    const pool = role === 'publisher' ? await this.publisherPool(nodes, stream) : nodes;
    const n = chooseViewerNode(pool, stream, region || this.d.config.region, this.distances);
    if (!n) return undefined;
    return { stream, node: n.id, url: n.url, whep: `${n.url}/whep/${encodeURIComponent(stream)}`, whip: `${n.url}/whip/${encodeURIComponent(stream)}`, local: n.id === this.id, carries: n.streams.includes(stream), load: Math.round(loadOf(n) * 1000) / 1000 };
  }

  /**
   * Where a publisher of `stream` may go: its origin while that node lives (a reconnect after a
   * blip); else a node without the stream; else one that holds it without a source (it becomes
   * the origin with its own viewers and the pulls it serves kept, the other edges re-pull from
   * it; all with their lines intact). Empty while
   * every node still carries a stream whose origin died (they notice within three heartbeats).
   */
  private async publisherPool(nodes: NodeRecord[], stream: string): Promise<NodeRecord[]> {
    const origin = await this.registry.origin(stream).catch(() => undefined);
    const home = origin && nodes.find((n) => n.id === origin.node && !n.draining);
    if (home) return [home];
    const free = nodes.filter((n) => !n.draining && !n.streams.includes(stream) && !(n.held ?? []).includes(stream));
    if (free.length > 0) return free;
    return nodes.filter((n) => !n.draining && (n.held ?? []).includes(stream));
  }

  stats(): ClusterStats {
    return {
      node: this.id,
      url: this.url,
      registry: this.registry.kind,
      registryUp: this.registry.healthy(),
      draining: this.draining,
      capacity: this.d.config.capacity,
      nodesSeen: this.nodeList.length,
      pulls: this.edge.list(),
      region: this.d.config.region,
      maxPulls: this.d.config.maxPulls,
      pullsServed: this.served.size,
    };
  }

  /** Stats plus the registry's nodes, for GET /api/cluster. */
  async describe(): Promise<ClusterStats & { nodes: NodeRecord[] }> {
    const nodes = this.enabled ? await this.registry.nodes().catch(() => this.nodeList) : [this.record()];
    return { ...this.stats(), nodes };
  }

  /** Prometheus figures for autoscalers, read at scrape time. */
  registerMetrics(registry: PromRegistry): void {
    const gauge = (name: string, help: string, value: () => number): void => collectedGauge(registry, name, help, value);
    gauge('halfsec_node_viewers', 'viewer sessions on this node (edges pulling from it included)', () => this.d.sessions.counts().viewers);
    gauge('halfsec_node_capacity_viewers', 'viewers this node takes before the director prefers others', () => this.d.config.capacity);
    gauge('halfsec_node_load_ratio', 'viewers / capacity', () => this.d.sessions.counts().viewers / Math.max(1, this.d.config.capacity));
    gauge('halfsec_node_egress_mbps', 'egress over the last second, Mbit/s', () => this.d.egressBitsPerSecond() / 1e6);
    gauge('halfsec_node_draining', '1 while the node drains (takes no new viewers)', () => (this.draining ? 1 : 0));
    gauge('halfsec_node_pulls', 'streams this node pulls from other nodes (edge role)', () => this.edge.count);
    gauge('halfsec_node_pulls_served', 'pulls other nodes hold on this node (bounded by --max-pulls)', () => this.served.size);
    gauge('halfsec_cluster_registry_up', '1 while the cluster registry (Redis) is reachable', () => (this.registry.healthy() ? 1 : 0));
    gauge('halfsec_cluster_nodes', 'live nodes in the registry as of the latest heartbeat', () => this.nodeList.length);
    gauge('halfsec_cluster_viewers', 'viewers on all live nodes as of the latest heartbeat', () => this.nodeList.reduce((a, n) => a + n.viewers, 0));
    gauge('halfsec_cluster_capacity_viewers', 'capacity of all live, non-draining nodes', () => this.nodeList.filter((n) => !n.draining).reduce((a, n) => a + n.capacity, 0));
  }

  /** Stops taking viewers and tells the registry; the caller waits for viewers to finish. */
  async startDrain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.d.log.info({ node: this.id }, 'draining: no new viewers');
    await this.registry.heartbeat(this.record(), [...this.origins], this.ttlMs).catch(() => undefined);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.edge.close();
    this.unsubscribe();
    await this.registry.deregister(this.id).catch(() => undefined);
    for (const s of this.origins) await this.registry.clearOrigin(s, this.id).catch(() => undefined);
    await this.registry.close();
  }
}

/**
 * Whether another node's HTTP endpoint answers at all: a stream record outlives its node by up
 * to three heartbeats, and a publisher that moved away from a dead node must not wait that out.
 */
async function reachable(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}
