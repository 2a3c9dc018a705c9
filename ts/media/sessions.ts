// The SessionManager: every change to streams, publishers and viewers goes through it, and it
// emits the typed events signaling, metrics, the cluster and embedders listen to. What a
// publisher's or a viewer's offer means is in publisher.ts and viewer.ts; the state and what can
// be read from it in streams.ts.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { EngineEvent, NativeEngine, PeerConfig, ViewerFeedback } from '../native.js';
import { HttpError } from '../ops/errors.js';
import { LayerPolicy } from './policy.js';
import { SvcPolicies } from './svc-policy.js';
import { measureLayers, planPublisher, pullPeer } from './publisher.js';
import type { PullSource } from './publisher.js';
import { cnameFor, newIceParams } from './answer.js';
import { buildViewerAnswer } from './answer-cache.js';
import type { AnswerTrack, IceParams } from './answer.js';
import { parseOffer } from './sdp.js';
import type { ParsedOffer } from './sdp.js';
import { StreamBook, checkStreamName, defaultLayerRates, ptRemap, sameCodecs, sameFormats } from './streams.js';
import type { Ingress, Session, SessionRole, StreamCodecs, StreamDetail, StreamState, StreamSummary, ViewerPreferences } from './streams.js';
import { layerCap, planViewer } from './viewer.js';
import type { RelayEvents, SessionHandlers } from './session-events.js';

export type { PullSource } from './publisher.js';
export type { RelayEvents, SessionHandlers } from './session-events.js';
export type { CodecInfo, Session, SessionInfo, SessionRole, StreamDetail, StreamSummary, ViewerPreferences } from './streams.js';

export interface SessionOptions {
  /** How long a stream whose publisher vanished keeps its viewers waiting for a republish, ms (0: end at once). */
  republishGraceMs: number;
  /** Peers one data-plane worker may hold (0: unlimited); new sessions get 503 when all are full. */
  maxPeersPerWorker?: number;
  /** Ceiling on one publisher's bit rate, kbit/s (default 20000): REMB and the answer's b=AS / b=TIAS. */
  maxPublishKbps?: number;
}

export interface OfferResult {
  session: Session;
  answer: string;
}

type AddedPeer = { peerId: number; worker: number; port: number; tcpPort: number };

/** Streams, publishers and viewers: the control plane's state, driving the native engine. */
export class SessionManager extends EventEmitter<RelayEvents> {
  private readonly book = new StreamBook();
  private readonly policies = new Map<string, LayerPolicy>();
  private readonly svc = new SvcPolicies();  // VP8/VP9 layers of single-encoding streams

  constructor(
    private readonly engine: NativeEngine,
    private readonly announcedIps: string[],
    private readonly log: Logger,
    private readonly options: SessionOptions = { republishGraceMs: 0, maxPeersPerWorker: 0 },
  ) {
    super();
  }

  /** Listens to several events at once; returns the function that removes every one of those listeners. */
  subscribe(handlers: SessionHandlers): () => void {
    const listeners = Object.entries(handlers) as [keyof RelayEvents, (...args: never[]) => void][];
    for (const [event, listener] of listeners) this.on(event, listener as never);
    return () => {
      for (const [event, listener] of listeners) this.off(event, listener as never);
    };
  }

  /**
   * A WHIP publisher. A stream whose publisher vanished within `republishGraceMs`, one whose
   * publisher a `takeover` replaces, and a relayed stream whose pull lost its source (origin
   * failover: the stream becomes local, `stream:adopted`) keep their viewers when the new
   * publisher sends the same formats (its payload types are rewritten to the stream's): they
   * switch to it at its first keyframe with their sequence numbers and timestamps running on.
   * Otherwise a live stream is a 409.
   */
  publish(stream: string, sdp: string, takeover = false): OfferResult {
    checkStreamName(stream);
    this.assertWorkerRoom();
    const existing = this.book.get(stream);
    // A stream whose source is gone (a relayed one too: origin failover) may be published here.
    const waiting = existing !== undefined && existing.orphaned === true;
    if (existing && !takeover && !waiting) throw new HttpError(409, `stream "${stream}" already has a publisher`);
    const offer = parseOffer(sdp, 'publisher');
    const plan = planPublisher(offer, (this.options.maxPublishKbps ?? 20_000) * 1000);
    // The viewers' answers fixed the formats; the data plane maps the new source's payload types.
    const keep = existing !== undefined && sameFormats(existing.codecs, plan.codecs) && existing.rids.join(',') === plan.rids.join(',');
    if (keep) plan.peer.streamPtByPt = ptRemap(existing.codecs, plan.codecs);
    if (existing && !keep) {
      this.endStream(existing, existing.relayed ? 'published here after its source was lost' : waiting ? 'republished with other codecs' : 'taken over by a new publisher');
    } else if (existing && keep && !waiting) {
      this.log.info({ stream, session: existing.publisher.id }, 'publisher taken over');
      this.book.untrack(existing.publisher.peerId);
      this.engine.removePeer(existing.publisher.peerId);
    }
    const reuse = keep ? existing : undefined;
    const ice = newIceParams();
    const engineId = reuse?.engineId ?? this.engine.createStream();
    let added: AddedPeer;
    try {
      added = this.addPeer({ ...this.answering('publisher', engineId, ice, offer), ...plan.peer });
    } catch (err) {
      if (reuse) this.endStream(reuse, 'republish failed', false);
      else this.engine.closeStream(engineId);
      throw err;
    }
    const session = this.book.newSession('publisher', stream, added);
    const answer = this.answer('publisher', offer, ice, added, plan.tracks, stream);
    if (reuse) {
      clearTimeout(reuse.graceTimer);
      reuse.graceTimer = undefined;
      reuse.publisher = session;
      reuse.orphaned = false;
      const adopted = reuse.relayed === true;
      delete reuse.relayed;
      this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker, viewers: reuse.viewers.size, adopted }, 'publisher session resumed the stream');
      this.emit('publisher:back', { stream, session: session.id });
      if (adopted) this.emit('stream:adopted', { stream, session: session.id });
    } else {
      const { codecs, rids } = plan;
      this.book.add({ name: stream, engineId, publisher: session, codecs, viewers: new Map(), rids, layerBitrates: defaultLayerRates(Math.max(1, rids.length)) });
      this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker, codecs: plan.tracks.map((t) => t.codec.name) }, 'publisher session started');
      this.emit('stream:start', { stream, session: session.id });
    }
    return { session, answer };
  }

  /** A viewer; `requestedAtMs` (monotonicMs()): when its offer arrived; `layered`: a pull taking every layer (planViewer). */
  view(stream: string, sdp: string, requestedAtMs?: number, layered = false): OfferResult {
    checkStreamName(stream);
    this.assertWorkerRoom();
    const st = this.book.get(stream);
    if (!st) throw new HttpError(404, `stream "${stream}" is not live`);
    const offer = parseOffer(sdp, 'viewer');
    const plan = planViewer(offer, st, layered);
    const ice = newIceParams();
    const added = this.addPeer({ ...this.answering('viewer', st.engineId, ice, offer), ...plan.peer });
    const session = this.book.newSession('viewer', stream, added);
    if (requestedAtMs !== undefined) session.requestedAtMs = requestedAtMs;
    if (layered) session.wholeStream = true;
    st.viewers.set(session.id, session);
    if (st.layerBitrates.length > 1 && !plan.peer.layerSsrcs) this.policies.set(session.id, new LayerPolicy({ layerBitrates: st.layerBitrates }));
    const answer = this.answer('viewer', offer, ice, added, plan.tracks, stream);
    this.log.info({ stream, session: session.id, peer: added.peerId, worker: added.worker }, 'viewer session started');
    this.emit('viewer:join', { stream, session: session.id });
    return { session, answer };
  }

  /**
   * Feeds `stream` from another relay: a new local stream, or a new source for an orphaned
   * relayed one whose viewers stayed (same codecs required, or the stream starts over).
   */
  attachPull(stream: string, src: PullSource): Session {
    const held = this.book.get(stream);
    if (held && !held.orphaned) throw new HttpError(409, `stream "${stream}" already has a source`);
    const { session, resumed } = this.attachSource(stream, src.codecs, (engineId) => pullPeer(engineId, src), true, 'source codecs changed', src.layers?.rids);
    if (resumed) {
      this.log.info({ stream, session: session.id, peer: session.peerId }, 'relayed stream source restored');
    } else {
      this.log.info({ stream, session: session.id, peer: session.peerId, worker: session.worker }, 'pull session started');
      this.emit('stream:start', { stream, session: session.id });
    }
    return session;
  }

  /**
   * Detaches the pull feeding a relayed stream whose upstream is known to be gone (the cluster
   * registry says so long before consent would): the viewers stay, `source:lost` is emitted as
   * when the data plane closes it. False when the stream is not a connected relayed one.
   */
  dropPull(stream: string, reason: string): boolean {
    const st = this.book.get(stream);
    if (!st || !st.relayed || st.orphaned) return false;
    this.book.untrack(st.publisher.peerId);
    this.engine.removePeer(st.publisher.peerId);
    st.orphaned = true;
    st.publisher.connected = false;
    this.log.info({ stream, session: st.publisher.id, reason }, 'relayed stream lost its source');
    this.emit('source:lost', { stream, reason });
    return true;
  }

  /**
   * Feeds `stream` from one of the relay's own child processes (RTMP, SRT, RTSP ingest): a local
   * stream like a WHIP publisher's, with its republish grace (an orphaned stream with the same
   * codecs keeps its viewers). `peer` is the native ingest peer (see ingestPeer).
   */
  attachIngest(stream: string, codecs: StreamCodecs, peer: Omit<PeerConfig, 'streamId'>): Session {
    this.assertWorkerRoom();
    const held = this.book.get(stream);
    if (held && (!held.orphaned || held.relayed)) throw new HttpError(409, `stream "${stream}" already has a publisher`);
    const { session, resumed } = this.attachSource(stream, codecs, (engineId) => ({ ...peer, streamId: engineId }), false, 'republished with other codecs');
    this.emit(resumed ? 'publisher:back' : 'stream:start', { stream, session: session.id });
    this.log.info({ stream, session: session.id, peer: session.peerId, worker: session.worker, resumed }, 'ingest session started');
    return session;
  }

  /**
   * A source that is not a WHIP publisher (a pull, an ingest child) for `stream`: it takes over an
   * orphaned stream with the same codecs (the viewers stay; the caller has refused the streams it
   * may not take) or starts a new one.
   */
  private attachSource(stream: string, codecs: StreamCodecs, peerFor: (engineId: number) => PeerConfig, relayed: boolean, codecsChanged: string, rids: string[] = []): { session: Session; resumed: boolean } {
    checkStreamName(stream);
    let st = this.book.get(stream);
    if (st && (!sameCodecs(st.codecs, codecs) || st.rids.join() !== rids.join())) {
      this.endStream(st, codecsChanged);
      st = undefined;
    }
    const engineId = st?.engineId ?? this.engine.createStream();
    let added: AddedPeer;
    try {
      added = this.addPeer(peerFor(engineId));
    } catch (err) {
      if (!st) this.engine.closeStream(engineId);
      throw err;
    }
    const session = this.book.newSession('publisher', stream, added);
    if (st) {
      if (!relayed) {
        clearTimeout(st.graceTimer);
        st.graceTimer = undefined;
      }
      st.publisher = session;
      st.orphaned = false;
    } else {
      this.book.add({ name: stream, engineId, publisher: session, codecs, viewers: new Map(), rids: [...rids], layerBitrates: defaultLayerRates(Math.max(1, rids.length)), ...(relayed ? { relayed: true } : {}) });
    }
    return { session, resumed: st !== undefined };
  }

  /** Ends a stream and its viewers (a pull nobody watches any more, or whose source never came back). */
  closeStream(stream: string, reason: string): boolean {
    const st = this.book.get(stream);
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
    const st = this.book.get(stream);
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
      if (ev.type === 'tcp-rejected') {
        this.log.warn({ reason: ev.detail }, 'ICE-TCP connection closed (logged once per burst; counts in /metrics)');
        continue;
      }
      const s = this.book.byPeerId(ev.peerId);
      if (!s) continue;
      if (ev.type === 'connected') {
        s.connected = true;
        this.log.debug({ stream: s.stream, session: s.id, role: s.role }, 'peer connected');
        this.emit('peer:connected', { stream: s.stream, session: s.id, role: s.role });
      } else if (ev.type === 'first-media' && s.role === 'viewer') {
        const joinSeconds = s.requestedAtMs !== undefined && ev.atMs !== undefined ? Math.max(0, ev.atMs - s.requestedAtMs) / 1000 : undefined;
        this.emit('viewer:media', { stream: s.stream, session: s.id, joinSeconds });
      } else if (ev.type === 'feedback' && ev.feedback) {
        this.onFeedback(s, ev.feedback);
      } else if (ev.type === 'layers' && ev.layerBps) {
        this.onLayerRates(s, ev.layerBps, { layerBps: ev.layerBps, layerSsrc: ev.layerSsrc ?? [], audioBps: ev.audioBps ?? 0 });
      } else if (ev.type === 'closed') {
        this.onPeerClosed(s, ev.detail ?? 'closed');
      }
    }
  }

  /** The data plane closed a session's peer (DTLS close, consent lost, connect timeout). */
  private onPeerClosed(s: Session, reason: string): void {
    const st = this.book.get(s.stream);
    this.book.untrack(s.peerId);
    if (!st) return;
    const isSource = s.role === 'publisher' && st.publisher.id === s.id;
    if (isSource && st.relayed) {
      st.orphaned = true;
      st.publisher.connected = false;
      this.log.info({ stream: st.name, session: s.id, reason }, 'relayed stream lost its source');
      this.emit('source:lost', { stream: st.name, reason });
    } else if (isSource && st.publisher.connected && this.options.republishGraceMs > 0) {
      this.awaitRepublish(st, reason);
    } else if (isSource) this.endStream(st, reason, false);
    else if (s.role === 'viewer' && st.viewers.has(s.id)) this.dropViewer(st, s, reason, false);
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
      if (this.book.get(st.name) === st && st.orphaned) this.endStream(st, reason, false);
    }, this.options.republishGraceMs);
    st.graceTimer.unref();
  }

  /** Caps a viewer's simulcast layer (0 = lowest); undefined lifts the cap. False: no such viewer. */
  setViewerCap(stream: string, id: string, layer: number | undefined): boolean {
    const v = this.book.get(stream)?.viewers.get(id);
    const policy = this.policies.get(id);
    if (!v) return false;
    if (!policy) return true;  // one layer: nothing to cap
    this.engine.setViewerLayer(v.peerId, policy.setCap(layer));
    return true;
  }

  private onLayerRates(s: Session, bps: number[], ingress: Ingress): void {
    const st = this.book.get(s.stream);
    if (!st || st.publisher.id !== s.id) return;
    st.ingress = ingress;
    measureLayers(st, bps);
    for (const v of st.viewers.values()) this.policies.get(v.id)?.setLayerBitrates(st.layerBitrates);
  }

  /**
   * A viewer's summary from the data plane (every feedbackIntervalMs, and at once when its
   * transport-cc estimate falls below the layer it gets): loss, RTT, REMB and, when it
   * negotiated transport-cc, the relay's own estimate, which the policy prefers to REMB.
   */
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
    } else if (!s.wholeStream) {
      // A pull forwards VP8/VP9 SVC whole: the edge's own viewers get their layers there.
      this.svc.apply(this.engine, s, feedback, this.book.get(s.stream)?.layerBitrates[0] ?? 0);
    }
    this.emit('viewer:feedback', { stream: s.stream, session: s.id, feedback, layer });
  }

  /** Merges into a viewer's stored preferences and returns them; undefined when there is no such viewer. */
  select(stream: string, id: string, preferences: ViewerPreferences): ViewerPreferences | undefined {
    const st = this.book.get(stream);
    const v = st?.viewers.get(id);
    if (!st || !v) return undefined;
    v.preferences = { ...v.preferences, ...preferences };
    // A pinned layer or a bit-rate ceiling becomes the policy's cap.
    if (st.rids.length >= 2) this.setViewerCap(stream, id, layerCap(st, v.preferences));
    this.log.debug({ stream, session: id, preferences: v.preferences }, 'viewer preferences');
    this.emit('viewer:select', { stream, session: id, preferences: v.preferences });
    return v.preferences;
  }

  // What can be read: the StreamBook's.
  readonly isLive = (stream: string): boolean => this.book.isLive(stream);
  readonly isRelayed = (stream: string): boolean => this.book.isRelayed(stream);
  readonly viewerCount = (stream: string): number => this.book.viewerCount(stream);
  /** Relayed streams (fed by a pull), and whether each currently lacks its source. */
  readonly relayedStreams = (): { name: string; viewers: number; orphaned: boolean }[] => this.book.relayedStreams();
  /** Streams published here (their origin is this relay). */
  readonly localStreams = (): string[] => this.book.localStreams();
  /** The layers a viewer can choose from, with their measured rates. */
  readonly layers = (stream: string): { id: string; bitrate: number; active: boolean }[] => this.book.layers(stream);
  /** Every live stream's ingress per layer and audio, kbit/s (for /metrics). */
  readonly ingressRates = (): { stream: string; layer: string; kbps: number }[] => this.book.ingressRates();
  readonly describeStream = (name: string): StreamDetail | undefined => this.book.describeStream(name);
  readonly listStreams = (): StreamSummary[] => this.book.listStreams();
  /** `publishers` counts publishers whose ICE and DTLS completed; `sessions` every session held. */
  readonly counts = (): { streams: number; publishers: number; viewers: number; sessions: number } => this.book.counts();

  closeAll(): void {
    for (const st of this.book.all()) this.endStream(st, 'relay closing');
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

  /**
   * The peer fields of a session the relay answers an offer for: ICE-lite, the DTLS role of
   * RFC 8842 §5 (client when the offer said a=setup:passive), reduced-size RTCP when offered.
   */
  private answering(role: SessionRole, streamId: number, ice: IceParams, offer: ParsedOffer): PeerConfig {
    const { iceUfrag: remoteUfrag, fingerprintAlgorithm, fingerprint, rtcpRsize } = offer;
    const dtlsClient = offer.dtlsSetup === 'passive';
    return { role, streamId, localUfrag: ice.ufrag, localPwd: ice.pwd, remoteUfrag, fingerprintAlgorithm, fingerprint, dtlsClient, rtcpRsize, cname: cnameFor(ice) };
  }

  private addPeer(config: PeerConfig): AddedPeer {
    return this.engine.addPeer({ ...config, rtcpSsrc: randomInt(1, 2 ** 32 - 1) });
  }

  private answer(role: SessionRole, offer: ParsedOffer, ice: IceParams, added: AddedPeer, tracks: AnswerTrack[], stream: string): string {
    // Every announced IP (IPv4 and IPv6) on UDP, then the same on ICE-TCP when it is on.
    const candidates = this.announcedIps.map((ip) => ({ ip, port: added.port }));
    if (added.tcpPort > 0) candidates.push(...this.announcedIps.map((ip) => ({ ip, port: added.tcpPort, tcp: true })));
    return buildViewerAnswer({ role, offer, ice, fingerprint: this.engine.fingerprint, candidates, tracks, streamName: stream });
  }

  private dropViewer(st: StreamState, v: Session, reason: string, removeNative = true): void {
    st.viewers.delete(v.id);
    this.policies.delete(v.id);
    this.svc.forget(v.id);
    this.book.untrack(v.peerId);
    if (removeNative) this.engine.removePeer(v.peerId);
    this.log.info({ stream: st.name, session: v.id, reason }, 'viewer session ended');
    this.emit('viewer:leave', { stream: st.name, session: v.id, reason });
  }

  private endStream(st: StreamState, reason: string, removeNative = true): void {
    clearTimeout(st.graceTimer);
    for (const v of [...st.viewers.values()]) this.dropViewer(st, v, 'stream ended');
    this.book.untrack(st.publisher.peerId);
    if (removeNative && !st.orphaned) this.engine.removePeer(st.publisher.peerId);
    this.engine.closeStream(st.engineId);
    this.book.remove(st);
    this.log.info({ stream: st.name, session: st.publisher.id, reason }, 'publisher session ended');
    this.emit('stream:stop', { stream: st.name, session: st.publisher.id, reason });
  }
}
