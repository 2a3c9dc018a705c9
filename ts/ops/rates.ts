// Relay-wide ingress/egress rates, sampled from the data plane's cumulative worker counters.
import { native } from '../native.js';
import type { WorkerStats } from '../native.js';

/**
 * Relay-added delay over the last interval: quantiles of halfsec_packet_residence_seconds's
 * bucket counts summed over workers, each the upper bound of the bucket it falls in (so never an
 * underestimate); undefined when no packet was forwarded in the interval.
 */
export interface ResidenceSummary {
  p50Seconds: number;
  p99Seconds: number;
  packets: number;
}

export interface Rates {
  ingressBitsPerSecond: number;
  egressBitsPerSecond: number;
  ingressPacketsPerSecond: number;
  egressPacketsPerSecond: number;
}

interface Totals {
  at: number;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  residence: number[];  // per bucket (not cumulative), summed over workers
}

function totals(workers: WorkerStats[], at: number): Totals {
  const t: Totals = { at, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, residence: [] };
  for (const w of workers) {
    w.residenceBuckets.forEach((n, i) => (t.residence[i] = (t.residence[i] ?? 0) + n));
    t.rxBytes += w.rxBytes;
    t.txBytes += w.txBytes;
    t.rxPackets += w.rxPackets;
    t.txPackets += w.txPackets;
  }
  return t;
}

export class RateSampler {
  private last: Totals;
  private current: Rates = { ingressBitsPerSecond: 0, egressBitsPerSecond: 0, ingressPacketsPerSecond: 0, egressPacketsPerSecond: 0 };
  private currentResidence: ResidenceSummary | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly read: () => WorkerStats[],
    intervalMs = 1000,
  ) {
    this.last = totals(read(), Date.now());
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref(); // a sampler alone must not keep the process alive
  }

  /** Rates over the last complete interval. */
  rates(): Rates {
    return { ...this.current };
  }

  /** Relay-added delay over the last complete interval (see ResidenceSummary). */
  residence(): ResidenceSummary | undefined {
    return this.currentResidence && { ...this.currentResidence };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = totals(this.read(), Date.now());
    const s = (now.at - this.last.at) / 1000;
    if (s <= 0) return;
    this.current = {
      ingressBitsPerSecond: Math.round(((now.rxBytes - this.last.rxBytes) * 8) / s),
      egressBitsPerSecond: Math.round(((now.txBytes - this.last.txBytes) * 8) / s),
      ingressPacketsPerSecond: Math.round((now.rxPackets - this.last.rxPackets) / s),
      egressPacketsPerSecond: Math.round((now.txPackets - this.last.txPackets) / s),
    };
    this.currentResidence = summarize(now.residence.map((n, i) => n - (this.last.residence[i] ?? 0)));
    this.last = now;
  }
}

function summarize(counts: number[]): ResidenceSummary | undefined {
  const packets = counts.reduce((a, b) => a + b, 0);
  if (packets <= 0) return undefined;
  const bounds = native.residenceBucketsSeconds;
  const quantile = (q: number): number => {
    let acc = 0;
    for (let i = 0; i < counts.length; i++) {
      acc += counts[i] ?? 0;
      // The last bucket is +Inf: report the largest finite bound, the most the histogram can say.
      if (acc >= q * packets) return bounds[Math.min(i, bounds.length - 1)] ?? 0;
    }
    return bounds[bounds.length - 1] ?? 0;
  };
  return { p50Seconds: quantile(0.5), p99Seconds: quantile(0.99), packets };
}
