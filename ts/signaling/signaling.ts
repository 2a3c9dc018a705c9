// WebSocket signaling: connection state and protocol logic, independent of the WebSocket server
// (ts/http/uws-websocket.ts binds it to uWebSockets.js). Sessions are the SessionManager's; a connection owns
// the sessions it started and ends them when it closes.
import type { Logger } from 'pino';
import { HttpError } from '../ops/errors.js';
import { parseOffer } from '../media/sdp.js';
import { checkStreamName } from '../media/sessions.js';
import type { Access, Admission } from '../access/access.js';
import type { SessionManager, SessionRole, ViewerPreferences } from '../media/sessions.js';
import { PROTOCOL_VERSION, SUPPORTED_VERSIONS, parseClientMessage } from './protocol.js';
import type { ClientMessage, ErrorCode, LayerInfo, ServerMessage } from './protocol.js';

export interface SignalingTransport {
  send(text: string): void;
  /** Closes the connection; the transport then reports it through SignalingConnection.closed(). */
  end(code: number, reason: string): void;
}

export interface SignalingDeps {
  sessions: SessionManager;
  /** Tokens and limits, checked before a publish or view. */
  access: Access;
  log: Logger;
  maxMessageBytes: number;
  viewerCountIntervalMs: number;
  serverName: string;
}

/** Sessions plus held view requests one connection may have at a time. */
const MAX_PER_CONNECTION = 16;

type Id = string | number | undefined;

interface HeldView {
  id: Id;
  stream: string;
  sdp: string;
  preferences?: ViewerPreferences;
}

function codeFor(err: HttpError): ErrorCode {
  switch (err.status) {
    case 404:
      return 'not_found';
    case 406:
      return 'not_acceptable';
    case 409:
      return 'conflict';
    case 413:
      return 'too_large';
    case 429:
    case 503:
      return 'limit';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    default:
      return err.status < 500 ? 'bad_request' : 'internal';
  }
}

export class SignalingConnection {
  private greeted = false;
  private token: string | undefined;
  private isClosed = false;
  private readonly owned = new Map<string, { role: SessionRole; stream: string }>();
  private held: HeldView[] = [];
  /** Streams this connection views and has been told are active. */
  private readonly told = new Set<string>();

  constructor(
    readonly id: number,
    private readonly server: Signaling,
    private readonly transport: SignalingTransport,
    private readonly remoteAddress: string,
  ) {}

  /** Number of sessions this connection owns (for leak checks and logs). */
  get sessionCount(): number {
    return this.owned.size;
  }

  receive(data: Buffer, isBinary: boolean): void {
    if (this.isClosed) return;
    const limit = this.server.d.maxMessageBytes;
    if (data.byteLength > limit) return this.error(undefined, 'too_large', `message larger than ${limit} bytes`);
    if (isBinary) return this.error(undefined, 'binary_not_supported', 'send JSON text frames');
    const parsed = parseClientMessage(data.toString('utf8'));
    if (!parsed.ok) return this.error(parsed.id, parsed.code, parsed.message);
    try {
      this.handle(parsed.message);
    } catch (err) {
      if (err instanceof HttpError) return this.error(parsed.message.id, codeFor(err), err.message);
      this.server.d.log.error({ err, connection: this.id }, 'signaling message failed');
      this.error(parsed.message.id, 'internal', 'internal error');
    }
  }

  /** The socket is gone: end every session it owns. */
  closed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.held = [];
    const sessions = this.owned.size;
    for (const [session, s] of [...this.owned]) this.server.d.sessions.end(s.role, s.stream, session);
    this.owned.clear();
    this.server.forget(this, sessions);
  }

  /** The relay is shutting down. */
  end(code: number, reason: string): void {
    if (!this.isClosed) this.transport.end(code, reason);
    this.closed();
  }

  private send(m: ServerMessage): void {
    if (!this.isClosed) this.transport.send(JSON.stringify(m));
  }

  private error(id: Id, code: ErrorCode, message: string): void {
    this.send({ type: 'error', ...(id !== undefined ? { id } : {}), code, message });
  }

  private handle(m: ClientMessage): void {
    const id = m.id;
    if (m.type === 'hello') {
      if (!SUPPORTED_VERSIONS.includes(m.version)) {
        return this.error(id, 'unsupported_version', `protocol version ${m.version} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
      }
      this.greeted = true;
      // A token in hello covers every publish/view on this connection that brings none of its own.
      if (m.token !== undefined) this.token = m.token;
      return this.send({ type: 'hello', ...(id !== undefined ? { id } : {}), version: PROTOCOL_VERSION, server: this.server.d.serverName });
    }
    if (!this.greeted) return this.error(id, 'hello_required', 'send {"type":"hello","version":1} first');
    switch (m.type) {
      case 'publish': {
        this.checkLimit();
        return this.afterAdmission(id, 'publish', m.stream, m.token, (ok) => {
          const r = this.server.d.sessions.publish(m.stream, m.sdp, ok.takeover);
          this.own(r.session.id, 'publisher', m.stream);
          this.send({ type: 'answer', ...(id !== undefined ? { id } : {}), role: 'publisher', stream: m.stream, session: r.session.id, sdp: r.answer });
        });
      }
      case 'view': {
        this.checkLimit();
        return this.afterAdmission(id, 'view', m.stream, m.token, () => this.view(id, m.stream, m.sdp));
      }
      case 'select':
        return this.select(id, m.session, m.layer, m.maxBitrate);
      case 'stop':
        return this.stop(id, m.session);
    }
  }

  /**
   * Token and limit checks are asynchronous (JWT verification); the message's work runs after
   * them, and its errors become error frames like those of any other message.
   */
  private afterAdmission(id: Id, action: 'publish' | 'view', stream: string, token: string | undefined, then: (ok: Admission) => void): void {
    const req = { authorization: token ?? this.token, origin: undefined, remoteAddress: this.remoteAddress };
    this.server.d.access.admit(action, stream, req).then(
      (ok) => {
        if (this.isClosed) return;
        try {
          then(ok);
        } catch (err) {
          this.fail(id, err);
        }
      },
      (err: unknown) => this.fail(id, err),
    );
  }

  private fail(id: Id, err: unknown): void {
    if (err instanceof HttpError) return this.error(id, codeFor(err), err.message);
    this.server.d.log.error({ err, connection: this.id }, 'signaling message failed');
    this.error(id, 'internal', 'internal error');
  }

  private view(id: Id, stream: string, sdp: string): void {
    const held: HeldView = { id, stream, sdp };
    if (this.server.d.sessions.isLive(stream)) return this.startView(held);
    // Not live yet: hold the offer and answer it when a publisher arrives. Whatever can be
    // checked without the publisher's codecs is checked now, so mistakes surface at once.
    checkStreamName(stream);
    parseOffer(sdp, 'viewer');
    this.held.push(held);
    this.server.watch(this, stream);
    // In a cluster the stream may live on another node: ask for it to be pulled here.
    this.server.d.sessions.want(stream);
    this.send({ type: 'inactive', ...(id !== undefined ? { id } : {}), stream });
  }

  private checkLimit(): void {
    if (this.owned.size + this.held.length >= MAX_PER_CONNECTION) {
      throw new HttpError(429, `a connection may hold at most ${MAX_PER_CONNECTION} sessions and waiting views`);
    }
  }

  private own(session: string, role: SessionRole, stream: string): void {
    this.owned.set(session, { role, stream });
    this.server.watch(this, stream);
  }

  private startView(h: HeldView): void {
    let r;
    try {
      r = this.server.d.sessions.view(h.stream, h.sdp);
    } catch (err) {
      this.refresh(h.stream);
      if (err instanceof HttpError) return this.error(h.id, codeFor(err), err.message);
      throw err;
    }
    const session = r.session.id;
    this.own(session, 'viewer', h.stream);
    if (h.preferences) this.server.d.sessions.select(h.stream, session, h.preferences);
    this.send({ type: 'answer', ...(h.id !== undefined ? { id: h.id } : {}), role: 'viewer', stream: h.stream, session, sdp: r.answer });
    this.told.add(h.stream);
    this.send({ type: 'active', stream: h.stream });
    this.send({ type: 'layers', stream: h.stream, session, layers: this.server.layers(h.stream) });
  }

  private select(id: Id, session: string | undefined, layer: string | null | undefined, maxBitrate: number | null | undefined): void {
    // null clears a preference (back to the relay's choice); undefined leaves it as it is.
    const prefs: ViewerPreferences = {};
    if (layer !== undefined) prefs.layer = layer ?? undefined;
    if (maxBitrate !== undefined) prefs.maxBitrate = maxBitrate ?? undefined;
    const viewers = [...this.owned].filter(([s, o]) => o.role === 'viewer' && (session === undefined || s === session));
    if (session !== undefined && viewers.length === 0) return this.error(id, 'not_found', `no viewer session ${session} on this connection`);
    if (viewers.length === 0 && this.held.length === 0) return this.error(id, 'not_found', 'this connection has no viewer session to select for');
    let merged: ViewerPreferences = prefs;
    for (const [s, o] of viewers) merged = this.server.d.sessions.select(o.stream, s, prefs) ?? merged;
    if (session === undefined) for (const h of this.held) h.preferences = { ...h.preferences, ...prefs };
    this.send({ type: 'ack', ...(id !== undefined ? { id } : {}), for: 'select', sessions: viewers.map(([s]) => s), preferences: merged });
  }

  private stop(id: Id, session: string | undefined): void {
    if (session !== undefined && !this.owned.has(session)) return this.error(id, 'not_found', `no session ${session} on this connection`);
    const targets = session === undefined ? [...this.owned] : [[session, this.owned.get(session)!] as const];
    if (session === undefined) {
      for (const h of this.held.splice(0)) {
        this.send({ type: 'stopped', stream: h.stream, session: null, reason: 'stopped' });
        this.refresh(h.stream);
      }
    }
    // end() reports back through viewerLeft/streamStopped, which send the `stopped` events.
    for (const [s, o] of targets) this.server.d.sessions.end(o.role, o.stream, s);
    this.send({ type: 'ack', ...(id !== undefined ? { id } : {}), for: 'stop', sessions: targets.map(([s]) => s) });
  }

  /** Watches `stream` while this connection still has a session or a held view of it. */
  private refresh(stream: string): void {
    const any = this.held.some((h) => h.stream === stream) || [...this.owned.values()].some((o) => o.stream === stream);
    if (!any) {
      this.told.delete(stream);
      this.server.unwatch(this, stream);
    }
  }

  hasSessionOf(stream: string): boolean {
    return [...this.owned.values()].some((o) => o.stream === stream);
  }

  // Events from the SessionManager, routed here by Signaling for the streams this connection watches.

  streamStarted(stream: string): void {
    if (!this.held.some((h) => h.stream === stream)) return;
    // Deferred: the publisher's own publish() call is still on the stack.
    setImmediate(() => {
      if (this.isClosed) return;
      const ready = this.held.filter((h) => h.stream === stream);
      this.held = this.held.filter((h) => h.stream !== stream);
      for (const h of ready) {
        if (!this.server.d.sessions.isLive(stream)) {
          this.held.push(h); // the publisher left again before we got here
          continue;
        }
        this.startView(h);
      }
    });
  }

  /** A stream event for a connection that watches the stream. */
  notify(m: ServerMessage): void {
    this.send(m);
  }

  streamStopped(stream: string, session: string, reason: string): void {
    if (this.owned.get(session)?.role === 'publisher') {
      this.owned.delete(session);
      this.send({ type: 'stopped', stream, session, reason });
      this.refresh(stream);
      return;
    }
    this.inactive(stream);
  }

  viewerLeft(stream: string, session: string, reason: string): void {
    if (!this.owned.has(session)) return;
    // The stream ending takes its viewers first: say why before saying the session stopped.
    if (reason === 'stream ended') this.inactive(stream);
    this.owned.delete(session);
    this.send({ type: 'stopped', stream, session, reason });
    this.refresh(stream);
  }

  viewerCount(stream: string, viewers: number): void {
    this.send({ type: 'viewercount', stream, viewers });
  }

  private inactive(stream: string): void {
    if (!this.told.delete(stream)) return;
    this.send({ type: 'inactive', stream });
  }
}

/** All signaling connections of one relay, fed by the SessionManager's events. */
export class Signaling {
  private readonly connections = new Set<SignalingConnection>();
  private readonly watchers = new Map<string, Set<SignalingConnection>>();
  private readonly countTimers = new Map<string, { last: number; timer: NodeJS.Timeout | undefined }>();
  private nextId = 1;
  private isClosed = false;
  private readonly unsubscribe: () => void;

  constructor(readonly d: SignalingDeps) {
    const sm = d.sessions;
    const onStart = (e: { stream: string }): void => this.each(e.stream, (c) => c.streamStarted(e.stream));
    const onStop = (e: { stream: string; session: string; reason: string }): void => this.each(e.stream, (c) => c.streamStopped(e.stream, e.session, e.reason));
    const onJoin = (e: { stream: string }): void => this.countChanged(e.stream);
    const onLeave = (e: { stream: string; session: string; reason: string }): void => {
      this.each(e.stream, (c) => c.viewerLeft(e.stream, e.session, e.reason));
      this.countChanged(e.stream);
    };
    // A vanished publisher's viewers wait for it: tell them it went, and that it came back.
    const onLost = (e: { stream: string }): void => this.each(e.stream, (c) => c.notify({ type: 'inactive', stream: e.stream }));
    const onBack = (e: { stream: string }): void => this.each(e.stream, (c) => c.notify({ type: 'active', stream: e.stream }));
    sm.on('stream:start', onStart);
    sm.on('stream:stop', onStop);
    sm.on('viewer:join', onJoin);
    sm.on('viewer:leave', onLeave);
    sm.on('publisher:lost', onLost);
    sm.on('publisher:back', onBack);
    this.unsubscribe = () => {
      sm.off('stream:start', onStart);
      sm.off('stream:stop', onStop);
      sm.off('viewer:join', onJoin);
      sm.off('viewer:leave', onLeave);
      sm.off('publisher:lost', onLost);
      sm.off('publisher:back', onBack);
    };
  }

  get size(): number {
    return this.connections.size;
  }

  connect(transport: SignalingTransport, remoteAddress: string): SignalingConnection {
    const c = new SignalingConnection(this.nextId++, this, transport, remoteAddress);
    if (this.isClosed) {
      // A foreign uWS app may still accept /ws after relay.close(): turn the connection away.
      transport.end(1001, 'relay closed');
      return c;
    }
    this.connections.add(c);
    this.d.log.debug({ connection: c.id, remoteAddress }, 'signaling connection opened');
    this.d.sessions.emit('signaling:open', { connection: c.id, remoteAddress });
    return c;
  }

  /** Closes every connection (ending their sessions) and stops listening to the SessionManager. */
  close(): void {
    this.isClosed = true;
    for (const c of [...this.connections]) c.end(1001, 'relay closing');
    for (const t of this.countTimers.values()) clearTimeout(t.timer);
    this.countTimers.clear();
    this.unsubscribe();
  }

  watch(c: SignalingConnection, stream: string): void {
    let set = this.watchers.get(stream);
    if (!set) this.watchers.set(stream, (set = new Set()));
    set.add(c);
  }

  unwatch(c: SignalingConnection, stream: string): void {
    const set = this.watchers.get(stream);
    if (!set) return;
    set.delete(c);
    if (set.size === 0) this.watchers.delete(stream);
  }

  forget(c: SignalingConnection, sessions: number): void {
    this.connections.delete(c);
    for (const stream of [...this.watchers.keys()]) this.unwatch(c, stream);
    this.d.log.debug({ connection: c.id, sessions }, 'signaling connection closed');
    this.d.sessions.emit('signaling:close', { connection: c.id, sessions });
  }

  /** What a viewer of `stream` can choose from: its simulcast layers ('default' without simulcast). */
  layers(stream: string): LayerInfo[] {
    const codec = this.d.sessions.describeStream(stream)?.codecs.find((c) => c.kind === 'video');
    if (!codec) return [];
    return this.d.sessions.layers(stream).map((l) => ({ id: l.id, codec: codec.name, active: l.active, bitrate: l.bitrate }));
  }

  private each(stream: string, fn: (c: SignalingConnection) => void): void {
    const set = this.watchers.get(stream);
    if (set) for (const c of [...set]) fn(c);
  }

  /** Viewer counts go out at most once per interval per stream, and never inside the call that changed them. */
  private countChanged(stream: string): void {
    let t = this.countTimers.get(stream);
    if (!t) this.countTimers.set(stream, (t = { last: 0, timer: undefined }));
    if (t.timer) return;
    const entry = t;
    const delay = Math.max(0, entry.last + this.d.viewerCountIntervalMs - Date.now());
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.last = Date.now();
      const viewers = this.d.sessions.viewerCount(stream);
      this.each(stream, (c) => {
        if (c.hasSessionOf(stream)) c.viewerCount(stream, viewers);
      });
      // Forget quiet streams so the map does not grow with every stream name ever seen.
      if (!this.d.sessions.isLive(stream)) this.countTimers.delete(stream);
    }, delay);
  }
}
