import type { Logger } from 'pino';
import { native } from '../native.js';

/** What one reclaim did (native `reclaimMemory`): microseconds of the V8 GC on the JS thread and of malloc_trim off it. */
export interface ReclaimResult {
  released: boolean;
  trimMicros: number;
  gcMicros: number;
}

export interface MemoryReclaimConfig {
  /** Joins and leaves (session starts, handshakes done, session ends) that make a burst. */
  minChurn: number;
  /** The burst is over once this long passed without one, ms. */
  quietMs: number;
  /** Least time between two reclaims, ms. */
  minIntervalMs: number;
  /** A burst that never goes quiet (steady churn) is reclaimed after this long anyway, ms. */
  maxWaitMs: number;
  /** Also run a memory-reducing V8 GC (shrinks the young generation the burst grew). */
  reduceHeap: boolean;
}

export const RECLAIM_DEFAULTS: MemoryReclaimConfig = { minChurn: 64, quietMs: 1000, minIntervalMs: 10_000, maxWaitMs: 60_000, reduceHeap: true };

export interface ReclaimStats {
  runs: number;
  /** Churn events seen since the last reclaim. */
  pending: number;
  last: ReclaimResult | undefined;
}

/**
 * Hands back the memory a burst of joins (or leaves) freed but the process still holds: glibc
 * keeps the DTLS handshakes' freed state in holes between the sessions' live allocations, and V8
 * keeps its young generation at the size the burst's garbage grew it to. Neither shrinks by
 * itself while the relay is idle, so RSS would stay at the burst's high-water mark.
 *
 * Runs only once a burst is over: at least `minChurn` joins/leaves, then `quietMs` without one,
 * at most once per `minIntervalMs`. Steady media causes no churn, so it never runs then. The
 * V8 GC pauses the JS thread (tens of ms at 10,000 sessions), never a media worker; malloc_trim
 * runs on a libuv pool thread.
 */
export class MemoryReclaim {
  private pending = 0;
  private firstPendingAt = 0;
  private lastChurnAt = 0;
  private lastRunAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private runs = 0;
  private last: ReclaimResult | undefined;

  constructor(
    private readonly config: MemoryReclaimConfig = RECLAIM_DEFAULTS,
    private readonly log?: Logger,
    private readonly reclaim: (reduceHeap: boolean) => Promise<ReclaimResult> = (r) => native.reclaimMemory(r),
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A session started, finished its handshake, or ended. */
  churn(): void {
    if (this.closed) return;
    const t = this.now();
    if (this.pending === 0) this.firstPendingAt = t;
    this.pending++;
    this.lastChurnAt = t;
    if (this.pending >= this.config.minChurn && this.timer === undefined && !this.running) this.arm(this.config.quietMs);
  }

  stats(): ReclaimStats {
    return { runs: this.runs, pending: this.pending, last: this.last };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), Math.max(1, ms));
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    if (this.closed) return;
    const t = this.now();
    const quietFor = t - this.lastChurnAt;
    const overdue = t - this.firstPendingAt >= this.config.maxWaitMs;
    const wait = Math.max(overdue ? 0 : this.config.quietMs - quietFor, this.config.minIntervalMs - (t - this.lastRunAt));
    if (wait > 0) return this.arm(wait);
    this.pending = 0;
    this.lastRunAt = t;
    this.running = true;
    this.reclaim(this.config.reduceHeap)
      .then((r) => {
        this.runs++;
        this.last = r;
        this.log?.debug({ gcMs: r.gcMicros / 1000, trimMs: r.trimMicros / 1000 }, 'memory reclaimed after a burst of joins');
      })
      .catch((err: unknown) => this.log?.warn({ err }, 'memory reclaim failed'))
      .finally(() => {
        this.running = false;
        // Churn that came while it ran waits for its own quiet interval.
        if (!this.closed && this.pending >= this.config.minChurn && this.timer === undefined) this.arm(this.config.quietMs);
      });
  }
}
