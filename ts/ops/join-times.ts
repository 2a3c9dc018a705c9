// Recent viewer join times (offer arrival → first media packet sent, stamped by the data plane),
// summarised for /api/stats and the dashboard; /metrics has the full histogram (halfsec_join_seconds).

export interface JoinSummary {
  /** Joins measured since the relay started. */
  count: number;
  /** Over the most recent joins (at most RECENT_JOINS), seconds; null before the first join. */
  p50Seconds: number | null;
  p90Seconds: number | null;
  maxSeconds: number | null;
  lastSeconds: number | null;
}

export const RECENT_JOINS = 200;

export class JoinTimes {
  private readonly recent: number[] = [];
  private next = 0;
  private count = 0;
  private last: number | null = null;

  add(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    if (this.recent.length < RECENT_JOINS) this.recent.push(seconds);
    else this.recent[this.next] = seconds;
    this.next = (this.next + 1) % RECENT_JOINS;
    this.count++;
    this.last = seconds;
  }

  summary(): JoinSummary {
    const sorted = [...this.recent].sort((a, b) => a - b);
    const at = (q: number): number | null => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return { count: this.count, p50Seconds: at(0.5), p90Seconds: at(0.9), maxSeconds: sorted.at(-1) ?? null, lastSeconds: this.last };
  }
}
