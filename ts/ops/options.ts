import { networkInterfaces } from 'node:os';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What an embedding application (or the CLI, through ts/ops/config.ts) passes to createRelay. */
export interface RelayOptions {
  /** HTTP listen address (default 0.0.0.0). */
  host?: string;
  /** HTTP port (default 8080; 0 picks a free one). */
  port?: number;
  /** Address the media UDP sockets and the ICE-TCP listener bind to (default 0.0.0.0; "::" takes IPv4 and IPv6). */
  rtcBindAddress?: string;
  /** Media UDP ports: each worker takes one from [rtcPortMin, rtcPortMax] (default 40000-40099). */
  rtcPortMin?: number;
  rtcPortMax?: number;
  /**
   * ICE-TCP (RFC 6544) port for viewers whose networks block UDP: passive TCP candidates, below
   * the UDP ones in priority (default: the first port of [rtcPortMin, rtcPortMax] free for TCP;
   * 0 = off). One port whatever the worker count, so 443 works when the operator allows it.
   */
  rtcTcpPort?: number;
  /** ICE-TCP connections one client IP may hold at once (default 16). */
  rtcTcpMaxPerAddress?: number;
  /** ICE-TCP connections one data-plane worker holds at most (default 2000). */
  rtcTcpMaxPerWorker?: number;
  /** IPs written into ICE candidates (default: the bind address, or every non-internal IPv4 when bound to 0.0.0.0, and IPv6 too when bound to ::). */
  announcedIps?: string[];
  /** Data-plane worker threads (default: one per core). */
  workers?: number;
  /** Largest accepted HTTP body or WebSocket message, bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** pino level (default 'info'). */
  logLevel?: LogLevel;
  /** When set, /api/* and /metrics require `Authorization: Bearer <adminToken>`. */
  adminToken?: string;
  /** Serve Prometheus metrics on /metrics (default true). */
  metrics?: boolean;
  /** Serve the live dashboard on /dashboard (default true; admin token, or loopback without one). */
  dashboard?: boolean;
  /**
   * Send a viewer's run of equal-size packets (a burst's packets) as one UDP GSO message
   * (UDP_SEGMENT, Linux 4.18+; default true). Each segment stays its own SRTP packet; ICE-TCP
   * viewers never use it; it turns itself off if the kernel refuses it.
   */
  udpGso?: boolean;
  /**
   * Once a burst of joins or leaves (at least 64) has been quiet for 1 s, at most every 10 s:
   * a memory-reducing V8 GC (a pause of the JS thread, never of media) and malloc_trim, so the
   * memory the burst freed goes back to the system (default true; see docs/operations.md, "Memory").
   */
  memoryReclaim?: boolean;
  /**
   * Fan-out coalescing window, µs (default 0: off; at most 50,000). A worker holds a stream's
   * packets up to this long after the first one's kernel receive time, or until a video packet
   * with the RTP marker bit (a frame's last) arrives, then fans them out together, so that a
   * paced publisher's packets reach each viewer as runs that UDP GSO sends as one message. Cuts
   * the relay's CPU per packet at the price of up to this much added latency (counted in
   * `halfsec_packet_residence_seconds`); see bench/README.md for what it saves and costs.
   */
  fanoutCoalesceUs?: number;
  /**
   * Pin each data-plane worker thread to its own CPU, the i-th of those the process may run on
   * (round robin; default false). A worker woken by another worker's packet is then never queued
   * behind that worker on its CPU; other work can no longer move a worker off a busy CPU.
   */
  pinWorkers?: boolean;
  /**
   * SCHED_FIFO priority of the data-plane worker threads, 1-99 (default 0: the normal
   * time-sharing policy; sched(7)). On a host shared with other busy processes it keeps them
   * from preempting a worker half way through a fan-out (the residence tail). Needs
   * CAP_SYS_NICE or RLIMIT_RTPRIO: without it the relay logs a warning and runs without.
   */
  workerRealtimePriority?: number;
  /** Least time between two `viewercount` WebSocket events of one stream, ms (default 1000). */
  viewerCountIntervalMs?: number;
  /**
   * A new viewer starts from the cached keyframe (and what followed) when it is at most this old,
   * ms (default 1000); an older one would play late, so the publisher is asked for a fresh one.
   */
  keyframeCacheMaxAgeMs?: number;
  /** HS256 secret for publish/view tokens (>= 32 bytes); with neither this nor tokenPublicKey, streams are open. */
  tokenSecret?: string;
  /** ES256 public key (PEM) for publish/view tokens. */
  tokenPublicKey?: string;
  /** New sessions per client address per second, 0 = unlimited (default 20; bursts of twice that pass). */
  sessionsPerIpPerSecond?: number;
  /** Viewers one stream may have, 0 = unlimited (default 0). */
  maxViewersPerStream?: number;
  /** Viewers this node takes in all, 0 = unlimited (default 0). */
  maxViewers?: number;
  /** A peer that has not finished ICE and DTLS after this many ms is dropped (default 10000). */
  connectTimeoutMs?: number;
  /** A connected peer silent (no authenticated STUN/SRTP/SRTCP) this long is gone, ms (default 30000, RFC 7675). */
  consentTimeoutMs?: number;
  /**
   * A publisher that was sending and then sends no RTP and no RTCP this long is gone: its viewers
   * are told `inactive` and the republish grace starts, ms (default 2000; 0 = only consent
   * decides). Never below twice the longest gap the publisher's own stream has shown (audio DTX).
   */
  publisherMediaTimeoutMs?: number;
  /** A stream whose publisher vanished (no DELETE) keeps its viewers this long for a republish, ms (default 10000; 0 = end at once). */
  republishGraceMs?: number;
  /**
   * Ceiling on what one publisher may send, kbit/s (default 20000), announced with REMB beside
   * transport-cc feedback (libwebrtc caps its own estimate at the REMB figure) and as b=AS / b=TIAS
   * in the WHIP answer's video section.
   */
  maxPublishKbps?: number;
  /** Peers (publishers, viewers, pulls) one data-plane worker may hold, 0 = unlimited (default 0). */
  maxPeersPerWorker?: number;
  /** Redis URL of the cluster registry (redis://host:port); unset = one node, in-memory registry. */
  redisUrl?: string;
  /** This node's HTTP base URL as other nodes and viewers reach it (default http://<first announced IP>:<port>). */
  publicUrl?: string;
  /** This node's id in the registry (default: random). */
  nodeId?: string;
  /** Viewers this node takes before the director sends new ones elsewhere (default 0 = 800 per worker). */
  capacityViewers?: number;
  /** Registry heartbeat interval, ms; a node's record expires after three missed beats (default 2000). */
  clusterHeartbeatMs?: number;
  /** How long an edge keeps a pull after its last local viewer left, ms (default 5000). */
  pullLingerMs?: number;
  /** Answer WHEP with 307 to a less loaded node when this one is at capacity (default false). */
  whepRedirect?: boolean;
  /**
   * Secret the nodes of one cluster share (at least 32 characters, not the view-token secret):
   * edges sign their pull credentials with it and a node takes pulls only with a valid one.
   * Unset: pulls are unauthenticated (admitted like viewers).
   */
  clusterSecret?: string;
  /** This node's region label for the director (default '' = one region). */
  region?: string;
  /** Edge pulls this node serves at most; beyond it edges pull from other nodes (default 0 = unlimited). */
  maxPulls?: number;
  /** Distances between regions for the director, "a-b=30,a-c=80" (symmetric, unlisted pairs are farthest). */
  regionDistances?: string;
  /** Redis Sentinel addresses (host:port) instead of redisUrl's server; needs redisMasterName. */
  redisSentinels?: string[];
  /** The master name the sentinels watch (default 'halfsec' when redisSentinels is set). */
  redisMasterName?: string;
  /** Concurrent ingests (FFmpeg children feeding streams: RTMP, SRT, RTSP), default 16; more are refused with 503. */
  maxIngests?: number;
  /** RTMP publish port (rtmp://host:port/live/<stream>), 0 = off (default 0; RTMP's usual port is 1935). Listens on `host`. */
  rtmpPort?: number;
  /** RTSP sources pulled while they have viewers: { "<stream>": "rtsp://camera/..." } (config file or API; default none). */
  rtspSources?: Record<string, string>;
  /** SRT publish port for every stream (srt://host:port?streamid=publish:<stream>[:<token>]), 0 = off (default 0). Needs halfsec-srt (libsrt). */
  srtPort?: number;
  /** Encryption passphrase every caller of srtPort must use (10-79 characters; default none). */
  srtPassphrase?: string;
  /** SRT per-stream ports (the port names the stream): { "<stream>": { port, passphrase? } } (default none). */
  srtListeners?: Record<string, { port: number; passphrase?: string }>;
  /** The FFmpeg executable ingest children run (default "ffmpeg" on PATH). */
  ffmpegPath?: string;
  /** Re-encode ingested video with libx264 (no B-frames, 1 s keyframes) instead of passing H.264 through (default false). */
  ingestReencodeVideo?: boolean;
  /** On SIGTERM, how long viewers may stay before the node exits anyway, ms (default 30000). */
  drainTimeoutMs?: number;
}

type Unset = 'adminToken' | 'tokenSecret' | 'tokenPublicKey' | 'redisUrl' | 'publicUrl' | 'nodeId' | 'clusterSecret' | 'srtPassphrase';
export type ResolvedOptions = Required<Omit<RelayOptions, Unset | 'rtcTcpPort'>> & { [K in Unset]: string | undefined } & {
  /** undefined: the first port of the media range free for TCP. */
  rtcTcpPort: number | undefined;
};

export const DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  rtcBindAddress: '0.0.0.0',
  rtcPortMin: 40000,
  rtcPortMax: 40099,
  rtcTcpMaxPerAddress: 16,
  rtcTcpMaxPerWorker: 2000,
  workers: 0,
  maxBodyBytes: 64 * 1024,
  logLevel: 'info',
  metrics: true,
  dashboard: true,
  udpGso: true,
  memoryReclaim: true,
  fanoutCoalesceUs: 0,
  pinWorkers: false,
  workerRealtimePriority: 0,
  viewerCountIntervalMs: 1000,
  keyframeCacheMaxAgeMs: 1000,
  sessionsPerIpPerSecond: 20,
  maxViewersPerStream: 0,
  maxViewers: 0,
  connectTimeoutMs: 10000,
  consentTimeoutMs: 30000,
  publisherMediaTimeoutMs: 2000,
  republishGraceMs: 10000,
  maxPublishKbps: 20000,
  maxPeersPerWorker: 0,
  capacityViewers: 0,
  clusterHeartbeatMs: 2000,
  pullLingerMs: 5000,
  whepRedirect: false,
  region: '',
  maxPulls: 0,
  regionDistances: '',
  redisSentinels: [],
  redisMasterName: 'halfsec',
  maxIngests: 16,
  rtmpPort: 0,
  rtspSources: {},
  srtPort: 0,
  srtListeners: {},
  ffmpegPath: 'ffmpeg',
  ingestReencodeVideo: false,
  drainTimeoutMs: 30000,
} as const satisfies RelayOptions;

/** Viewers per worker thread a node is rated for: bench/README.md measured ~760-970 at 2.5 Mbit/s. */
export const VIEWERS_PER_WORKER = 800;

// Values from the command line, the environment or a config file arrive as strings: the schema
// turns the unambiguous ones into numbers/booleans/lists so that every source meets one schema.
const numeric = (v: unknown): unknown => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v);
const boolish = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return v;
};
const listish = (v: unknown): unknown =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : v;

// A sentinel's address: a host name or IPv4 address, or an IPv6 address in brackets, and a port
// a socket can use (ioredis would otherwise retry a port like 99999 forever with a runtime error).
const sentinelAddress = z
  .string({ error: 'must be host:port' })
  .regex(/^(?:[A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):\d{1,5}$/, { error: 'must be host:port (an IPv6 address in brackets)' })
  .refine((v) => {
    const port = Number(v.slice(v.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, { error: 'must be host:port with a port from 1 to 65535' });
const intIn = (lo: number, hi: number) => {
  const error = `must be an integer from ${lo} to ${hi}`;
  return z.preprocess(numeric, z.number({ error }).int({ error }).min(lo, { error }).max(hi, { error }));
};
const ipError = 'must be an IPv4 or IPv6 address';
const ip = z.union([z.ipv4(), z.ipv6()], { error: ipError });

/** The one schema every source of options is validated against (see ts/ops/config.ts for the sources). */
export const relayOptionsSchema = z
  .strictObject(
    {
      host: z.string({ error: 'must be a host name or address' }).min(1, { error: 'must not be empty' }).optional(),
      port: intIn(0, 65535).optional(),
      rtcBindAddress: ip.optional(),
      rtcPortMin: intIn(1, 65535).optional(),
      rtcPortMax: intIn(1, 65535).optional(),
      rtcTcpPort: intIn(0, 65535).optional(),
      rtcTcpMaxPerAddress: intIn(1, 1_000_000).optional(),
      rtcTcpMaxPerWorker: intIn(1, 1_000_000).optional(),
      announcedIps: z.preprocess(listish, z.array(ip, { error: `must be a list of IP addresses` })).optional(),
      workers: intIn(0, 64).optional(),
      maxBodyBytes: intIn(1024, 16 * 1024 * 1024).optional(),
      logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
      adminToken: z.string({ error: 'must be a string' }).min(8, { error: 'must be at least 8 characters' }).optional(),
      metrics: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      dashboard: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      udpGso: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      memoryReclaim: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      fanoutCoalesceUs: intIn(0, 50_000).optional(),
      pinWorkers: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      workerRealtimePriority: intIn(0, 99).optional(),
      viewerCountIntervalMs: intIn(100, 60000).optional(),
      keyframeCacheMaxAgeMs: intIn(0, 60000).optional(),
      tokenSecret: z.string({ error: 'must be a string' }).min(32, { error: 'must be at least 32 characters (RFC 7518 3.2)' }).optional(),
      tokenPublicKey: z.string({ error: 'must be a PEM string' }).includes('PUBLIC KEY', { error: 'must be a PEM public key' }).optional(),
      sessionsPerIpPerSecond: intIn(0, 100000).optional(),
      maxViewersPerStream: intIn(0, 10000000).optional(),
      maxViewers: intIn(0, 10000000).optional(),
      connectTimeoutMs: intIn(500, 120000).optional(),
      consentTimeoutMs: intIn(1000, 300000).optional(),
      publisherMediaTimeoutMs: intIn(0, 300000).optional(),
      republishGraceMs: intIn(0, 600000).optional(),
      maxPublishKbps: intIn(100, 1_000_000).optional(),
      maxPeersPerWorker: intIn(0, 1000000).optional(),
      redisUrl: z.string({ error: 'must be a redis:// or rediss:// URL' }).regex(/^rediss?:\/\/\S+$/, { error: 'must be a redis:// or rediss:// URL' }).optional(),
      publicUrl: z.string({ error: 'must be an http:// or https:// URL' }).regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, { error: 'must be an http:// or https:// URL' }).optional(),
      nodeId: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ . -' }).optional(),
      capacityViewers: intIn(0, 10_000_000).optional(),
      clusterHeartbeatMs: intIn(100, 60000).optional(),
      pullLingerMs: intIn(0, 600000).optional(),
      whepRedirect: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      clusterSecret: z.string({ error: 'must be a string' }).min(32, { error: 'must be at least 32 characters' }).optional(),
      region: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_.-]{0,64}$/, { error: 'must be 0-64 characters of A-Z a-z 0-9 _ . -' }).optional(),
      maxPulls: intIn(0, 1_000_000).optional(),
      regionDistances: z
        .string({ error: 'must be a string like "eu-us=80,eu-ap=200"' })
        .regex(/^\s*(([A-Za-z0-9_.]{1,64}-[A-Za-z0-9_.]{1,64}=\d{1,9})(\s*,\s*[A-Za-z0-9_.]{1,64}-[A-Za-z0-9_.]{1,64}=\d{1,9}){0,1000})?\s*$/, { error: 'must look like "eu-us=80,eu-ap=200" (region names without "-")' })
        .optional(),
      redisSentinels: z.preprocess(listish, z.array(sentinelAddress, { error: 'must be a list of host:port' }).max(16)).optional(),
      redisMasterName: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ . -' }).optional(),
      maxIngests: intIn(0, 10000).optional(),
      rtmpPort: intIn(0, 65535).optional(),
      rtspSources: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { error: 'stream names: 1-128 characters of A-Z a-z 0-9 _ . -' }), z.string().regex(/^rtsps?:\/\/\S{1,2040}$/, { error: 'must be an rtsp:// URL' })).optional(),
      srtPort: intIn(0, 65535).optional(),
      srtPassphrase: z.string().regex(/^[\x21-\x7e]{10,79}$/, { error: 'an SRT passphrase is 10-79 printable characters' }).optional(),
      srtListeners: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { error: 'stream names: 1-128 characters of A-Z a-z 0-9 _ . -' }), z.object({ port: intIn(1, 65535), passphrase: z.string().regex(/^[\x21-\x7e]{10,79}$/, { error: 'an SRT passphrase is 10-79 printable characters' }).optional() }).strict()).optional(),
      ffmpegPath: z.string({ error: 'must be a path' }).min(1).max(4096).optional(),
      ingestReencodeVideo: z.preprocess(boolish, z.boolean({ error: 'must be true or false' })).optional(),
      drainTimeoutMs: intIn(0, 3600000).optional(),
    },
    { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown option${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}` : undefined) },
  );

// The hand-written interface is the documented public type; this keeps it and the schema in step.
type SchemaOut = z.output<typeof relayOptionsSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesInterface: Same<Required<SchemaOut>, Required<RelayOptions>> = true;
void schemaMatchesInterface;

/** Thrown for options that fail the schema; `issues` are one line each, naming the option. */
export class OptionsError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid options:\n  ${issues.join('\n  ')}`);
    this.name = 'OptionsError';
  }
}

/** Validates raw options; `describe` names the source of an option in error messages. */
export function validateOptions(raw: unknown, describe: (key: string) => string = (k) => `options.${k}`): RelayOptions {
  const r = relayOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const input = (raw ?? {}) as Record<string, unknown>;
  throw new OptionsError(
    r.error.issues.map((iss) => {
      const [key, index] = iss.path;
      if (typeof key !== 'string') return iss.message;
      let got = input[key];
      let where = describe(key);
      if (typeof index === 'number') {
        // A list item: name the item, whether the list came as an array or a comma-separated string.
        const items = Array.isArray(got) ? got : typeof got === 'string' ? (listish(got) as string[]) : [];
        got = items[index];
        where += ` item ${index + 1}`;
      }
      return `${where}: ${iss.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`;
    }),
  );
}

function defaultAnnouncedIps(bind: string): string[] {
  if (bind !== '0.0.0.0' && bind !== '::') return [bind];
  // Bound to "::" (dual stack), global IPv6 addresses are reachable too; link-local ones need a
  // scope a candidate cannot carry.
  const v6 = bind === '::';
  const ips: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4' || (v6 && a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80:'))) ips.push(a.address);
    }
  }
  return ips.length > 0 ? ips : v6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
}

export function resolveOptions(o: RelayOptions = {}, describe?: (key: string) => string): ResolvedOptions {
  const v = validateOptions(o, describe);
  const rtcPortMin = v.rtcPortMin ?? DEFAULTS.rtcPortMin;
  const rtcPortMax = v.rtcPortMax ?? DEFAULTS.rtcPortMax;
  // Checked after defaults: a lone rtcPortMin above the default maximum is an error too.
  if (rtcPortMin > rtcPortMax) throw new OptionsError([`media port range ${rtcPortMin}-${rtcPortMax} is empty (rtcPortMin above rtcPortMax)`]);
  const rtcBindAddress = v.rtcBindAddress ?? DEFAULTS.rtcBindAddress;
  // Every option with a default takes it when unset; the others (tokens, cluster URLs) stay undefined.
  const defaulted = Object.fromEntries(
    Object.entries(DEFAULTS).map(([key, d]) => [key, v[key as keyof typeof DEFAULTS] ?? d]),
  ) as { [K in keyof typeof DEFAULTS]: ResolvedOptions[K] };
  return {
    ...defaulted,
    rtcBindAddress,
    rtcPortMin,
    rtcPortMax,
    rtcTcpPort: v.rtcTcpPort,
    announcedIps: v.announcedIps && v.announcedIps.length > 0 ? v.announcedIps : defaultAnnouncedIps(rtcBindAddress),
    adminToken: v.adminToken,
    tokenSecret: v.tokenSecret,
    tokenPublicKey: v.tokenPublicKey,
    redisUrl: v.redisUrl,
    publicUrl: v.publicUrl,
    nodeId: v.nodeId,
    clusterSecret: v.clusterSecret,
    srtPassphrase: v.srtPassphrase,
  };
}
