// Relay-wide ingress/egress rates, sampled from the data plane's cumulative worker counters.
import type { WorkerStats } from '../native.js';

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
}

function totals(workers: WorkerStats[], at: number): Totals {
  const t: Totals = { at, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
  for (const w of workers) {
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
    this.last = now;
  }
}
