// Percentiles from the native latency histogram (log-linear buckets, ~3 % wide).
import { loadNative } from './native.js';

let bounds: Float64Array | undefined;

export interface LatencySummary {
  count: number;
  /** Microseconds; undefined without samples. */
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
}

/** Summarises the samples recorded between two latencyBuckets() snapshots. */
export function summarizeLatency(after: Float64Array, before?: Float64Array): LatencySummary {
  bounds ??= loadNative.LoadEngine.histogramBounds();
  const counts = after.map((c, i) => c - (before?.[i] ?? 0));
  const count = counts.reduce((a, b) => a + b, 0);
  if (count === 0) return { count: 0 };
  const b = bounds;
  const mid = (i: number): number => (b[i]! + b[i + 1]!) / 2 / 1000;
  const at = (q: number): number => {
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) return mid(i);
    }
    return mid(counts.length - 1);
  };
  let top = counts.length - 1;
  while (top > 0 && counts[top] === 0) top--;
  return { count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: b[top + 1]! / 1000 };
}

/** Percentiles of plain samples (microseconds), for the node-datachannel viewers. */
export function summarizeSamples(samples: number[]): LatencySummary {
  if (samples.length === 0) return { count: 0 };
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { count: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! };
}

export function percentile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
