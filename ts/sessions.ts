import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { HttpError, badRequest } from './errors.js';
import { CODEC_IDS } from './native.js';
import type { NativeEngine, EngineEvent, ViewerFeedback } from './native.js';
import { LayerPolicy } from './policy.js';
import { buildAnswer, newIceParams, parseOffer, requirePublisherCodec, requireViewerCodec, rtxFor } from './sdp.js';
import type { AnswerTrack, Codec, IceParams, MediaKind, ParsedOffer } from './sdp.js';

export type SessionRole = 'publisher' | 'viewer';

export interface Session {
  id: string;
  role: SessionRole;
  stream: string;
  peerId: number;
  worker: number;
  connected: boolean;
  createdAt: number;
  /** Viewers: the latest feedback summary from the data plane. */
  feedback?: ViewerFeedback;
  /** What a viewer asked for with the WebSocket `select` message (stored; no native layer switching yet). */
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
}

interface StreamState {
  name: string;
  engineId: number;
  publisher: Session;
  /** What the publisher sends, per kind (its payload types). */
  codecs: Partial<Record<MediaKind, Codec>>;
  viewers: Map<string, Session>;
  /** Simulcast rids, lowest layer first (empty without simulcast). */
  rids: string[];
  /** Bit rate of each layer, lowest first: measured by the data plane once media flows. */
  layerBitrates: number[];
  /** The latest measurement (0 for a layer that is not flowing). */
  measured?: number[];
  measuredOnce?: boolean;
  /** Fed by a pull from another relay rather than by a local WHIP publisher. */
  relayed?: boolean;
  /** Its source is gone (a relayed stream's pull, or a publisher that vanished): viewers stay for now. */
  orphaned?: boolean;
  /** Ends an orphaned local stream when its publisher does not return in time. */
  graceTimer?: NodeJS.Timeout | undefined;
}

/** A pull from another relay, as ts/cluster/ negotiated it: what the native pull peer needs. */
export interface PullSource {
  codecs: Partial<Record<MediaKind, Codec>>;
  localUfrag: string;
  localPwd: string;
  remoteUfrag: string;
  remotePwd: string;
  remoteIp: string;
  remotePort: number;
  fingerprintAlgorithm: string;
  fingerprint: string;
}

export interface RelayEvents {
  'stream:start': [{ stream: string; session: string }];
  'stream:stop': [{ stream: string; session: string; reason: string }];
  'viewer:join': [{ stream: string; session: string }];
  'viewer:leave': [{ stream: string; session: string; reason: string }];
  'peer:connected': [{ stream: string; session: string; role: SessionRole }];
  'viewer:feedback': [{ stream: string; session: string; feedback: ViewerFeedback; layer: number }];
  /** A viewer's preferences changed (WebSocket `select`). */
  'viewer:select': [{ stream: string; session: string; preferences: ViewerPreferences }];
  /** A WebSocket signaling connection opened or closed. */
  'signaling:open': [{ connection: number; remoteAddress: string }];
  'signaling:close': [{ connection: number; sessions: number }];
  /** A relayed stream lost its pull; its viewers stay until the source returns or the stream is closed. */
  'source:lost': [{ stream: string; reason: string }];
  /** Someone waits for a stream that is not live here (a held WebSocket view): a cluster may pull it. */
  'stream:wanted': [{ stream: string }];
  /** A local publisher vanished without DELETE; its viewers wait (up to republishGraceMs). */
  'publisher:lost': [{ stream: string; reason: string }];
  /** A publisher resumed a stream whose viewers waited (a republish or a takeover). */
  'publisher:back': [{ stream: string; session: string }];
}

export interface SessionOptions {
  /** How long a stream whose publisher vanished keeps its viewers waiting for a republish, ms (0: end at once). */
  republishGraceMs: number;
  /** Peers one data-plane worker may hold (0: unlimited); new sessions get 503 when all are full. */
  maxPeersPerWorker?: number;
}

const sameCodecs = (a: Partial<Record<MediaKind, Codec>>, b: Partial<Record<MediaKind, Codec>>): boolean =>
  (['audio', 'video'] as const).every((k) => a[k]?.name === b[k]?.name && a[k]?.payloadType === b[k]?.payloadType && a[k]?.fmtp === b[k]?.fmtp);

export interface OfferResult {
  session: Session;
  answer: string;
}

/** Bit rate the relay announces to publishers with REMB: the encoder's ceiling. */
const PUBLISHER_REMB_BPS = 4_000_000;
/** Announced upstream by a pull: high, so an origin's layer policy sends its top layer. */
const PULL_REMB_BPS = 50_000_000;

const MAX_LAYERS = 4;

/** Layer rates assumed until the data plane has measured them: each layer ~3x the one below. */
function defaultLayerRates(layers: number): number[] {
  return Array.from({ length: layers }, (_, i) => Math.round(1_500_000 / 3 ** (layers - 1 - i)));
}

const STREAM_NAME = /^[A-Za-z0-9_.~-]{1,128}$/;

export function checkStreamName(name: string): void {
  if (!STREAM_NAME.test(name)) throw badRequest('stream name must be 1-128 characters of A-Z a-z 0-9 _ . ~ -');
}

/** Streams, publishers and viewers: the control plane's state, driving the native engine. */
export class SessionManager extends EventEmitter<RelayEvents> {
  private readonly streams = new Map<string, StreamState>();
  private readonly byPeer = new Map<number, Session>();
  private readonly policies = new Map<string, LayerPolicy>();

  constructor(
    private readonly engine: NativeEngine,
    private readonly announcedIps: string[],
    private readonly log: Logger,
    private readonly options: SessionOptions = { republishGraceMs: 0, maxPeersPerWorker: 0 },
  ) {
    super();
  }

  /**
   * A WHIP publisher. A stream whose publisher vanished within `republishGraceMs`, or one whose
   * publisher a `takeover` replaces, keeps its viewers when the new publisher sends the same codecs:
   * they switch to it at its first keyframe with their sequence numbers and timestamps running on.
   * Otherwise a live stream is a 409.
   */
  publish(stream: string, sdp: string, takeover = false): OfferResult {
    checkStreamName(stream);
    this.assertWorkerRoom();
    const existing = this.streams.get(stream);
    const waiting = existing !== undefined && existing.orphaned === true && !existing.relayed;
    if (existing && !takeover && !waiting) throw new HttpError(409, `stream "${stream}" already has a publisher`);
    const offer = parseOffer(sdp, 'publisher');
    const tracks: AnswerTrack[] = [];
    const codecs: StreamState['codecs'] = {};
    for (const t of offer.tracks) {
      const codec = requirePublisherCodec(t);
      const rtx = t.kind === 'video' ? rtxFor(t, codec.payloadType) : undefined;
      tracks.push({ kind: t.kind, mid: t.mid, codec, ...(rtx ? { rtx } : {}) });
      codecs[t.kind] = codec;
    }
    if (tracks.length === 0) {
      throw badRequest('offer has no codec the relay supports (video: H264, VP8, VP9, AV1; audio: opus)');
    }
    const video = offer.tracks.find((t) => t.kind === 'video' && codecs.video);
    const rids = video && video.rids.length > 1 ? video.rids.slice(0, MAX_LAYERS) : [];
    const simulcast = rids.length > 1 && video?.ridExtensionId !== undefined
      ? { rids, ridExtId: video.ridExtensionId, ...(video.repairedRidExtensionId !== undefined ? { repairedRidExtId: video.repairedRidExtensionId } : {}) }
      : {};
    // The viewers' answers fixed their payload types: only the same codecs can continue them.
    const keep = existing !== undefined && !existing.relayed && sameCodecs(existing.codecs, codecs) && existing.rids.join(',') === rids.join(',');
    if (existing && !keep) {
      this.endStream(existing, waiting ? 'republished with other codecs' : 'taken over by a new publisher');
    } else if (existing && keep && !waiting) {
      this.log.info({ stream, session: existing.publisher.id }, 'publisher taken over');
      this.byPeer.delete(existing.publisher.peerId);
      this.engine.removePeer(existing.publisher.peerId);
    }
    const reuse = keep ? existing : undefined;
    const ice = newIceParams();
    const engineId = reuse?.engineId ?? this.engine.createStream();
    let added: { peerId: number; worker: number; port: number };
    try {
      added = this.engine.addPeer({
        role: 'publisher',
        streamId: engineId,
        localUfrag: ice.ufrag,
        localPwd: ice.pwd,
        remoteUfrag: offer.iceUfrag,
        fingerprintAlgorithm: offer.fingerprintAlgorithm,
        fingerprint: offer.fingerprint,
        kindByPt: tracks.map((t) => [t.codec.payloadType, t.kind === 'audio' ? 0 : 1]),
        codecByPt: tracks.map((t) => [t.codec.payloadType, CODEC_IDS[t.codec.name.toLowerCase()] ?? 0]),
        rtxApt: tracks.flatMap((t): [number, number][] => (t.rtx ? [[t.rtx.payloadType, t.codec.payloadType]] : [])),
        rembBps: PUBLISHER_REMB_BPS,
        rtcpSsrc: randomInt(1, 2 ** 32 - 1),
        dtlsClient: offer.dtlsSetup === 'passive',
        rtcpRsize: offer.rtcpRsize,
        ...simulcast,
      });
    } catch (err) {
      if (reuse) this.endStream(reuse, 'republish failed', false);
      else this.engine.closeStream(engineId);
      throw err;
    }
    const session = this.newSession('publisher', stream, added);
    const answer = this.answer('publisher', offer, ice, added.port, tracks, stream);
    if (reuse) {
      clearTimeout(reuse.graceTimer);
      reuse.graceTimer = undefined;
      reuse.publisher = session;
      reuse.orphaned = false;
      this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker, viewers: reuse.viewers.size }, 'publisher session resumed the stream');
      this.emit('publisher:back', { stream, session: session.id });
    } else {
      this.streams.set(stream, { name: stream, engineId, publisher: session, codecs, viewers: new Map(), rids, layerBitrates: defaultLayerRates(Math.max(1, rids.length)) });
      this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker, codecs: tracks.map((t) => t.codec.name) }, 'publisher session started');
      this.emit('stream:start', { stream, session: session.id });
    }
    return { session, answer };
  }

  view(stream: string, sdp: string): OfferResult {
    checkStreamName(stream);
    this.assertWorkerRoom();
    const st = this.streams.get(stream);
    if (!st) throw new HttpError(404, `stream "${stream}" is not live`);
    const offer = parseOffer(sdp, 'viewer');
    const tracks: AnswerTrack[] = [];
    const outPtByPt: [number, number][] = [];
    const ssrcs: Partial<Record<MediaKind, number>> = {};
    let rtxOut: { rtxPt: number; rtxSsrc: number } | undefined;
    for (const t of offer.tracks) {
      const source = st.codecs[t.kind];
      if (!source) continue;
      const mine = requireViewerCodec(t, source, stream);
      const ssrc = randomInt(1, 2 ** 32 - 1);
      ssrcs[t.kind] = ssrc;
      const codec: Codec = { ...mine };
      const track: AnswerTrack = { kind: t.kind, mid: t.mid, codec, ssrc };
      const rtx = t.kind === 'video' ? rtxFor(t, mine.payloadType) : undefined;
      if (rtx) {
        track.rtx = rtx;
        track.rtxSsrc = randomInt(1, 2 ** 32 - 1);
        rtxOut = { rtxPt: rtx.payloadType, rtxSsrc: track.rtxSsrc };
      }
      tracks.push(track);
      outPtByPt.push([source.payloadType, mine.payloadType]);
    }
    if (tracks.length === 0) {
      const have = Object.values(st.codecs).map((c) => c.name).join(', ');
      throw new HttpError(406, `offer accepts none of the codecs stream "${stream}" carries (${have})`);
    }
    const ice = newIceParams();
    const added = this.engine.addPeer({
      role: 'viewer',
      streamId: st.engineId,
      localUfrag: ice.ufrag,
      localPwd: ice.pwd,
      remoteUfrag: offer.iceUfrag,
      fingerprintAlgorithm: offer.fingerprintAlgorithm,
      fingerprint: offer.fingerprint,
      outPtByPt,
      ...(ssrcs.audio !== undefined ? { audioSsrc: ssrcs.audio } : {}),
      ...(ssrcs.video !== undefined ? { videoSsrc: ssrcs.video } : {}),
      ...(rtxOut ?? {}),
      rtcpSsrc: randomInt(1, 2 ** 32 - 1),
      dtlsClient: offer.dtlsSetup === 'passive',
      rtcpRsize: offer.rtcpRsize,
    });
    const session = this.newSession('viewer', stream, added);
    st.viewers.set(session.id, session);
    if (st.layerBitrates.length > 1) this.policies.set(session.id, new LayerPolicy({ layerBitrates: st.layerBitrates }));
    const answer = this.answer('viewer', offer, ice, added.port, tracks, stream);
    this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker }, 'viewer session started');
    this.emit('viewer:join', { stream, session: session.id });
    return { session, answer };
  }

  /**
   * Feeds `stream` from another relay: a new local stream, or a new source for an orphaned
   * relayed one whose viewers stayed (same codecs required, or the stream starts over).
   */
  attachPull(stream: string, src: PullSource): Session {
    checkStreamName(stream);
    let st = this.streams.get(stream);
    if (st && !st.orphaned) throw new HttpError(409, `stream "${stream}" already has a source`);
    if (st && !sameCodecs(st.codecs, src.codecs)) {
      this.endStream(st, 'source codecs changed');
      st = undefined;
    }
    const tracks = Object.entries(src.codecs) as [MediaKind, Codec][];
    const engineId = st?.engineId ?? this.engine.createStream();
    let added: { peerId: number; worker: number; port: number };
    try {
      added = this.engine.addPeer({
        role: 'pull',
        streamId: engineId,
        localUfrag: src.localUfrag,
        localPwd: src.localPwd,
        remoteUfrag: src.remoteUfrag,
        remotePwd: src.remotePwd,
        remoteIp: src.remoteIp,
        remotePort: src.remotePort,
        fingerprintAlgorithm: src.fingerprintAlgorithm,
        fingerprint: src.fingerprint,
        kindByPt: tracks.map(([kind, c]) => [c.payloadType, kind === 'audio' ? 0 : 1]),
        codecByPt: tracks.map(([, c]) => [c.payloadType, CODEC_IDS[c.name.toLowerCase()] ?? 0]),
        rembBps: PULL_REMB_BPS,
        rtcpSsrc: randomInt(1, 2 ** 32 - 1),
      });
    } catch (err) {
      if (!st) this.engine.closeStream(engineId);
      throw err;
    }
    const session = this.newSession('publisher', stream, added);
    if (st) {
      st.publisher = session;
      st.orphaned = false;
      this.log.info({ stream, session: session.id, peer: added.peerId }, 'relayed stream source restored');
    } else {
      this.streams.set(stream, { name: stream, engineId, publisher: session, codecs: src.codecs, viewers: new Map(), rids: [], layerBitrates: defaultLayerRates(1), relayed: true });
      this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker }, 'pull session started');
      this.emit('stream:start', { stream, session: session.id });
    }
    return session;
  }

  /** Relayed streams (fed by a pull), and whether each currently lacks its source. */
  relayedStreams(): { name: string; viewers: number; orphaned: boolean }[] {
    return [...this.streams.values()].filter((st) => st.relayed).map((st) => ({ name: st.name, viewers: st.viewers.size, orphaned: st.orphaned === true }));
  }

  /** Streams published here (their origin is this relay). */
  localStreams(): string[] {
    return [...this.streams.values()].filter((st) => !st.relayed).map((st) => st.name);
  }

  isRelayed(stream: string): boolean {
    return this.streams.get(stream)?.relayed === true;
  }

  /** Ends a stream and its viewers (a pull nobody watches any more, or whose source never came back). */
  closeStream(stream: string, reason: string): boolean {
    const st = this.streams.get(stream);
    if (!st) return false;
    this.endStream(st, reason, !st.orphaned);
    return true;
  }

  /** Says that a view of a stream that is not live here is waiting for it. */
  want(stream: string): void {
    this.emit('stream:wanted', { stream });
  }

  /** Ends a session by its resource URL parts; false when there is no such session. */
  end(role: SessionRole, stream: string, id: string): boolean {
    const st = this.streams.get(stream);
    if (!st) return false;
    if (role === 'publisher') {
      if (st.publisher.id !== id) return false;
      this.endStream(st, 'publisher left');
      return true;
    }
    const v = st.viewers.get(id);
    if (!v) return false;
    this.dropViewer(st, v, 'viewer left');
    return true;
  }

  onEngineEvents(events: EngineEvent[]): void {
    for (const ev of events) {
      const s = this.byPeer.get(ev.peerId);
      if (!s) continue;
      if (ev.type === 'connected') {
        s.connected = true;
        this.log.debug({ stream: s.stream, session: s.id, role: s.role }, 'peer connected');
        this.emit('peer:connected', { stream: s.stream, session: s.id, role: s.role });
      } else if (ev.type === 'feedback' && ev.feedback) {
        this.onFeedback(s, ev.feedback);
      } else if (ev.type === 'layers' && ev.layerBps) {
        this.onLayerRates(s, ev.layerBps);
      } else if (ev.type === 'closed') {
        const st = this.streams.get(s.stream);
        this.byPeer.delete(ev.peerId);
        if (!st) continue;
        const reason = ev.detail ?? 'closed';
        if (s.role === 'publisher' && st.publisher.id === s.id && st.relayed) {
          st.orphaned = true;
          st.publisher.connected = false;
          this.log.info({ stream: st.name, session: s.id, reason }, 'relayed stream lost its source');
          this.emit('source:lost', { stream: st.name, reason });
        } else if (s.role === 'publisher' && st.publisher.id === s.id && st.publisher.connected && this.options.republishGraceMs > 0) {
          this.awaitRepublish(st, reason);
        } else if (s.role === 'publisher' && st.publisher.id === s.id) this.endStream(st, reason, false);
        else if (s.role === 'viewer' && st.viewers.has(s.id)) this.dropViewer(st, s, reason, false);
      }
    }
  }

  /**
   * The publisher vanished (no DELETE): the viewers stay, told through `publisher:lost`, until a
   * publisher comes back within the grace time or it runs out.
   */
  private awaitRepublish(st: StreamState, reason: string): void {
    st.orphaned = true;
    st.publisher.connected = false;
    this.log.info({ stream: st.name, session: st.publisher.id, reason, graceMs: this.options.republishGraceMs }, 'publisher lost; waiting for it to return');
    this.emit('publisher:lost', { stream: st.name, reason });
    st.graceTimer = setTimeout(() => {
      if (this.streams.get(st.name) === st && st.orphaned) this.endStream(st, reason, false);
    }, this.options.republishGraceMs);
    st.graceTimer.unref();
  }

  /** Caps a viewer's simulcast layer (0 = lowest); undefined lifts the cap. False: no such viewer. */
  setViewerCap(stream: string, id: string, layer: number | undefined): boolean {
    const v = this.streams.get(stream)?.viewers.get(id);
    const policy = this.policies.get(id);
    if (!v) return false;
    if (!policy) return true;  // one layer: nothing to cap
    this.engine.setViewerLayer(v.peerId, policy.setCap(layer));
    return true;
  }

  /** A pinned layer (by rid) or a bit-rate ceiling becomes the policy's cap. */
  private applyPreferences(stream: string, id: string, p: ViewerPreferences): void {
    const st = this.streams.get(stream);
    if (!st || st.rids.length < 2) return;
    let cap: number | undefined;
    if (p.layer !== undefined && st.rids.includes(p.layer)) cap = st.rids.indexOf(p.layer);
    if (p.maxBitrate !== undefined) {
      let fit = 0;
      st.layerBitrates.forEach((rate, i) => {
        if (rate <= p.maxBitrate!) fit = i;
      });
      cap = cap === undefined ? fit : Math.min(cap, fit);
    }
    this.setViewerCap(stream, id, cap);
  }

  /** The layers a viewer can choose from, with their measured rates. */
  layers(stream: string): { id: string; bitrate: number; active: boolean }[] {
    const st = this.streams.get(stream);
    if (!st) return [];
    const ids = st.rids.length > 0 ? st.rids : ['default'];
    return ids.map((id, i) => ({ id, bitrate: Math.round(st.layerBitrates[i] ?? 0), active: (st.measured?.[i] ?? 1) > 0 }));
  }

  private onLayerRates(s: Session, bps: number[]): void {
    const st = this.streams.get(s.stream);
    if (!st || st.publisher.id !== s.id) return;
    st.measured = bps;
    // Smoothed, and a silent layer keeps its last rate: the policy needs a price for every layer.
    st.layerBitrates = st.layerBitrates.map((old, i) => {
      const now = bps[i] ?? 0;
      return now > 0 ? (st.measuredOnce ? old * 0.7 + now * 0.3 : now) : old;
    });
    if (bps.some((b) => b > 0)) st.measuredOnce = true;
    for (const v of st.viewers.values()) this.policies.get(v.id)?.setLayerBitrates(st.layerBitrates);
  }

  private onFeedback(s: Session, feedback: ViewerFeedback): void {
    s.feedback = feedback;
    let layer = feedback.layer;
    const policy = this.policies.get(s.id);
    if (policy) {
      const before = policy.current;
      layer = policy.update(feedback);
      if (layer !== before) {
        this.log.debug({ stream: s.stream, session: s.id, from: before, to: layer, feedback }, 'viewer layer changed');
        this.engine.setViewerLayer(s.peerId, layer);
      }
    }
    this.emit('viewer:feedback', { stream: s.stream, session: s.id, feedback, layer });
  }

  isLive(stream: string): boolean {
    return this.streams.has(stream);
  }

  viewerCount(stream: string): number {
    return this.streams.get(stream)?.viewers.size ?? 0;
  }

  /** Merges into a viewer's stored preferences and returns them; undefined when there is no such viewer. */
  select(stream: string, id: string, preferences: ViewerPreferences): ViewerPreferences | undefined {
    const v = this.streams.get(stream)?.viewers.get(id);
    if (!v) return undefined;
    v.preferences = { ...v.preferences, ...preferences };
    this.applyPreferences(stream, id, v.preferences);
    this.log.debug({ stream, session: id, preferences: v.preferences }, 'viewer preferences');
    this.emit('viewer:select', { stream, session: id, preferences: v.preferences });
    return v.preferences;
  }

  describeStream(name: string): StreamDetail | undefined {
    const st = this.streams.get(name);
    if (!st) return undefined;
    const info = (s: Session): SessionInfo => ({
      session: s.id,
      connected: s.connected,
      worker: s.worker,
      since: new Date(s.createdAt).toISOString(),
      ...(s.preferences ? { preferences: s.preferences } : {}),
    });
    return {
      name,
      publisher: info(st.publisher),
      codecs: (Object.entries(st.codecs) as [MediaKind, Codec][]).map(([kind, c]) => ({
        kind,
        name: c.name,
        payloadType: c.payloadType,
        clockRate: c.clockRate,
        ...(c.channels !== undefined ? { channels: c.channels } : {}),
        ...(c.fmtp !== undefined ? { fmtp: c.fmtp } : {}),
      })),
      viewers: [...st.viewers.values()].map(info),
    };
  }

  listStreams(): StreamSummary[] {
    return [...this.streams.values()].map((st) => ({
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

  closeAll(): void {
    for (const st of [...this.streams.values()]) this.endStream(st, 'relay closing');
  }

  /** The engine puts a new peer on its least loaded worker: refuse when even that one is full. */
  private assertWorkerRoom(): void {
    const max = this.options.maxPeersPerWorker ?? 0;
    if (max <= 0) return;
    const workers = this.engine.stats().workers;
    if (workers.length > 0 && Math.min(...workers.map((w) => w.peers)) >= max) {
      throw new HttpError(503, `every data-plane worker holds its limit of ${max} peers; try again later or another node`);
    }
  }

  private answer(role: SessionRole, offer: ParsedOffer, ice: IceParams, port: number, tracks: AnswerTrack[], stream: string): string {
    const candidates = this.announcedIps.map((ip) => ({ ip, port }));
    return buildAnswer({ role, offer, ice, fingerprint: this.engine.fingerprint, candidates, tracks, streamName: stream });
  }

  private newSession(role: SessionRole, stream: string, added: { peerId: number; worker: number }): Session {
    const s: Session = {
      id: randomBytes(12).toString('hex'),
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

  private dropViewer(st: StreamState, v: Session, reason: string, removeNative = true): void {
    st.viewers.delete(v.id);
    this.policies.delete(v.id);
    this.byPeer.delete(v.peerId);
    if (removeNative) this.engine.removePeer(v.peerId);
    this.log.info({ stream: st.name, session: v.id, reason }, 'viewer session ended');
    this.emit('viewer:leave', { stream: st.name, session: v.id, reason });
  }

  private endStream(st: StreamState, reason: string, removeNative = true): void {
    clearTimeout(st.graceTimer);
    for (const v of [...st.viewers.values()]) this.dropViewer(st, v, 'stream ended');
    this.byPeer.delete(st.publisher.peerId);
    if (removeNative && !st.orphaned) this.engine.removePeer(st.publisher.peerId);
    this.engine.closeStream(st.engineId);
    this.streams.delete(st.name);
    this.log.info({ stream: st.name, session: st.publisher.id, reason }, 'publisher session ended');
    this.emit('stream:stop', { stream: st.name, session: st.publisher.id, reason });
  }
}
