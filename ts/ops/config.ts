// Where `halfsec serve` gets its options: flags > HALFSEC_* environment > JSON config file >
// defaults. One table drives parsing, --help and the README table, so they cannot drift apart.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULTS, LOG_LEVELS, OptionsError, resolveOptions } from './options.js';
import type { RelayOptions, ResolvedOptions } from './options.js';

type OptionKey = keyof RelayOptions;

export interface ConfigEntry {
  /** Key in a config file; the flag (--kebab-case) and variable (HALFSEC_SNAKE_CASE) derive from it. */
  key: string;
  arg: string;
  default: string;
  help: string;
  /** Flag may be given several times; the variable is comma-separated. */
  repeatable?: boolean;
  /** RelayOptions fields this entry sets (for naming the source in error messages). */
  sets: OptionKey[];
  /** Maps a raw value onto RelayOptions fields; throws an Error whose message says what is expected. */
  to?: (raw: unknown) => Partial<Record<OptionKey, unknown>>;
}

export const CONFIG: readonly ConfigEntry[] = [
  { key: 'host', arg: '<ip>', default: DEFAULTS.host, help: 'HTTP listen address', sets: ['host'] },
  { key: 'port', arg: '<n>', default: String(DEFAULTS.port), help: 'HTTP port; 0 picks a free one', sets: ['port'] },
  { key: 'rtcBind', arg: '<ip>', default: DEFAULTS.rtcBindAddress, help: 'media bind address (UDP and ICE-TCP); :: takes IPv4 and IPv6', sets: ['rtcBindAddress'] },
  {
    key: 'rtcPorts',
    arg: '<min-max>',
    default: `${DEFAULTS.rtcPortMin}-${DEFAULTS.rtcPortMax}`,
    help: 'media UDP port range; each worker takes one port',
    sets: ['rtcPortMin', 'rtcPortMax'],
    to: (raw) => {
      const m = typeof raw === 'string' ? /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(raw) : null;
      if (!m) throw new Error('must look like 40000-40099');
      return { rtcPortMin: m[1], rtcPortMax: m[2] };
    },
  },
  {
    key: 'rtcTcpPort',
    arg: '<n>',
    default: 'first port of rtcPorts free for TCP',
    help: 'ICE-TCP port (RFC 6544 passive candidates, below UDP in priority) for viewers whose networks block UDP; one port for all workers; 0 = off',
    sets: ['rtcTcpPort'],
  },
  { key: 'rtcTcpMaxPerAddress', arg: '<n>', default: String(DEFAULTS.rtcTcpMaxPerAddress), help: 'ICE-TCP connections one client IP may hold', sets: ['rtcTcpMaxPerAddress'] },
  { key: 'rtcTcpMaxPerWorker', arg: '<n>', default: String(DEFAULTS.rtcTcpMaxPerWorker), help: 'ICE-TCP connections one worker holds at most', sets: ['rtcTcpMaxPerWorker'] },
  {
    key: 'announceIp',
    arg: '<ip>',
    default: 'bind address, or every non-internal IPv4 (and IPv6 when bound to ::)',
    help: 'IP written into ICE candidates, e.g. a public IP behind 1:1 NAT',
    repeatable: true,
    sets: ['announcedIps'],
  },
  { key: 'workers', arg: '<n>', default: `${DEFAULTS.workers} = one per core`, help: 'data-plane worker threads', sets: ['workers'] },
  { key: 'maxBodyBytes', arg: '<n>', default: String(DEFAULTS.maxBodyBytes), help: 'largest HTTP body or WebSocket message', sets: ['maxBodyBytes'] },
  { key: 'logLevel', arg: '<level>', default: DEFAULTS.logLevel, help: `log level: ${LOG_LEVELS.join('|')}`, sets: ['logLevel'] },
  { key: 'adminToken', arg: '<token>', default: 'none (admin API on loopback only)', help: 'bearer token for the admin API (/api/stats, /api/cluster, stream details) and /metrics', sets: ['adminToken'] },
  { key: 'metrics', arg: '<true|false>', default: String(DEFAULTS.metrics), help: 'serve Prometheus metrics on /metrics', sets: ['metrics'] },
  { key: 'dashboard', arg: '<true|false>', default: String(DEFAULTS.dashboard), help: 'serve the live dashboard on /dashboard (admin token, or loopback without one)', sets: ['dashboard'] },
  { key: 'udpGso', arg: '<true|false>', default: String(DEFAULTS.udpGso), help: 'send a viewer\'s run of equal-size packets as one UDP GSO (UDP_SEGMENT) message', sets: ['udpGso'] },
  {
    key: 'memoryReclaim',
    arg: '<true|false>',
    default: String(DEFAULTS.memoryReclaim),
    help: 'after a burst of joins or leaves goes quiet (1 s), give the memory it freed back (V8 GC + malloc_trim, at most every 10 s)',
    sets: ['memoryReclaim'],
  },
  {
    key: 'fanoutCoalesceUs',
    arg: '<us>',
    default: String(DEFAULTS.fanoutCoalesceUs),
    help: 'hold a stream\'s packets up to this long (or to a frame\'s last packet) before fanning them out, so a paced publisher\'s packets reach viewers as UDP GSO runs; adds up to this much latency (0 = off, at most 50000; needs udpGso)',
    sets: ['fanoutCoalesceUs'],
  },
  { key: 'pinWorkers', arg: '<true|false>', default: String(DEFAULTS.pinWorkers), help: 'pin each data-plane worker thread to its own CPU (of those the process may use)', sets: ['pinWorkers'] },
  {
    key: 'workerRealtimePriority',
    arg: '<0-99>',
    default: String(DEFAULTS.workerRealtimePriority),
    help: 'SCHED_FIFO priority of the data-plane worker threads, so other processes on the same cores cannot preempt a fan-out (0 = the normal policy; needs CAP_SYS_NICE, otherwise a warning and the normal policy)',
    sets: ['workerRealtimePriority'],
  },
  {
    key: 'viewerCountIntervalMs',
    arg: '<ms>',
    default: String(DEFAULTS.viewerCountIntervalMs),
    help: 'least time between two WebSocket viewercount events of a stream',
    sets: ['viewerCountIntervalMs'],
  },
  {
    key: 'keyframeCacheMaxAgeMs',
    arg: '<ms>',
    default: String(DEFAULTS.keyframeCacheMaxAgeMs),
    help: 'a joining viewer starts from the cached keyframe only if it is this recent (0 = never)',
    sets: ['keyframeCacheMaxAgeMs'],
  },
  { key: 'tokenSecret', arg: '<secret>', default: 'none (streams open)', help: 'HS256 secret (>= 32 chars) for publish/view JWTs', sets: ['tokenSecret'] },
  { key: 'tokenPublicKey', arg: '<pem>', default: 'none (streams open)', help: 'ES256 public key (PEM) for publish/view JWTs', sets: ['tokenPublicKey'] },
  {
    key: 'sessionsPerIpPerSecond',
    arg: '<n>',
    default: String(DEFAULTS.sessionsPerIpPerSecond),
    help: 'new sessions per client address per second (0 = unlimited)',
    sets: ['sessionsPerIpPerSecond'],
  },
  { key: 'maxViewersPerStream', arg: '<n>', default: '0 = unlimited', help: 'viewers one stream may have', sets: ['maxViewersPerStream'] },
  { key: 'maxViewers', arg: '<n>', default: '0 = unlimited', help: 'viewers this node takes in all', sets: ['maxViewers'] },
  { key: 'connectTimeoutMs', arg: '<ms>', default: String(DEFAULTS.connectTimeoutMs), help: 'drop a peer that has not finished ICE + DTLS by then', sets: ['connectTimeoutMs'] },
  {
    key: 'consentTimeoutMs',
    arg: '<ms>',
    default: String(DEFAULTS.consentTimeoutMs),
    help: 'drop a connected peer silent this long (RFC 7675 consent)',
    sets: ['consentTimeoutMs'],
  },
  {
    key: 'publisherMediaTimeoutMs',
    arg: '<ms>',
    default: String(DEFAULTS.publisherMediaTimeoutMs),
    help: 'a publisher that stops sending RTP and RTCP this long is gone: viewers get inactive, the republish grace starts (0 = consent only; never below twice its own longest gap)',
    sets: ['publisherMediaTimeoutMs'],
  },
  {
    key: 'republishGraceMs',
    arg: '<ms>',
    default: String(DEFAULTS.republishGraceMs),
    help: 'viewers of a publisher that vanished wait this long for it to return (0 = end at once)',
    sets: ['republishGraceMs'],
  },
  {
    key: 'maxPublishKbps',
    arg: '<kbit/s>',
    default: String(DEFAULTS.maxPublishKbps),
    help: "ceiling on one publisher's bit rate: REMB beside transport-cc feedback, and b=AS/b=TIAS in the answer",
    sets: ['maxPublishKbps'],
  },
  { key: 'maxPeersPerWorker', arg: '<n>', default: '0 = unlimited', help: 'peers one data-plane worker may hold; new sessions get 503 when all are full', sets: ['maxPeersPerWorker'] },
  { key: 'redis', arg: '<url>', default: 'none (one node)', help: 'Redis URL of the cluster registry; turns on cascading, the director and redirects', sets: ['redisUrl'] },
  { key: 'publicUrl', arg: '<url>', default: 'http://<first announced IP>:<port>', help: "this node's HTTP base URL as other nodes and viewers reach it", sets: ['publicUrl'] },
  { key: 'nodeId', arg: '<id>', default: 'random', help: "this node's id in the cluster registry", sets: ['nodeId'] },
  { key: 'capacityViewers', arg: '<n>', default: '0 = 800 per worker', help: 'viewers this node takes before the director prefers other nodes', sets: ['capacityViewers'] },
  { key: 'clusterHeartbeatMs', arg: '<ms>', default: String(DEFAULTS.clusterHeartbeatMs), help: 'registry heartbeat; a node expires after three missed beats', sets: ['clusterHeartbeatMs'] },
  { key: 'pullLingerMs', arg: '<ms>', default: String(DEFAULTS.pullLingerMs), help: 'an edge drops a pull this long after its last local viewer left', sets: ['pullLingerMs'] },
  { key: 'maxIngests', arg: '<n>', default: String(DEFAULTS.maxIngests), help: 'concurrent ingests (FFmpeg children: RTMP, SRT, RTSP); more are refused with 503', sets: ['maxIngests'] },
  { key: 'rtmpPort', arg: '<port>', default: '0 = off', help: 'RTMP publish port (rtmp://host:port/live/<stream>?token=<jwt>; usually 1935)', sets: ['rtmpPort'] },
  {
    key: 'rtspSources',
    arg: '<stream>=<rtsp-url>',
    default: 'none',
    help: 'an RTSP camera pulled while the stream has viewers (file: an object of stream to URL)',
    repeatable: true,
    sets: ['rtspSources'],
    to: (raw) => {
      if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) return { rtspSources: raw };
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      const out: Record<string, string> = {};
      for (const item of items.filter(Boolean)) {
        const eq = item.indexOf('=');
        if (eq < 1) throw new Error('expected <stream>=<rtsp-url>');
        out[item.slice(0, eq)] = item.slice(eq + 1);
      }
      return { rtspSources: out };
    },
  },
  { key: 'srtPort', arg: '<port>', default: '0 = off', help: 'SRT publish port for every stream (srt://host:port?streamid=publish:<stream>[:<token>]); needs libsrt (halfsec-srt)', sets: ['srtPort'] },
  { key: 'srtPassphrase', arg: '<passphrase>', default: 'none', help: 'SRT encryption passphrase (10-79 characters) every caller of --srt-port must use', sets: ['srtPassphrase'] },
  {
    key: 'srtListeners',
    arg: '<stream>=<port>[:<passphrase>]',
    default: 'none',
    help: 'an SRT port of its own for one stream (srt://host:port?passphrase=...; no token check); file: {"<stream>": {"port": n, "passphrase": "..."}}',
    repeatable: true,
    sets: ['srtListeners'],
    to: (raw) => {
      if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) return { srtListeners: raw };
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      const out: Record<string, { port: number; passphrase?: string }> = {};
      for (const item of items.filter(Boolean)) {
        const m = /^([^=]+)=(\d+)(?::(.+))?$/.exec(item);
        if (!m) throw new Error('expected <stream>=<port>[:<passphrase>]');
        out[m[1]!] = { port: Number(m[2]), ...(m[3] ? { passphrase: m[3] } : {}) };
      }
      return { srtListeners: out };
    },
  },
  { key: 'ffmpegPath', arg: '<path>', default: DEFAULTS.ffmpegPath, help: 'the FFmpeg executable ingest children run', sets: ['ffmpegPath'] },
  { key: 'ingestReencodeVideo', arg: '<true|false>', default: String(DEFAULTS.ingestReencodeVideo), help: 're-encode ingested video (libx264, no B-frames, 1 s keyframes) instead of passing H.264 through', sets: ['ingestReencodeVideo'] },
  { key: 'whepRedirect', arg: '<true|false>', default: String(DEFAULTS.whepRedirect), help: 'WHEP answers 307 to a less loaded node when this one is at capacity', sets: ['whepRedirect'] },
  { key: 'clusterSecret', arg: '<secret>', default: 'none (pulls unauthenticated)', help: 'secret (>= 32 chars) the nodes of one cluster share; a node takes pulls only with a credential signed with it', sets: ['clusterSecret'] },
  { key: 'region', arg: '<label>', default: "'' (one region)", help: "this node's region; the director prefers nodes in the viewer's region", sets: ['region'] },
  { key: 'maxPulls', arg: '<n>', default: '0 = unlimited', help: 'edge pulls this node serves; beyond it new edges pull from an edge of their region', sets: ['maxPulls'] },
  { key: 'regionDistances', arg: '<a-b=n,...>', default: 'none', help: 'region distance table for the director (symmetric; unlisted pairs are farthest)', sets: ['regionDistances'] },
  { key: 'redisSentinel', arg: '<host:port>', default: 'none', help: 'a Redis Sentinel to find the registry primary through (instead of --redis)', repeatable: true, sets: ['redisSentinels'] },
  { key: 'redisMasterName', arg: '<name>', default: DEFAULTS.redisMasterName, help: 'the master name the sentinels monitor', sets: ['redisMasterName'] },
  { key: 'drainTimeoutMs', arg: '<ms>', default: String(DEFAULTS.drainTimeoutMs), help: 'on SIGTERM: stop taking viewers, exit when they are gone or after this long', sets: ['drainTimeoutMs'] },
];

// The entries whose key is not the RelayOptions field they set.
const FIELD: Record<string, OptionKey> = { rtcBind: 'rtcBindAddress', announceIp: 'announcedIps', redis: 'redisUrl', redisSentinel: 'redisSentinels' };

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const flagOf = (e: ConfigEntry): string => `--${kebab(e.key)}`;
export const envOf = (e: ConfigEntry): string => `HALFSEC_${kebab(e.key).replace(/-/g, '_').toUpperCase()}`;

/** A configuration problem worth exit code 2: wrong flag, unreadable file, invalid value. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('\n'));
    this.name = 'ConfigError';
  }
}

export function renderHelp(): string {
  const rows: [string, string, string][] = [
    ['--config <file>', 'JSON config file with any of the keys below', 'env HALFSEC_CONFIG'],
    ...CONFIG.map((e): [string, string, string] => [
      `${flagOf(e)} ${e.arg}`,
      `${e.help}${e.repeatable ? ' (repeatable)' : ''}`,
      `default ${e.default} · env ${envOf(e)}${e.repeatable ? ' (comma-separated)' : ''} · file "${e.key}"`,
    ]),
    ['-h, --help', 'this text', ''],
  ];
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  const pad = ' '.repeat(width + 2);
  const body = rows.map(([flag, help, more]) => `  ${flag.padEnd(width)}${help}${more ? `\n${pad}${more}` : ''}`).join('\n');
  return `halfsec serve [options]   start a relay: WHIP in, WHEP and WebSocket signaling out

Flags win over HALFSEC_* environment variables, which win over the config file.

${body}`;
}

/** The README's configuration table (a test checks that the README holds exactly this). */
export function renderMarkdownTable(): string {
  const lines = ['| flag | environment | config file key | default | meaning |', '|---|---|---|---|---|'];
  lines.push('| `--config <file>` | `HALFSEC_CONFIG` | | none | JSON file with any of the keys below |');
  // GitHub tables split cells at every unescaped pipe, code spans included.
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  for (const e of CONFIG) {
    const env = `\`${envOf(e)}\`${e.repeatable ? ' (comma-separated)' : ''}`;
    const flag = `\`${cell(`${flagOf(e)} ${e.arg}`)}\`${e.repeatable ? ' (repeatable)' : ''}`;
    lines.push(`| ${flag} | ${env} | \`${e.key}\` | ${cell(e.default)} | ${cell(e.help)} |`);
  }
  return lines.join('\n');
}

export type LoadedConfig = { help: true } | { help: false; options: ResolvedOptions };

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new ConfigError([`cannot read config file "${path}": ${why}`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`config file "${path}" is not valid JSON: ${(err as Error).message}`]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError([`config file "${path}" must hold a JSON object`]);
  const known = new Set(CONFIG.map((e) => e.key));
  const unknown = Object.keys(data).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new ConfigError([`config file "${path}": unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${[...known].join(', ')})`]);
  }
  return data as Record<string, unknown>;
}

/** Reads flags, environment and config file; throws ConfigError with one line per problem. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const flagSpec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const e of CONFIG) flagSpec[kebab(e.key)] = { type: 'string', ...(e.repeatable ? { multiple: true } : {}) };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: flagSpec, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  if (values.help === true) return { help: true };

  const configPath = typeof values.config === 'string' ? values.config : env.HALFSEC_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};

  const raw: Partial<Record<OptionKey, unknown>> = {};
  const source = new Map<OptionKey, string>();
  const problems: string[] = [];
  const apply = (e: ConfigEntry, value: unknown, label: string): void => {
    try {
      const mapped = e.to ? e.to(value) : { [FIELD[e.key] ?? (e.key as OptionKey)]: value };
      for (const [k, v] of Object.entries(mapped)) {
        raw[k as OptionKey] = v;
        source.set(k as OptionKey, label);
      }
    } catch (err) {
      problems.push(`${label}: ${(err as Error).message} (got ${JSON.stringify(value)})`);
    }
  };
  for (const e of CONFIG) {
    const fromFlag = values[kebab(e.key)];
    const fromEnv = env[envOf(e)];
    if (fromFlag !== undefined) apply(e, fromFlag, flagOf(e));
    else if (fromEnv !== undefined && fromEnv !== '') apply(e, fromEnv, envOf(e));
    else if (e.key in file) apply(e, file[e.key], `"${e.key}" in ${configPath}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  try {
    // The schema coerces the strings that flags and variables carry.
    return { help: false, options: resolveOptions(raw as RelayOptions, (k) => source.get(k as OptionKey) ?? k) };
  } catch (err) {
    if (err instanceof OptionsError) throw new ConfigError(err.issues);
    throw err;
  }
}
