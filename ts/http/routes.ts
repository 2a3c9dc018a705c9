// The relay's HTTP routes, independent of the server that carries them: ts/http/uws.ts adapts them
// to uWebSockets.js and ts/http/node-http.ts to node:http, so each route is written once.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { HttpError } from '../ops/errors.js';
import { assertSdpContentType } from '../media/sdp.js';
import type { SessionManager, SessionRole } from '../media/sessions.js';
import type { Access } from '../access/access.js';
import { isLoopback, RateLimitError } from '../access/limits.js';
import { PULL_HEADER } from '../access/pull-token.js';
import type { ClusterRoutes } from '../cluster/routes.js';
import { LAYERS_HEADER, PATH_HEADER } from '../cluster/headers.js';
import { monotonicMs } from '../native.js';
import { DASHBOARD_HEADERS } from './dashboard.js';
import type { StaticAsset } from './dashboard.js';

export interface RouteRequest {
  /** Upper-case method. */
  method: string;
  /** Path without the query string, still percent-encoded, relative to where the relay is mounted. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** Prefix the relay is mounted under (e.g. '/relay' behind Express), for Location headers. */
  basePath: string;
  /** The client's IP address, for per-address limits. */
  remoteAddress?: string;
  /** The query string without '?', when the adapter passes it. */
  query?: string;
}

export interface Reply {
  status: number;
  headers: [string, string][];
  body: string;
}

/** What a route needs next: nothing (here is the reply) or the request body. */
export type Prepared =
  | { readonly body: false; reply(): Promise<Reply> }
  | { readonly body: true; readonly limit: number; reply(body: Buffer): Promise<Reply> };

export interface RouteDeps {
  sessions: SessionManager;
  access: Access;
  log: Logger;
  maxBodyBytes: number;
  adminToken: string | undefined;
  /** Prometheus text and its content type; undefined when metrics are off. */
  metrics: (() => Promise<{ contentType: string; text: string }>) | undefined;
  stats: () => unknown;
  /** After relay.close(), routes mounted on a foreign app answer 503 instead of touching freed state. */
  isClosed: () => boolean;
  /** Cluster hooks (ts/cluster/): the WHEP/WHIP gate, the director, cluster stats. */
  cluster?: ClusterRoutes;
  /** The /dashboard files (http/dashboard.ts); absent = no dashboard. */
  dashboard?: Map<string, StaticAsset>;
}

const CORS: [string, string][] = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Methods', 'GET, POST, DELETE, PATCH, OPTIONS'],
  ['Access-Control-Allow-Headers', 'Content-Type, Authorization, If-Match'],
  ['Access-Control-Expose-Headers', 'Location, ETag, Link'],
];

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  508: 'Loop Detected',
  503: 'Service Unavailable',
};

/** Path prefixes the relay answers; adapters register (uWS) or claim (node:http) only these. */
export const MOUNT_PATHS = ['/whip', '/whep', '/api', '/metrics', '/healthz', '/dashboard'] as const;

function reply(status: number, body: unknown = undefined, headers: [string, string][] = []): Reply {
  if (body === undefined) return { status, headers: [...CORS, ...headers], body: '' };
  if (typeof body === 'string') return { status, headers: [...CORS, ...headers], body };
  return { status, headers: [...CORS, ['Content-Type', 'application/json'], ...headers], body: JSON.stringify(body) };
}

const jsonError = (status: number, message: string, headers: [string, string][] = []): Reply => reply(status, { error: message }, headers);

export function payloadTooLarge(limit: number): Reply {
  return jsonError(413, `body larger than ${limit} bytes`);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export class Router {
  private readonly adminDigest: Buffer | undefined;

  constructor(private readonly d: RouteDeps) {
    this.adminDigest = d.adminToken === undefined ? undefined : digest(d.adminToken);
  }

  /** True when `path` is one the relay answers (so an embedding server can route the rest itself). */
  static owns(path: string): boolean {
    return MOUNT_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
  }

  /**
   * Reads everything it needs from `req` before returning (uWS request objects die when the
   * handler returns), then says whether the body is needed.
   */
  prepare(req: RouteRequest): Prepared {
    let parts: string[];
    try {
      parts = req.path.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return this.now(() => jsonError(400, 'malformed percent-encoding in the path'));
    }
    const [top, a, b, ...extra] = parts;
    const m = req.method;
    if (m === 'OPTIONS') return this.now(() => reply(204));
    if (this.d.isClosed()) return this.now(() => jsonError(503, 'relay is closed'));

    if ((top === 'whip' || top === 'whep') && a !== undefined && extra.length === 0) {
      const role: SessionRole = top === 'whip' ? 'publisher' : 'viewer';
      if (b === undefined && m === 'POST') return this.offer(req, top, role, a);
      if (b !== undefined && m === 'DELETE') return this.now(() => this.endSession(role, a, b));
      // The relay is ICE-lite with every candidate in its answer: no trickle ICE, no ICE restart.
      if (b !== undefined && m === 'PATCH') return this.now(() => jsonError(405, 'trickle ICE / ICE restart (PATCH) is not supported', [['Allow', 'DELETE']]));
      return this.now(() => jsonError(405, `${m} is not allowed here`, [['Allow', b === undefined ? 'POST' : 'DELETE']]));
    }
    if (top === 'dashboard' && b === undefined && this.d.dashboard) return this.dashboard(req, m, a ?? 'dashboard.html');
    if (top === 'healthz' && a === undefined) return this.get(m, () => reply(200, { ok: true }));
    if (top === 'metrics' && a === undefined && this.d.metrics) {
      const metrics = this.d.metrics;
      const scrape = (): Prepared =>
        this.get(m, async () => {
          const r = await metrics();
          return reply(200, r.text, [['Content-Type', r.contentType]]);
        });
      // Open without an admin token, for scrapers in other pods: it holds counts, never session ids.
      return this.adminDigest ? this.admin(req, scrape) : scrape();
    }
    if (top === 'api' && a === 'streams' && extra.length === 0) {
      // The list is what a viewer page needs (names, viewer counts, codecs) and is open to all.
      if (b === undefined) return this.get(m, () => reply(200, { streams: this.d.sessions.listStreams() }));
      // One stream's detail names its sessions, and a session id is the capability to end the
      // session (DELETE on its resource URL): admins only; everyone else gets the summary.
      const admin = this.isAdmin(req);
      return this.get(m, () => {
        if (!admin) {
          const summary = this.d.sessions.listStreams().find((s) => s.name === b);
          return summary ? reply(200, summary) : jsonError(404, `stream "${b}" is not live`);
        }
        const detail = this.d.sessions.describeStream(b);
        if (!detail) return jsonError(404, `stream "${b}" is not live`);
        return reply(200, detail);
      });
    }
    if (top === 'api' && a === 'stats' && b === undefined) return this.admin(req, () => this.get(m, () => reply(200, this.d.stats())));
    const cluster = this.d.cluster;
    // Open like WHEP: it answers with a node's public URL, what a player needs before its offer.
    if (top === 'api' && a === 'director' && b !== undefined && extra.length === 0 && cluster) {
      return this.get(m, async () => {
        // The viewer's region: a hint in the query or a header, else the region of this node.
        const q = new URLSearchParams(req.query ?? '');
        const hint = q.get('region') ?? req.headers['x-halfsec-region'] ?? '';
        const role = q.get('role') === 'publish' ? 'publisher' : 'viewer';
        const choice = await cluster.director(b, /^[A-Za-z0-9_.-]{0,64}$/.test(hint) ? hint : '', role);
        return choice ? reply(200, choice) : jsonError(503, 'no node can take viewers');
      });
    }
    if (top === 'api' && a === 'cluster' && b === undefined && cluster) return this.admin(req, () => this.get(m, async () => reply(200, await cluster.describe())));
    return this.now(() => jsonError(404, `no route for ${m} ${req.path}`));
  }

  private now(fn: () => Reply | Promise<Reply>): Prepared {
    return { body: false, reply: () => this.guard(fn) };
  }

  private get(method: string, fn: () => Reply | Promise<Reply>): Prepared {
    if (method !== 'GET') return this.now(() => jsonError(405, `${method} is not allowed here`, [['Allow', 'GET']]));
    return this.now(fn);
  }

  /**
   * Admin rights: the admin token when one is configured; without one, a loopback client (the
   * operator on the machine itself), so a relay on its defaults shows no session id to the network.
   */
  private isAdmin(req: RouteRequest): boolean {
    if (!this.adminDigest) return isLoopback(req.remoteAddress);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    // Compare digests: equal length, so timingSafeEqual applies and the token length does not leak.
    return m !== null && timingSafeEqual(digest(m[1]!), this.adminDigest);
  }

  /** Runs `next` for an admin (see isAdmin); 401 without the configured token, 403 off loopback. */
  private admin(req: RouteRequest, next: () => Prepared): Prepared {
    if (this.isAdmin(req)) return next();
    if (!this.adminDigest) return this.now(() => jsonError(403, 'no admin token is configured, so this endpoint answers loopback clients only (set --admin-token to use it from elsewhere)'));
    return this.now(() => jsonError(401, 'this endpoint needs Authorization: Bearer <admin token>', [['WWW-Authenticate', 'Bearer realm="halfsec"']]));
  }

  /**
   * The dashboard's page, script and uPlot. Without an admin token they follow the admin API's
   * rule (loopback only); with one, they hold no figure and are served to anyone: the page asks
   * for the token, and every /api/stats call it makes must carry it.
   */
  private dashboard(req: RouteRequest, method: string, name: string): Prepared {
    const asset = this.d.dashboard?.get(name);
    const inm = req.headers['if-none-match'];
    const serve = (): Prepared =>
      this.get(method, () => {
        if (!asset) return jsonError(404, `no such dashboard file: ${name}`);
        const headers: [string, string][] = [...DASHBOARD_HEADERS, ['ETag', asset.etag]];
        if (inm === asset.etag) return { status: 304, headers, body: '' };
        return { status: 200, headers: [...headers, ['Content-Type', asset.type]], body: asset.body };
      });
    return this.adminDigest ? serve() : this.admin(req, serve);
  }

  private offer(req: RouteRequest, prefix: string, role: SessionRole, stream: string): Prepared {
    const arrivedAtMs = monotonicMs(); // a viewer's join time starts here
    try {
      assertSdpContentType(req.headers['content-type']);
    } catch (err) {
      return this.now(() => {
        throw err;
      });
    }
    const declared = Number(req.headers['content-length'] || 0);
    const limit = this.d.maxBodyBytes;
    if (declared > limit) return this.now(() => payloadTooLarge(limit));
    const base = req.basePath;
    const admit = { authorization: req.headers.authorization, origin: req.headers.origin, remoteAddress: req.remoteAddress };
    const headers = { ...req.headers };
    return {
      body: true,
      limit,
      reply: (body) =>
        this.guard(async () => {
          const sdp = body.toString('utf8');
          // The token (and the rate limit) before the cluster gate: for a publisher the gate looks
          // the stream up in Redis, probes its origin over HTTP and names the node that carries
          // it; for a viewer it starts a pull (or an RTSP source). None of that for a request that
          // may not publish or view the stream. Only a pull (path or credential header) to a node
          // with a cluster secret goes to the gate first: the gate checks its credential before it
          // pulls anything, and a valid one needs no view token. Without a cluster secret a pull
          // is a viewer whose view token is checked first, like any other.
          const isPull = headers[PATH_HEADER] !== undefined || headers[PULL_HEADER] !== undefined;
          const gateFirst = isPull && this.d.cluster?.verifiesPulls === true;
          const early =
            role === 'publisher' ? await this.d.access.admit('publish', stream, admit) : !gateFirst ? await this.d.access.admit('view', stream, admit) : undefined;
          const gated = await this.d.cluster?.gate(role, stream, headers, sdp);
          if (gated?.reply) return jsonError(gated.reply.status, gated.reply.message, gated.reply.headers ?? []);
          const pull = gated?.pull;
          let r;
          try {
            // A pull signed by a node of this cluster needs no view token of its own.
            const ok = early ?? (pull?.trusted ? { takeover: false } : await this.d.access.admit('view', stream, admit));
            r = role === 'publisher' ? this.d.sessions.publish(stream, sdp, ok.takeover) : this.d.sessions.view(stream, sdp, arrivedAtMs, pull !== undefined && headers[LAYERS_HEADER] === 'simulcast');
            pull?.started(r.session.id);
          } finally {
            pull?.release();
          }
          const location = `${base}/${prefix}/${encodeURIComponent(stream)}/${r.session.id}`;
          return reply(201, r.answer, [
            ['Content-Type', 'application/sdp'],
            ['Location', location],
            ['ETag', `"${r.session.id}"`],
          ]);
        }),
    };
  }

  private endSession(role: SessionRole, stream: string, id: string): Reply {
    if (this.d.sessions.end(role, stream, id)) return reply(200);
    return jsonError(404, `no ${role} session ${id} on stream "${stream}"`);
  }

  /** Every route's errors end here: HttpError becomes its status, anything else a logged 500. */
  private async guard(fn: () => Reply | Promise<Reply>): Promise<Reply> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RateLimitError) return jsonError(err.status, err.message, [['Retry-After', String(err.retryAfterSec)]]);
      if (err instanceof HttpError) {
        return jsonError(err.status, err.message, err.status === 401 ? [['WWW-Authenticate', 'Bearer realm="halfsec"']] : []);
      }
      this.d.log.error({ err }, 'request failed');
      return jsonError(500, 'internal error');
    }
  }
}
