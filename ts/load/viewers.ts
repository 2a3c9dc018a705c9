// What the load session needs from a set of viewers, whichever peer implementation hosts them.
import type { LatencySummary } from './histogram.js';

export interface ViewerCounters {
  key: number;
  state: 'joining' | 'connected' | 'failed' | 'closed';
  rxPackets: number;
  authChecked: number;
  authFailed: number;
  badPayload: number;
  /** WHEP POST sent -> first media packet, ms. */
  joinMs?: number;
  error?: string;
}

export interface ViewerPool {
  readonly kind: 'native' | 'datachannel';
  /** Posts one WHEP offer and starts the viewer; rejects when signaling fails. */
  join(whepUrl: string): Promise<void>;
  counters(): ViewerCounters[];
  /** An opaque latency mark; latencySince(mark) summarises the samples after it. */
  latencyMark(): unknown;
  latencySince(mark: unknown): LatencySummary;
  close(deleteSessions: boolean): Promise<void>;
}
