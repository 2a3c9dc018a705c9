import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface EngineOptions {
  workers?: number;
  bindAddress?: string;
  portBase?: number;
  portCount?: number;
  keyframeCacheMaxAgeMs?: number;
  /** UDP GSO for a viewer's run of equal-size datagrams (default true). */
  udpGso?: boolean;
  /** Fan-out coalescing window, µs (default 0: off; clamped to 0..50,000). */
  fanoutCoalesceUs?: number;
  /** Each worker thread on its own CPU (default false). */
  pinWorkers?: boolean;
  /** SCHED_FIFO priority of the worker threads, 1-99 (default 0: the normal policy). */
  workerRealtimePriority?: number;
  connectTimeoutMs?: number;
  consentTimeoutMs?: number;
  publisherMediaTimeoutMs?: number;
  /** ICE-TCP listening port: -1 (default) the first of the range free for TCP, 0 off. */
  tcpPort?: number;
  tcpMaxPerAddress?: number;
  tcpMaxPerWorker?: number;
  /** Per-connection send queue, bytes; beyond it packets are dropped (default 256 KiB). */
  tcpSendQueueBytes?: number;
}

/**
 * A viewer's feedback summary, every feedbackIntervalMs while it is sent packets; while it is sent
 * none, every 5 s at most and only with something new (see native/fanout/peer.h ViewerFeedback).
 */
export interface ViewerFeedback {
  loss: number;
  rttMs: number;
  rembBps: number;
  nacks: number;
  retransmits: number;
  layer: number;
  packets: number;
  /**
   * The relay's own estimate of the viewer's path from its transport-cc feedback (bit/s;
   * native/media/bandwidth_estimator.h): 0 without transport-cc, and while no limit has shown.
   */
  estimateBps: number;
  /** What the viewer acknowledged receiving over the last ~500 ms (bit/s; 0 without transport-cc). */
  ackedBps: number;
  /** VP8/VP9 spatial and temporal layers the stream has shown (0 each: no layer information). */
  svcSpatialLayers: number;
  svcTemporalLayers: number;
  /** The highest spatial and temporal layer forwarded to the viewer (7: every one). */
  svcSpatial: number;
  svcTemporal: number;
}

export interface EngineEvent {
  /**
   * 'tcp-rejected' (peerId 0): an ICE-TCP connection was closed for bad input, once per burst; detail says why.
   * 'first-media': a viewer's first media packet went into its worker's send batch, at `atMs`.
   */
  type: 'connected' | 'closed' | 'feedback' | 'layers' | 'tcp-rejected' | 'first-media';
  peerId: number;
  detail?: string;
  feedback?: ViewerFeedback;
  /** 'layers' (publishers, once a second): video bit/s per simulcast layer, lowest first, over the last 2 s (RTP headers included). */
  layerBps?: number[];
  /** 'layers': each layer's SSRC (0 until it has sent). */
  layerSsrc?: number[];
  /** 'layers': audio bit/s over the same window. */
  audioBps?: number;
  /** 'first-media': the moment on the data plane's clock, ms (CLOCK_MONOTONIC, as monotonicMs()). */
  atMs?: number;
}

/**
 * Now on the clock the data plane stamps events with (CLOCK_MONOTONIC, ms with a fraction):
 * libuv's hrtime reads the same clock, so the two can be subtracted.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface PeerConfig {
  /** 'pull': feeds the stream like a publisher, as ICE-controlling DTLS client of another relay. */
  role: 'publisher' | 'viewer' | 'pull' | 'ingest';
  streamId: number;
  localUfrag: string;
  localPwd: string;
  remoteUfrag: string;
  fingerprintAlgorithm: string;
  fingerprint: string;
  /** Publisher: [payloadType, 0 = audio | 1 = video]. */
  kindByPt?: [number, number][];
  /** Publisher: [payloadType, codec id] (see CODEC_IDS), so the data plane can find keyframes. */
  codecByPt?: [number, number][];
  /** Publisher simulcast: the rtp-stream-id header extension id and the rids, lowest layer first. */
  ridExtId?: number;
  rids?: string[];
  /** Publisher: [rtxPayloadType, payloadTypeItRepairs]. */
  rtxApt?: [number, number][];
  /**
   * Publisher: [its payload type, the stream's payload type] where they differ: its packets are
   * rewritten to the stream's numbers, which the viewers' outPtByPt tables were made for (a
   * publisher continuing a stream another source started, e.g. a relayed one after failover).
   */
  streamPtByPt?: [number, number][];
  repairedRidExtId?: number;
  /** Publisher: bit rate announced upstream with REMB (0: none). */
  rembBps?: number;
  /**
   * Publisher: the transport-wide-cc header extension id (draft-holmer-rmcat-transport-wide-cc-
   * extensions-01), 1..255; the data plane then sends transport-cc feedback every ~50 ms. 0: none.
   */
  transportCcExtId?: number;
  /**
   * The AV1 dependency descriptor header extension id (AV1 RTP spec), 1..255; 0 or absent: not
   * negotiated. Publisher: read for each AV1 packet's layers. Viewer: forwarded under this id
   * (RFC 8285 two-byte form when the id is over 14 or a descriptor over 16 bytes), and the
   * viewer's AV1 layers are then filtered like VP8/VP9 ones (setViewerSvc).
   */
  ddExtId?: number;
  audioClockRate?: number;
  /** Viewer: RTX payload type and SSRC for video retransmissions (-1: plain retransmission). */
  rtxPt?: number;
  rtxSsrc?: number;
  feedbackIntervalMs?: number;
  /** Viewer: transport-wide-cc extension id per kind (1..14; absent: not negotiated). */
  audioTwccExtId?: number;
  videoTwccExtId?: number;
  /** Viewer: [publisher payload type, viewer payload type]. */
  outPtByPt?: [number, number][];
  audioSsrc?: number;
  videoSsrc?: number;
  /**
   * Every simulcast layer over one session (relay-to-relay pulls, docs/cluster.md), lowest
   * first, 2-4: a viewer sends each video layer on its own SSRC; a pull receives the layer
   * named `rids[i]` on `layerSsrcs[i]`.
   */
  layerSsrcs?: number[];
  rtcpSsrc?: number;
  /** Reduced-size RTCP (RFC 5506) answered: feedback may go without SR/RR and SDES. */
  rtcpRsize?: boolean;
  /** SDES CNAME of the relay's RTCP toward this peer, as in its answer's a=ssrc cname (default: random, stable for the session). */
  cname?: string;
  worker?: number;
  /** Pull: the other relay's ICE password and its candidate. */
  remotePwd?: string;
  remoteIp?: string;
  remotePort?: number;
  /** Publisher/viewer: the peer offered a=setup:passive, so the relay is the DTLS client (RFC 8842 §5) and starts the handshake after the peer's first valid check. */
  dtlsClient?: boolean;
  /** Ingest: the AF_UNIX datagram socket the data plane binds for the relay's child, and the SSRCs it may send (0: that kind absent). */
  ingestPath?: string;
  ingestVideoSsrc?: number;
  ingestAudioSsrc?: number;
}

/** Codec ids the data plane knows (native/rtp/keyframe.h). */
export const CODEC_IDS: Record<string, number> = { h264: 1, vp8: 2, vp9: 3, av1: 4, opus: 5 };

export interface WorkerStats {
  port: number;
  peers: number;
  viewers: number;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Datagrams received and thrown away (truncated, from no peer's path, unknown protocol). */
  dropped: number;
  /** Datagrams the kernel would not send (full socket send buffer, an error for one destination). */
  sendDropped: number;
  srtpErrors: number;
  stunRejected: number;
  queueFull: number;
  packetsPooled: number;
  /** Sequence numbers viewers NACKed, packets resent to them. */
  nacksReceived: number;
  retransmits: number;
  /** PLIs sent to publishers (after merging), sequence numbers NACKed upstream. */
  keyframeRequests: number;
  nacksSent: number;
  /** Transport-cc feedback packets sent to publishers. */
  transportCcSent: number;
  /** Valid checks refused: their source address belongs to another live peer. Peers moved to a new address (NAT rebinding). */
  iceAddressConflicts: number;
  iceRebinds: number;
  /** ICE-TCP: live connections, connections accepted, packets dropped on a full send queue, and connections closed for no valid binding request in time, an oversize frame, an unknown username, a connection limit, anything else. */
  tcpConnections: number;
  tcpAccepted: number;
  tcpDroppedPackets: number;
  tcpRejectedTimeout: number;
  tcpRejectedOversize: number;
  tcpRejectedUsername: number;
  tcpRejectedLimit: number;
  tcpRejectedInvalid: number;
  /**
   * Forwarded packets' residence time (kernel receive timestamp to the return of the sendmmsg
   * that carried them; one sample per datagram sent to a viewer), non-cumulative counts per bucket: one per bound of
   * `native.residenceBucketsSeconds`, then the +Inf bucket. Sum in seconds.
   */
  residenceBuckets: number[];
  residenceSumSeconds: number;
  /** sendmmsg messages that carried several datagrams to one viewer (UDP GSO). */
  gsoMessages: number;
  /** Sessions ended (reason "ice-tcp-closed") because their ICE-TCP connection closed (EOF, RST, write error) and no other path was checked within 3 s. */
  tcpPathClosed: number;
}

export interface NativeEngine {
  readonly fingerprint: string;
  readonly ports: number[];
  /** The ICE-TCP port (0: off). */
  readonly tcpPort: number;
  /** Why workerRealtimePriority was not applied (empty: applied, or not asked for). */
  readonly schedulingWarning: string;
  createStream(): number;
  closeStream(streamId: number): boolean;
  addPeer(config: PeerConfig): { peerId: number; worker: number; port: number; tcpPort: number };
  removePeer(peerId: number): boolean;
  requestKeyframe(streamId: number): boolean;
  /** Pins a viewer to a simulcast layer (0 = lowest), or -1 for the highest live layer. */
  setViewerLayer(peerId: number, layer: number): boolean;
  /**
   * The highest VP8/VP9 spatial and temporal layer a viewer gets (0..7 each, 7: every layer), and
   * the rate of the next step up in kbit/s (0: none), which the viewer's probes aim at.
   */
  setViewerSvc(peerId: number, spatial: number, temporal: number, nextKbps?: number): boolean;
  /** Ingest: the pid whose datagrams the peer takes (kernel-stamped, SCM_CREDENTIALS); others are dropped. */
  setIngestSource(peerId: number, pid: number): boolean;
  stats(): { workers: WorkerStats[] };
  close(): void;
}

export interface NativeAddon {
  Engine: new (options: EngineOptions, onEvents: (events: EngineEvent[]) => void) => NativeEngine;
  _test: Record<string, (...args: never[]) => unknown>;
  /** Upper bounds in seconds of WorkerStats.residenceBuckets' finite buckets. */
  residenceBucketsSeconds: number[];
  /**
   * After a burst of joins: with `reduceHeap`, a memory-reducing V8 GC on the calling (JS) thread,
   * then malloc_trim(0) on a libuv pool thread. Resolves with the time each took, µs, and whether
   * glibc gave memory back (napi/memory.cc).
   */
  reclaimMemory(reduceHeap: boolean): Promise<{ released: boolean; trimMicros: number; gcMicros: number }>;
}

export const native: NativeAddon = require('../build/Release/halfsec.node') as NativeAddon;
