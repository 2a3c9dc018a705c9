// Stream bookkeeping: the streams a relay holds, the sessions in them, and what can be read about
// them (lists, details, counts, layers). SessionManager (sessions.ts) makes every change.
import { randomHex } from './random-pool.js';
import type { ViewerFeedback } from '../native.js';
import { badRequest } from '../ops/errors.js';
import { sameFormat } from './codecs.js';
import type { Codec, MediaKind } from './sdp.js';

export type SessionRole = 'publisher' | 'viewer';

export interface Session {
  id: string;
  role: SessionRole;
  stream: string;
  peerId: number;
  worker: number;
  connected: boolean;
  createdAt: number;
  /** Viewers: when the offer arrived (WHEP POST or WebSocket view), on monotonicMs()'s clock, for the join time. */
  requestedAtMs?: number;
  /** Viewers: an edge's pull, which takes the stream whole (every simulcast layer, every SVC layer). */
  wholeStream?: boolean;
  /** Viewers: the latest feedback summary from the data plane. */
  feedback?: ViewerFeedback;
  /** What a viewer asked for with the WebSocket `select` message (a pinned layer or bit-rate ceiling caps the layer policy, see SessionManager.select). */
  preferences?: ViewerPreferences;
}

export interface ViewerPreferences {
  /** Simulcast layer (rid) to pin; undefined = let the relay choose. */
  layer?: string;
  /** Upper bound on what the viewer wants to receive, bits per second. */
  maxBitrate?: number;
}

export interface CodecInfo {
  kind: MediaKind;
  name: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

export interface SessionInfo {
  session: string;
  connected: boolean;
  worker: number;
  since: string;
  preferences?: ViewerPreferences;
}

export interface StreamSummary {
  name: string;
  viewers: number;
  connected: boolean;
  codecs: string[];
}

export interface StreamDetail {
  name: string;
  publisher: SessionInfo;
  codecs: CodecInfo[];
  viewers: SessionInfo[];
  /** Ingress bit rate as the data plane measured it; null until the source's first report. */
  bitrate: StreamBitrate | null;
}

/**
 * A stream's ingress, measured in the data plane over a sliding 2 s window of the RTP packets
 * the relay accepted from its source (headers included, RTX repairs and padding not), reported
 * each second. kbit/s.
 */
export interface StreamBitrate {
  /** Video plus audio. */
  kbps: number;
  audioKbps: number;
  /** Video per simulcast layer, lowest first; one layer with id "default" without simulcast. */
  layers: { id: string; ssrc: number | null; kbps: number }[];
}

/** What the data plane last reported of a source's ingress, bit/s. */
export interface Ingress {
  layerBps: number[];
  layerSsrc: number[];
  audioBps: number;
}

export type StreamCodecs = Partial<Record<MediaKind, Codec>>;

export interface StreamState {
  name: string;
  engineId: number;
  publisher: Session;
  /** What the publisher sends, per kind (its payload types). */
  codecs: StreamCodecs;
  viewers: Map<string, Session>;
  /** Simulcast rids, lowest layer first (empty without simulcast). */
  rids: string[];
  /** Bit rate of each layer, lowest first: measured by the data plane once media flows. */
  layerBitrates: number[];
  /** The latest measurement (0 for a layer that is not flowing). */
  measured?: number[];
  measuredOnce?: boolean;
  /** The source's latest ingress report. */
  ingress?: Ingress;
  /** Fed by a pull from another relay rather than by a local WHIP publisher. */
  relayed?: boolean;
  /** Its source is gone (a relayed stream's pull, or a publisher that vanished): viewers stay for now. */
  orphaned?: boolean;
  /** Ends an orphaned local stream when its publisher does not return in time. */
  graceTimer?: NodeJS.Timeout | undefined;
}

const STREAM_NAME = /^[A-Za-z0-9_.~-]{1,128}$/;

export function checkStreamName(name: string): void {
  if (!STREAM_NAME.test(name)) throw badRequest('stream name must be 1-128 characters of A-Z a-z 0-9 _ . ~ -');
}

/** Viewers' answers fixed their payload types: only the same codecs can continue a stream. */
export const sameCodecs = (a: StreamCodecs, b: StreamCodecs): boolean =>
  (['audio', 'video'] as const).every((k) => a[k]?.name === b[k]?.name && a[k]?.payloadType === b[k]?.payloadType && a[k]?.fmtp === b[k]?.fmtp);

/** Same kinds, each in a format the viewers' decoders already take (payload types may differ). */
export const sameFormats = (a: StreamCodecs, b: StreamCodecs): boolean =>
  (['audio', 'video'] as const).every((k) => (a[k] && b[k] ? sameFormat(a[k], b[k]) : a[k] === b[k]));

/** [b's payload type, a's] for each kind whose numbers differ (a source b continuing stream a). */
export const ptRemap = (a: StreamCodecs, b: StreamCodecs): [number, number][] =>
  (['audio', 'video'] as const).flatMap((k): [number, number][] => (a[k] && b[k] && a[k].payloadType !== b[k].payloadType ? [[b[k].payloadType, a[k].payloadType]] : []));

/** Layer rates assumed until the data plane has measured them: each layer ~3x the one below. */
export function defaultLayerRates(layers: number): number[] {
  return Array.from({ length: layers }, (_, i) => Math.round(1_500_000 / 3 ** (layers - 1 - i)));
}

const sessionInfo = (s: Session): SessionInfo => ({
  session: s.id,
  connected: s.connected,
  worker: s.worker,
  since: new Date(s.createdAt).toISOString(),
  ...(s.preferences ? { preferences: s.preferences } : {}),
});

const codecInfo = ([kind, c]: [MediaKind, Codec]): CodecInfo => ({
  kind,
  name: c.name,
  payloadType: c.payloadType,
  clockRate: c.clockRate,
  ...(c.channels !== undefined ? { channels: c.channels } : {}),
  ...(c.fmtp !== undefined ? { fmtp: c.fmtp } : {}),
});

const kbps = (bps: number): number => Math.round(bps / 1000);

/** Layer ids: the rids, or "default" without simulcast. */
const layerIds = (st: StreamState): string[] => (st.rids.length > 0 ? st.rids : ['default']);

function bitrateOf(st: StreamState, ing: Ingress): StreamBitrate {
  const layers = layerIds(st).map((id, i) => ({ id, ssrc: ing.layerSsrc[i] || null, kbps: kbps(ing.layerBps[i] ?? 0) }));
  const video = ing.layerBps.reduce((a, b) => a + b, 0);
  return { kbps: kbps(video + ing.audioBps), audioKbps: kbps(ing.audioBps), layers };
}

/** Streams by name and sessions by native peer id. */
export class StreamBook {
  private readonly streams = new Map<string, StreamState>();
  private readonly byPeer = new Map<number, Session>();

  get(name: string): StreamState | undefined {
    return this.streams.get(name);
  }

  add(st: StreamState): void {
    this.streams.set(st.name, st);
  }

  remove(st: StreamState): void {
    this.streams.delete(st.name);
  }

  all(): StreamState[] {
    return [...this.streams.values()];
  }

  /** A new session on a native peer, found by that peer's id until it is untracked. */
  newSession(role: SessionRole, stream: string, added: { peerId: number; worker: number }): Session {
    const s: Session = {
      id: randomHex(12),
      role,
      stream,
      peerId: added.peerId,
      worker: added.worker,
      connected: false,
      createdAt: Date.now(),
    };
    this.byPeer.set(s.peerId, s);
    return s;
  }

  byPeerId(peerId: number): Session | undefined {
    return this.byPeer.get(peerId);
  }

  untrack(peerId: number): void {
    this.byPeer.delete(peerId);
  }

  isLive(stream: string): boolean {
    return this.streams.has(stream);
  }

  isRelayed(stream: string): boolean {
    return this.streams.get(stream)?.relayed === true;
  }

  viewerCount(stream: string): number {
    return this.streams.get(stream)?.viewers.size ?? 0;
  }

  /** Relayed streams (fed by a pull), and whether each currently lacks its source. */
  relayedStreams(): { name: string; viewers: number; orphaned: boolean }[] {
    return this.all().filter((st) => st.relayed).map((st) => ({ name: st.name, viewers: st.viewers.size, orphaned: st.orphaned === true }));
  }

  /** Streams published here (their origin is this relay). */
  localStreams(): string[] {
    return this.all().filter((st) => !st.relayed).map((st) => st.name);
  }

  /** The layers a viewer can choose from, with their measured rates. */
  layers(stream: string): { id: string; bitrate: number; active: boolean }[] {
    const st = this.streams.get(stream);
    if (!st) return [];
    const ids = layerIds(st);
    return ids.map((id, i) => ({ id, bitrate: Math.round(st.layerBitrates[i] ?? 0), active: (st.measured?.[i] ?? 1) > 0 }));
  }

  /** Every stream's ingress per video layer (and audio), kbit/s, for /metrics: bounded by streams x (layers + 1). */
  ingressRates(): { stream: string; layer: string; kbps: number }[] {
    const out: { stream: string; layer: string; kbps: number }[] = [];
    for (const st of this.streams.values()) {
      if (!st.ingress) continue;
      const b = bitrateOf(st, st.ingress);
      for (const l of b.layers) out.push({ stream: st.name, layer: l.id, kbps: l.kbps });
      out.push({ stream: st.name, layer: 'audio', kbps: b.audioKbps });
    }
    return out;
  }

  describeStream(name: string): StreamDetail | undefined {
    const st = this.streams.get(name);
    if (!st) return undefined;
    return {
      name,
      publisher: sessionInfo(st.publisher),
      codecs: (Object.entries(st.codecs) as [MediaKind, Codec][]).map(codecInfo),
      viewers: [...st.viewers.values()].map(sessionInfo),
      bitrate: st.ingress ? bitrateOf(st, st.ingress) : null,
    };
  }

  listStreams(): StreamSummary[] {
    return this.all().map((st) => ({
      name: st.name,
      viewers: st.viewers.size,
      connected: st.publisher.connected,
      codecs: Object.values(st.codecs).map((c) => c.name),
    }));
  }

  /** `publishers` counts publishers whose ICE and DTLS completed; `sessions` every session held. */
  counts(): { streams: number; publishers: number; viewers: number; sessions: number } {
    let viewers = 0;
    let publishers = 0;
    for (const st of this.streams.values()) {
      viewers += st.viewers.size;
      if (st.publisher.connected) publishers++;
    }
    return { streams: this.streams.size, publishers, viewers, sessions: this.byPeer.size };
  }
}
