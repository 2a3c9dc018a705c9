// Prometheus metrics. The data plane's counters are read at scrape time (collect()), so the
// per-packet path never touches JavaScript.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerStats } from '../native.js';
import type { SessionManager } from '../media/sessions.js';

export interface MetricsSources {
  sessions: SessionManager;
  workers: () => WorkerStats[];
  signalingConnections: () => number;
}

export interface Metrics {
  readonly registry: Registry;
  scrape(): Promise<{ contentType: string; text: string }>;
  close(): void;
}

type Counted =
  | 'rxPackets'
  | 'rxBytes'
  | 'txPackets'
  | 'txBytes'
  | 'dropped'
  | 'srtpErrors'
  | 'stunRejected'
  | 'queueFull'
  | 'nacksReceived'
  | 'retransmits'
  | 'keyframeRequests'
  | 'nacksSent';

const WORKER_COUNTERS: [string, Counted, string][] = [
  ['halfsec_received_packets_total', 'rxPackets', 'UDP datagrams received by a data-plane worker (media, RTCP, STUN, DTLS)'],
  ['halfsec_received_bytes_total', 'rxBytes', 'bytes received by a data-plane worker'],
  ['halfsec_sent_packets_total', 'txPackets', 'UDP datagrams sent by a data-plane worker'],
  ['halfsec_sent_bytes_total', 'txBytes', 'bytes sent by a data-plane worker'],
  ['halfsec_dropped_packets_total', 'dropped', 'datagrams a worker dropped (unknown sender, full queue, malformed)'],
  ['halfsec_srtp_errors_total', 'srtpErrors', 'SRTP/SRTCP packets that failed authentication or replay checks'],
  ['halfsec_stun_rejected_total', 'stunRejected', 'STUN requests rejected (bad credentials or integrity)'],
  ['halfsec_fanout_queue_full_total', 'queueFull', 'packets dropped because a worker\'s fan-out queue was full'],
  ['halfsec_nacks_received_total', 'nacksReceived', 'sequence numbers viewers NACKed'],
  ['halfsec_retransmits_total', 'retransmits', 'packets resent to viewers from the packet cache (RTX or plain)'],
  ['halfsec_keyframe_requests_total', 'keyframeRequests', 'PLIs sent to publishers after merging viewers\' requests'],
  ['halfsec_nacks_sent_total', 'nacksSent', 'sequence numbers NACKed to publishers for the relay\'s own losses'],
];

/** A gauge whose value is read when Prometheus scrapes, never pushed. */
export function collectedGauge(registry: Registry, name: string, help: string, value: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(value());
    },
  });
}

export function createMetrics(src: MetricsSources): Metrics {
  const registry = new Registry();
  // Event-loop lag, CPU, memory, GC: prom-client's standard process metrics.
  collectDefaultMetrics({ register: registry });

  // One engine.stats() call serves every metric of a scrape.
  let cached: { at: number; workers: WorkerStats[] } | undefined;
  const workers = (): WorkerStats[] => {
    const now = Date.now();
    if (!cached || now - cached.at > 100) cached = { at: now, workers: src.workers() };
    return cached.workers;
  };

  const gauge = (name: string, help: string, value: () => number): void => collectedGauge(registry, name, help, value);
  gauge('halfsec_streams', 'streams with a publisher session', () => src.sessions.counts().streams);
  gauge('halfsec_publishers', 'publishers whose ICE and DTLS completed', () => src.sessions.counts().publishers);
  gauge('halfsec_viewers', 'viewer sessions', () => src.sessions.counts().viewers);
  gauge('halfsec_signaling_connections', 'open WebSocket signaling connections', src.signalingConnections);

  for (const [name, field, help] of [
    ['halfsec_worker_peers', 'peers', 'peers (publishers and viewers) assigned to a data-plane worker'],
    ['halfsec_worker_viewers', 'viewers', 'viewers assigned to a data-plane worker'],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: ['worker'],
      registers: [registry],
      collect() {
        this.reset();
        workers().forEach((w, i) => this.set({ worker: String(i) }, w[field]));
      },
    });
  }
  for (const [name, field, help] of WORKER_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['worker'],
      registers: [registry],
      // The engine's counters are cumulative for its lifetime: republish them as they are.
      collect() {
        this.reset();
        workers().forEach((w, i) => this.inc({ worker: String(i) }, w[field]));
      },
    });
  }

  const started = new Counter({ name: 'halfsec_sessions_started_total', help: 'sessions started', labelNames: ['role'], registers: [registry] });
  const ended = new Counter({ name: 'halfsec_sessions_ended_total', help: 'sessions ended', labelNames: ['role'], registers: [registry] });
  const onStart = (): void => void started.inc({ role: 'publisher' });
  const onStop = (): void => void ended.inc({ role: 'publisher' });
  const onJoin = (): void => void started.inc({ role: 'viewer' });
  const onLeave = (): void => void ended.inc({ role: 'viewer' });
  src.sessions.on('stream:start', onStart);
  src.sessions.on('stream:stop', onStop);
  src.sessions.on('viewer:join', onJoin);
  src.sessions.on('viewer:leave', onLeave);

  return {
    registry,
    async scrape() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    close() {
      src.sessions.off('stream:start', onStart);
      src.sessions.off('stream:stop', onStop);
      src.sessions.off('viewer:join', onJoin);
      src.sessions.off('viewer:leave', onLeave);
      registry.clear();
    },
  };
}
