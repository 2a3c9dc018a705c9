import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { HttpError } from '../ops/errors.js';

/** A 429 that knows when the client may retry (for a Retry-After header). */
export class RateLimitError extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSec: number,
  ) {
    super(429, message);
    this.name = 'RateLimitError';
  }
}

export interface RateLimiterOptions {
  /** Sustained rate: tokens added per second. */
  ratePerSec: number;
  /** Bucket size: how many may come at once after a quiet spell. Default: max(1, ratePerSec). */
  burst?: number;
  /**
   * Most keys tracked; beyond it the least recently seen key is forgotten, so a spray of source
   * addresses costs bounded memory (a forgotten key starts again with a full bucket). Default 100000.
   */
  maxKeys?: number;
  /** Milliseconds clock, for tests. Default: performance.now (monotonic). */
  now?: () => number;
}

export interface RateDecision {
  allowed: boolean;
  /** Tokens left after this call. */
  remaining: number;
  /** When refused: milliseconds until `cost` tokens are there again; 0 when allowed. */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Takes `cost` tokens from `key`'s bucket when it has them. */
  take(key: string, cost?: number): RateDecision;
  /** Like take, but throws RateLimitError (429) when refused; `what` names the limited thing. */
  consume(key: string, what: string, cost?: number): void;
  /** Keys currently tracked. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token bucket per key (e.g. new sessions per client address per second). */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const rate = options.ratePerSec;
  const burst = options.burst ?? Math.max(1, rate);
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? (() => performance.now());
  if (!(rate > 0) || !Number.isFinite(rate)) throw new Error('ratePerSec must be a positive number');
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new Error('burst must be at least 1');
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new Error('maxKeys must be a positive integer');
  // Map iteration order is insertion order: re-inserting on every use makes the first key the
  // least recently used one.
  const buckets = new Map<string, Bucket>();

  const take = (key: string, cost = 1): RateDecision => {
    const t = now();
    let b = buckets.get(key);
    if (b) {
      buckets.delete(key);
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
    } else {
      b = { tokens: burst, at: t };
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
    }
    buckets.set(key, b);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return { allowed: true, remaining: Math.floor(b.tokens), retryAfterMs: 0 };
    }
    return { allowed: false, remaining: Math.floor(b.tokens), retryAfterMs: Math.ceil(((cost - b.tokens) / rate) * 1000) };
  };

  return {
    take,
    consume(key, what, cost = 1) {
      const d = take(key, cost);
      if (!d.allowed) {
        const sec = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
        throw new RateLimitError(`too many ${what} from ${key}: at most ${rate}/s (burst ${burst}); retry in ${sec} s`, sec);
      }
    },
    get size() {
      return buckets.size;
    },
  };
}

export interface ConcurrencyLimiter {
  /** Counts one more for `key`, or throws RateLimitError (429) at the limit. Call the returned function once when it ends. */
  acquire(key: string, what: string): () => void;
  count(key: string): number;
}

/** At most `max` live things (sessions, connections) per key. */
export function createConcurrencyLimiter(max: number): ConcurrencyLimiter {
  if (!Number.isInteger(max) || max < 1) throw new Error('max must be a positive integer');
  const counts = new Map<string, number>();
  return {
    acquire(key, what) {
      const n = counts.get(key) ?? 0;
      if (n >= max) throw new RateLimitError(`too many ${what} from ${key}: at most ${max} at a time`, 1);
      counts.set(key, n + 1);
      let released = false;
      return () => {
        // Idempotent: a double release (close racing an error path) must not free someone else's slot.
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      };
    },
    count: (key) => counts.get(key) ?? 0,
  };
}

/**
 * The key to limit a client address by: IPv4 as is (an IPv4-mapped IPv6 address counts as its
 * IPv4), IPv6 by its /64, since one host usually has a whole /64 to pick addresses from.
 */
export function clientKey(address: string): string {
  const a = address.trim().toLowerCase();
  const mapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // A trailing dotted quad (::ffff:0:1.2.3.4 and the like) stands for two groups.
  const width = (gs: string[]): number => gs.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = a.includes('::') ? [...h, ...new Array<string>(Math.max(0, 8 - width(h) - width(t))).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Throws 413 when a request body is over `max` bytes; `length` may be a Content-Length header. */
export function assertBodySize(length: number | string | undefined, max: number): void {
  if (length === undefined || length === '') return;
  const n = typeof length === 'number' ? length : Number(length);
  if (!Number.isFinite(n) || n < 0) throw new HttpError(400, `Content-Length ${String(length)} is not a byte count`);
  if (n > max) throw new HttpError(413, `body is ${n} bytes; at most ${max} are accepted`);
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True for a loopback client: 127.0.0.0/8, ::1, and IPv4-mapped 127.x in any textual form the
 * servers report (uWebSockets.js writes `0000:…:ffff:7f00:0001`, node:http `::ffff:127.0.0.1`).
 */
export function isLoopback(address: string | undefined): boolean {
  const a = address?.trim().toLowerCase();
  if (!a) return false;
  if (isIPv4(a)) return LOOPBACK.check(a, 'ipv4');
  return isIPv6(a) && LOOPBACK.check(a, 'ipv6');
}
