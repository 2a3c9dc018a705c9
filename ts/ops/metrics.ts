// Prometheus metrics. The data plane's counters are read at scrape time (collect()), so the
// per-packet path never touches JavaScript.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerStats } from '../native.js';
import { registerResidenceHistogram } from './residence-metric.js';

/** The session events metrics count. */
type SessionEvent = 'stream:start' | 'stream:stop' | 'viewer:join' | 'viewer:leave';

/** What metrics read of the sessions (media/'s SessionManager), named here so ops/ stays below media/. */
export interface SessionSource {
  counts(): { streams: number; publishers: number; viewers: number };
  /** Live streams' ingress per video layer (rid or "default") and "audio", kbit/s. */
  ingressRates?(): { stream: string; layer: string; kbps: number }[];
  /** Returns the function that removes the listeners. `viewer:media`: a viewer's first media packet left. */
  subscribe(handlers: { [E in SessionEvent]?: () => void } & { 'viewer:media'?: (e: { joinSeconds: number | undefined }) => void }): () => void;
}

export interface MetricsSources {
  sessions: SessionSource;
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
  | 'sendDropped'
  | 'srtpErrors'
  | 'stunRejected'
  | 'queueFull'
  | 'nacksReceived'
  | 'retransmits'
  | 'keyframeRequests'
  | 'nacksSent'
  | 'transportCcSent'
  | 'iceAddressConflicts'
  | 'iceRebinds'
  | 'tcpAccepted'
  | 'tcpDroppedPackets'
  | 'tcpRejectedTimeout'
  | 'tcpRejectedOversize'
  | 'tcpRejectedUsername'
  | 'tcpRejectedLimit'
  | 'tcpRejectedInvalid'
  | 'tcpPathClosed';

const WORKER_COUNTERS: [string, Counted, string][] = [
  ['halfsec_received_packets_total', 'rxPackets', 'UDP datagrams received by a data-plane worker (media, RTCP, STUN, DTLS)'],
  ['halfsec_received_bytes_total', 'rxBytes', 'bytes received by a data-plane worker'],
  ['halfsec_sent_packets_total', 'txPackets', 'UDP datagrams sent by a data-plane worker'],
  ['halfsec_sent_bytes_total', 'txBytes', 'bytes sent by a data-plane worker'],
  ['halfsec_dropped_packets_total', 'dropped', 'datagrams a worker received and dropped (truncated, from no peer\'s path, unknown protocol, refused ingest)'],
  ['halfsec_send_dropped_packets_total', 'sendDropped', 'datagrams a worker could not send (socket send buffer full, or an error for one destination)'],
  ['halfsec_srtp_errors_total', 'srtpErrors', 'SRTP/SRTCP packets that failed authentication or replay checks'],
  ['halfsec_stun_rejected_total', 'stunRejected', 'STUN requests rejected (bad credentials or integrity)'],
  ['halfsec_fanout_queue_full_total', 'queueFull', 'packets dropped because a worker\'s fan-out queue was full'],
  ['halfsec_nacks_received_total', 'nacksReceived', 'sequence numbers viewers NACKed'],
  ['halfsec_retransmits_total', 'retransmits', 'packets resent to viewers from the packet cache (RTX or plain)'],
  ['halfsec_keyframe_requests_total', 'keyframeRequests', 'PLIs sent to publishers after merging viewers\' requests'],
  ['halfsec_nacks_sent_total', 'nacksSent', 'sequence numbers NACKed to publishers for the relay\'s own losses'],
  ['halfsec_transport_cc_feedback_sent_total', 'transportCcSent', 'transport-cc feedback packets sent to publishers (draft-holmer-rmcat-transport-wide-cc-extensions-01)'],
  ['halfsec_ice_address_conflicts_total', 'iceAddressConflicts', 'valid ICE checks refused because their source address belongs to another live peer (RFC 8445 §7.3)'],
  ['halfsec_ice_rebinds_total', 'iceRebinds', 'peers whose media moved to a new address on their own check (NAT rebinding)'],
  ['halfsec_tcp_accepted_total', 'tcpAccepted', 'ICE-TCP connections accepted'],
  ['halfsec_tcp_dropped_packets_total', 'tcpDroppedPackets', 'packets dropped because an ICE-TCP connection\'s send queue was full (the viewer then gets a keyframe)'],
  ['halfsec_tcp_rejected_timeout_total', 'tcpRejectedTimeout', 'ICE-TCP connections closed: no valid binding request within connectTimeoutMs'],
  ['halfsec_tcp_rejected_oversize_total', 'tcpRejectedOversize', 'ICE-TCP connections closed: an RFC 4571 frame longer than the largest datagram'],
  ['halfsec_tcp_rejected_username_total', 'tcpRejectedUsername', 'ICE-TCP connections closed: a binding request for no known peer'],
  ['halfsec_tcp_rejected_limit_total', 'tcpRejectedLimit', 'ICE-TCP connections closed: too many from one address, a worker\'s limit, the descriptor budget (accepts that failed for want of descriptors count too)'],
  ['halfsec_tcp_rejected_invalid_total', 'tcpRejectedInvalid', 'ICE-TCP connections closed: not starting with a binding request, or a failed check'],
  ['halfsec_tcp_path_closed_total', 'tcpPathClosed', 'sessions ended because their ICE-TCP connection closed and no other path was checked within 3 s'],
];

const WORKER_GAUGES: [string, 'peers' | 'viewers' | 'tcpConnections', string][] = [
  ['halfsec_worker_peers', 'peers', 'peers (publishers and viewers) assigned to a data-plane worker'],
  ['halfsec_tcp_connections', 'tcpConnections', 'live ICE-TCP connections on a data-plane worker'],
  ['halfsec_worker_viewers', 'viewers', 'viewers assigned to a data-plane worker'],
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

  /** A metric per worker, labelled by the worker's index, read from engine.stats() at scrape time. */
  const perWorker = { labelNames: ['worker'] as const, registers: [registry] };
  const eachWorker = (field: Counted | (typeof WORKER_GAUGES)[number][1], put: (labels: { worker: string }, value: number) => void): void =>
    workers().forEach((w, i) => put({ worker: String(i) }, w[field]));
  for (const [name, field, help] of WORKER_GAUGES) {
    new Gauge({ name, help, ...perWorker, collect() { this.reset(); eachWorker(field, (l, v) => this.set(l, v)); } });
  }
  // The engine's counters are cumulative for its lifetime: republish them as they are.
  for (const [name, field, help] of WORKER_COUNTERS) {
    new Counter({ name, help, ...perWorker, collect() { this.reset(); eachWorker(field, (l, v) => this.inc(l, v)); } });
  }

  // Reset at every scrape: an ended stream's series disappear, so the label set stays bounded by
  // live streams x (simulcast layers + audio).
  new Gauge({
    name: 'halfsec_stream_ingress_kbps',
    help: "a live stream's ingress bit rate per video layer (rid, or \"default\") and \"audio\", kbit/s over the data plane's sliding 2 s window",
    labelNames: ['stream', 'layer'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of src.sessions.ingressRates?.() ?? []) this.set({ stream: r.stream, layer: r.layer }, r.kbps);
    },
  });

  registerResidenceHistogram(registry, workers);

  const started = new Counter({ name: 'halfsec_sessions_started_total', help: 'sessions started', labelNames: ['role'], registers: [registry] });
  const ended = new Counter({ name: 'halfsec_sessions_ended_total', help: 'sessions ended', labelNames: ['role'], registers: [registry] });
  // Join time as a viewer sees it: the offer's arrival (WHEP POST, WebSocket view) to the first
  // media packet its worker sent, stamped on the data plane's clock.
  const join = new Histogram({
    name: 'halfsec_join_seconds',
    help: 'viewer join time: offer (WHEP POST or WebSocket view) received to the first media packet sent to that viewer',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [registry],
  });
  const unsubscribe = src.sessions.subscribe({
    'viewer:media': (e) => {
      if (e.joinSeconds !== undefined) join.observe(e.joinSeconds);
    },
    'stream:start': () => void started.inc({ role: 'publisher' }),
    'stream:stop': () => void ended.inc({ role: 'publisher' }),
    'viewer:join': () => void started.inc({ role: 'viewer' }),
    'viewer:leave': () => void ended.inc({ role: 'viewer' }),
  });

  return {
    registry,
    async scrape() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    close() {
      unsubscribe();
      registry.clear();
    },
  };
}
