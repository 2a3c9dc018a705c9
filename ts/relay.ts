import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { buildApp, mountRelay, uWS } from './http/uws.js';
import type { HttpDeps } from './http/uws.js';
import { createMetrics } from './ops/metrics.js';
import type { Metrics } from './ops/metrics.js';
import { native } from './native.js';
import type { EngineEvent, NativeEngine, WorkerStats } from './native.js';
import { createNodeHandler } from './http/node-http.js';
import type { NodeHandler } from './http/node-http.js';
import { createNodeWebSocket } from './http/node-websocket.js';
import type { NodeWebSocket } from './http/node-websocket.js';
import { ClusterNode } from './cluster/node.js';
import { logFfmpegCheck } from './ingest/ffmpeg-check.js';
import { Ingests } from './ingest/ingest.js';
import { RtmpIngest, SPLICE_PATH } from './ingest/rtmp.js';
import { RtspPulls } from './ingest/rtsp.js';
import { SRT_HELPER_PATH, SrtIngest } from './ingest/srt.js';
import type { ClusterStats } from './cluster/node.js';
import { OptionsError, VIEWERS_PER_WORKER, resolveOptions } from './ops/options.js';
import type { RelayOptions, ResolvedOptions } from './ops/options.js';
import { RateSampler } from './ops/rates.js';
import { JoinTimes } from './ops/join-times.js';
import { MemoryReclaim, RECLAIM_DEFAULTS } from './ops/reclaim.js';
import type { ReclaimStats } from './ops/reclaim.js';
import type { JoinSummary } from './ops/join-times.js';
import type { Rates, ResidenceSummary } from './ops/rates.js';
import { Router } from './http/routes.js';
import { loadDashboard } from './http/dashboard.js';
import { SessionManager } from './media/sessions.js';
import { Access } from './access/access.js';
import type { RelayEvents } from './media/sessions.js';
import { Signaling } from './signaling/signaling.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface RelayStats {
  streams: number;
  /** Publishers whose ICE and DTLS completed. */
  publishers: number;
  viewers: number;
  /** Sessions the control plane holds (publishers and viewers, connected or not). */
  sessions: number;
  signalingConnections: number;
  /** Relay-wide, over the last second. Per-stream rates need per-stream counters the data plane does not keep yet. */
  rates: Rates;
  /** Viewer join times (offer → first media packet sent), over the most recent joins. */
  joins: JoinSummary;
  /** Relay-added delay (packet residence) over the last second; undefined when nothing was forwarded. */
  residence: ResidenceSummary | undefined;
  workers: WorkerStats[];
  /** Memory given back after bursts of joins/leaves (undefined with `memoryReclaim: false`). */
  memoryReclaim: ReclaimStats | undefined;
}

export interface Relay {
  readonly options: ResolvedOptions;
  /** The relay's Prometheus registry (undefined with `metrics: false`), e.g. to merge into your own. */
  readonly registry: Registry | undefined;
  /** Starts the relay's own HTTP/WebSocket server; resolves with the bound port. */
  listen(): Promise<{ port: number }>;
  /** Adds WHIP, WHEP, /api, /metrics, /healthz, /dashboard and /ws to an existing uWebSockets.js app. */
  attach(app: TemplatedApp): void;
  /**
   * A node:http request listener for WHIP, WHEP, /api, /metrics, /healthz and /dashboard. As Express
   * middleware (`app.use(relay.nodeHandler())`) it passes other paths on to `next`. Its `upgrade`
   * carries WebSocket signaling on /ws (the `ws` library): `server.on('upgrade', handler.upgrade)`.
   */
  nodeHandler(): NodeHandler;
  stats(): RelayStats;
  /** This node's place in the cluster (node id, registry state, pulls); one node without --redis. */
  clusterStats(): ClusterStats;
  /** Streams fed by the relay's own FFmpeg children (RTMP, SRT, RTSP; see docs/ingest.md). */
  readonly ingests: Ingests;
  /** RTMP publish (when rtmpPort is set): `stats()` counts what JavaScript read and what was spliced. */
  readonly rtmp: RtmpIngest | undefined;
  /** SRT publish (halfsec-srt): `ready` resolves once it listens; `stats()` counts callers and refusals. */
  readonly srt: SrtIngest;
  /** RTSP sources pulled while they have viewers: `register(stream, 'rtsp://camera/...')`. */
  readonly rtsp: RtspPulls;
  /**
   * Stops taking viewers (WHEP answers 503 with Retry-After), marks the node draining in the
   * registry, waits until its viewers are gone or `timeoutMs` (default drainTimeoutMs), then closes.
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Ends every session and signaling connection, stops HTTP and frees the native engine. */
  close(): Promise<void>;
  on<K extends keyof RelayEvents>(event: K, listener: (...args: RelayEvents[K]) => void): Relay;
  once<K extends keyof RelayEvents>(event: K, listener: (...args: RelayEvents[K]) => void): Relay;
  off<K extends keyof RelayEvents>(event: K, listener: (...args: RelayEvents[K]) => void): Relay;
}

/** The data plane: its worker threads and UDP sockets, with the options that concern it. */
function startEngine(opts: ResolvedOptions, onEvents: (events: EngineEvent[]) => void): NativeEngine {
  return new native.Engine(
    {
      workers: opts.workers,
      keyframeCacheMaxAgeMs: opts.keyframeCacheMaxAgeMs,
      udpGso: opts.udpGso,
      fanoutCoalesceUs: opts.fanoutCoalesceUs,
      pinWorkers: opts.pinWorkers,
      workerRealtimePriority: opts.workerRealtimePriority,
      connectTimeoutMs: opts.connectTimeoutMs,
      consentTimeoutMs: opts.consentTimeoutMs,
      publisherMediaTimeoutMs: opts.publisherMediaTimeoutMs,
      bindAddress: opts.rtcBindAddress,
      portBase: opts.rtcPortMin,
      portCount: opts.rtcPortMax - opts.rtcPortMin + 1,
      tcpPort: opts.rtcTcpPort ?? -1,
      tcpMaxPerAddress: opts.rtcTcpMaxPerAddress,
      tcpMaxPerWorker: opts.rtcTcpMaxPerWorker,
    },
    onEvents,
  );
}

/** This relay's place in a cluster (alone without --redis): capacity, heartbeat, pulls. */
function joinCluster(opts: ResolvedOptions, sessions: SessionManager, log: Logger, engine: NativeEngine, rates: RateSampler): ClusterNode {
  return new ClusterNode({
    sessions,
    log,
    fingerprint: () => engine.fingerprint,
    egressBitsPerSecond: () => rates.rates().egressBitsPerSecond,
    config: {
      redisUrl: opts.redisUrl,
      redisSentinels: [...opts.redisSentinels],
      redisMasterName: opts.redisMasterName,
      publicUrl: opts.publicUrl,
      nodeId: opts.nodeId,
      capacity: opts.capacityViewers > 0 ? opts.capacityViewers : VIEWERS_PER_WORKER * engine.ports.length,
      heartbeatMs: opts.clusterHeartbeatMs,
      lingerMs: opts.pullLingerMs,
      whepRedirect: opts.whepRedirect,
      clusterSecret: opts.clusterSecret,
      region: opts.region,
      maxPulls: opts.maxPulls,
      regionDistances: opts.regionDistances,
    },
  });
}

/**
 * uWebSockets.js listens with SO_REUSEPORT by default, so a second relay on the same port would
 * start and silently share its connections (a publisher and its viewers on different relays).
 * LIBUS_LISTEN_EXCLUSIVE_PORT makes the second one fail instead. The typings lack the
 * (host, port, options, cb) form the native listen takes.
 */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1; // uWebSockets.js ListenOptions

function listenExclusive(app: uWS.TemplatedApp, host: string, port: number, cb: (token: uWS.us_listen_socket | false) => void): void {
  const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (token: uWS.us_listen_socket | false) => void) => void;
  listen.call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb);
}

export function createRelay(options: RelayOptions = {}, logger?: Logger): Relay {
  const opts = resolveOptions(options);
  if (opts.clusterSecret !== undefined && opts.clusterSecret === opts.tokenSecret) {
    // One key for both would let a view token pass for a pull credential's signature, and leak the cluster's key to token issuers.
    throw new OptionsError(['clusterSecret must differ from tokenSecret']);
  }
  const log = logger ?? pino({ level: opts.logLevel, base: { name: 'halfsec' } });
  let sessions: SessionManager | undefined;
  const engine = startEngine(opts, (events) => sessions?.onEngineEvents(events));
  if (engine.schedulingWarning !== '') log.warn(engine.schedulingWarning);
  if (opts.fanoutCoalesceUs > 0 && !opts.udpGso) {
    log.warn({ fanoutCoalesceUs: opts.fanoutCoalesceUs }, 'fanoutCoalesceUs without udpGso holds packets (latency) but cannot send them as GSO runs (no CPU saved): turn udpGso on or the window off');
  }
  sessions = new SessionManager(engine, opts.announcedIps, log, { republishGraceMs: opts.republishGraceMs, maxPeersPerWorker: opts.maxPeersPerWorker, maxPublishKbps: opts.maxPublishKbps });
  const sm = sessions;
  if ((opts.redisUrl !== undefined || opts.redisSentinels.length > 0) && opts.clusterSecret === undefined) {
    log.warn('no cluster secret: this node takes pulls from any node that asks, like viewers (set --cluster-secret on every node of the cluster)');
  }
  const access = new Access(opts, sm);
  access.warnIfOpen(log);
  if (opts.adminToken === undefined) {
    log.info('no admin token: /api/stats, /api/cluster and stream details (with session ids) answer loopback clients only; behind a reverse proxy on this host, set --admin-token');
  }
  let engineClosed = false;
  // The closed engine throws on stats(); a closed relay simply has no workers.
  const workers = (): WorkerStats[] => (engineClosed ? [] : engine.stats().workers);
  const rates = new RateSampler(workers);
  const joins = new JoinTimes();
  sm.on('viewer:media', (e) => {
    if (e.joinSeconds !== undefined) joins.add(e.joinSeconds);
  });
  // A session's start, its handshake's end (the DTLS state is freed) and its end each leave freed memory behind.
  const reclaim = opts.memoryReclaim ? new MemoryReclaim(RECLAIM_DEFAULTS, log) : undefined;
  if (reclaim) for (const e of ['viewer:join', 'peer:connected', 'viewer:leave', 'stream:stop'] as const) sm.on(e, () => reclaim.churn());
  const signaling = new Signaling({
    sessions: sm,
    log,
    maxMessageBytes: opts.maxBodyBytes,
    viewerCountIntervalMs: opts.viewerCountIntervalMs,
    serverName: `halfsec/${VERSION}`,
    access,
  });
  const metrics: Metrics | undefined = opts.metrics ? createMetrics({ sessions: sm, workers, signalingConnections: () => signaling.size }) : undefined;
  let closed = false;
  const cluster = joinCluster(opts, sm, log, engine, rates);
  if (metrics) cluster.registerMetrics(metrics.registry);
  // Without listen() the port is the configured one: embedders behind a proxy set publicUrl.
  const ingests = new Ingests(sm, engine, log, { maxIngests: opts.maxIngests, ffmpegPath: opts.ffmpegPath, reencodeVideo: opts.ingestReencodeVideo, keyframeIntervalSec: 1 });
  const rtsp = new RtspPulls(ingests, sm, log, { lingerMs: opts.pullLingerMs });
  for (const [stream, url] of Object.entries(opts.rtspSources)) rtsp.register(stream, url);
  const srt = new SrtIngest(ingests, access, sm, log, {
    host: opts.host, port: opts.srtPort, ...(opts.srtPassphrase !== undefined ? { passphrase: opts.srtPassphrase } : {}),
    listeners: Object.entries(opts.srtListeners).map(([stream, l]) => ({ stream, ...l })), latencyMs: 120, helperPath: SRT_HELPER_PATH,
  });
  void srt.start();
  // Said at startup rather than at the first publisher: is FFmpeg there, with what children use.
  if (opts.rtmpPort > 0 || opts.srtPort > 0 || Object.keys(opts.srtListeners).length > 0 || Object.keys(opts.rtspSources).length > 0) {
    void logFfmpegCheck(opts.ffmpegPath, log);
  }
  const rtmp = opts.rtmpPort > 0 ? new RtmpIngest(ingests, access, log, { host: opts.host, port: opts.rtmpPort, app: 'live', gateTimeoutMs: 10000, splicePath: SPLICE_PATH }) : undefined;
  const startCluster = (port: number): void => cluster.start(`http://${opts.announcedIps[0] ?? '127.0.0.1'}:${port}`);

  const stats = (): RelayStats => {
    const c = sm.counts();
    return { streams: c.streams, publishers: c.publishers, viewers: c.viewers, sessions: c.sessions, signalingConnections: signaling.size, rates: rates.rates(), residence: rates.residence(), joins: joins.summary(), workers: workers(), memoryReclaim: reclaim?.stats() };
  };
  const router = new Router({
    sessions: sm,
    access,
    log,
    maxBodyBytes: opts.maxBodyBytes,
    adminToken: opts.adminToken,
    metrics: metrics ? () => metrics.scrape() : undefined,
    stats,
    isClosed: () => closed,
    dashboard: opts.dashboard ? loadDashboard() : undefined,
    cluster: {
      get verifiesPulls() {
        return cluster.verifiesPulls;
      },
      gate: (role, stream, headers, sdp) => {
        // A registered RTSP source starts pulling for its first viewer, as an edge pull does.
        if (role === 'viewer') rtsp.ensure(stream);
        return cluster.gate(role, stream, headers, sdp);
      },
      director: (stream, region, role) => cluster.director(stream, region, role),
      describe: () => cluster.describe(),
    },
  });
  const httpDeps: HttpDeps = { router, log, signaling, maxMessageBytes: opts.maxBodyBytes };
  let nodeWs: NodeWebSocket | undefined;
  let listenSocket: us_listen_socket | undefined;
  let ownApp: TemplatedApp | undefined;

  const relay: Relay = {
    options: opts,
    registry: metrics?.registry,
    listen() {
      if (closed) return Promise.reject(new Error('relay is closed'));
      if (ownApp) return Promise.reject(new Error('relay is already listening'));
      const app = (ownApp = buildApp(httpDeps));
      return new Promise((resolve, reject) => {
        listenExclusive(app, opts.host, opts.port, (token) => {
          if (!token) {
            reject(new Error(`could not listen on ${opts.host}:${opts.port} (in use or not permitted)`));
            return;
          }
          listenSocket = token;
          const port = uWS.us_socket_local_port(token);
          log.info({ http: `${opts.host}:${port}`, rtcPorts: engine.ports, rtcTcpPort: engine.tcpPort, announcedIps: opts.announcedIps }, 'halfsec relay listening');
          startCluster(port);
          if (!rtmp) return resolve({ port });
          rtmp.listen().then(() => resolve({ port }), (err: Error) => reject(new Error(`could not listen for RTMP on ${opts.host}:${opts.rtmpPort}: ${err.message}`)));
        });
      });
    },
    attach(app) {
      mountRelay(app, httpDeps);
      startCluster(opts.port);
    },
    nodeHandler() {
      startCluster(opts.port);
      nodeWs ??= createNodeWebSocket(signaling, opts.maxBodyBytes);
      return createNodeHandler(router, nodeWs.upgrade);
    },
    stats,
    clusterStats: () => cluster.stats(),
    ingests,
    rtmp,
    srt,
    rtsp,
    async drain(timeoutMs = opts.drainTimeoutMs) {
      if (closed) return;
      await cluster.startDrain();
      const deadline = Date.now() + timeoutMs;
      while (!closed && sm.counts().viewers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      log.info({ viewersLeft: sm.counts().viewers }, 'drain finished');
      await relay.close();
    },
    async close() {
      if (closed) return;
      closed = true;
      await cluster.close();
      rates.stop();
      reclaim?.close();
      signaling.close();
      rtmp?.close();
      rtsp.close();
      srt.close();
      ingests.close();
      nodeWs?.close();
      sm.closeAll();
      metrics?.close();
      if (listenSocket) uWS.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
      // Let the close_notify datagrams queued above leave before the workers stop.
      await new Promise((r) => setTimeout(r, 20));
      engineClosed = true;
      engine.close();
    },
    on(event, listener) {
      sm.on(event, listener as never);
      return relay;
    },
    once(event, listener) {
      sm.once(event, listener as never);
      return relay;
    },
    off(event, listener) {
      sm.off(event, listener as never);
      return relay;
    },
  };
  return relay;
}
