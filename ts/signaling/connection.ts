// One WebSocket signaling connection: the protocol's state machine (hello, publish, view, select,
// stop), the sessions it owns (ended when it closes) and the views it holds until a stream goes
// live. Independent of the WebSocket server: a SignalingTransport carries its frames.
import { HttpError } from '../ops/errors.js';
import { parseOffer } from '../media/sdp.js';
import { checkStreamName } from '../media/streams.js';
import type { Admission } from '../access/access.js';
import type { SessionRole, ViewerPreferences } from '../media/sessions.js';
import { PROTOCOL_VERSION, SUPPORTED_VERSIONS, errorCodeFor, parseClientMessage } from './protocol.js';
import type { ClientMessage, ErrorCode, ServerMessage } from './protocol.js';
import type { Signaling } from './signaling.js';
import { monotonicMs } from '../native.js';

export interface SignalingTransport {
  send(text: string): void;
  /** Closes the connection; the transport then reports it through SignalingConnection.closed(). */
  end(code: number, reason: string): void;
}

/** Sessions plus held view requests one connection may have at a time. */
const MAX_PER_CONNECTION = 16;

type Id = string | number | undefined;

interface HeldView {
  id: Id;
  stream: string;
  sdp: string;
  preferences?: ViewerPreferences;
  /** When the view request arrived (monotonicMs()); a held view's join time starts when its stream goes live. */
  requestedAtMs?: number;
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
      if (err instanceof HttpError) return this.error(parsed.message.id, errorCodeFor(err.status), err.message);
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
        const arrivedAtMs = monotonicMs();
        return this.afterAdmission(id, 'view', m.stream, m.token, () => this.view(id, m.stream, m.sdp, arrivedAtMs));
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
    if (err instanceof HttpError) return this.error(id, errorCodeFor(err.status), err.message);
    this.server.d.log.error({ err, connection: this.id }, 'signaling message failed');
    this.error(id, 'internal', 'internal error');
  }

  private view(id: Id, stream: string, sdp: string, requestedAtMs: number): void {
    const held: HeldView = { id, stream, sdp };
    if (this.server.d.sessions.isLive(stream)) return this.startView({ ...held, requestedAtMs });
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
      r = this.server.d.sessions.view(h.stream, h.sdp, h.requestedAtMs ?? monotonicMs());
    } catch (err) {
      this.refresh(h.stream);
      if (err instanceof HttpError) return this.error(h.id, errorCodeFor(err.status), err.message);
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

  /**
   * The stream's publisher vanished and its viewers wait for it: `inactive`, once; the stream
   * ending at the end of the grace does not say it again.
   */
  publisherLost(stream: string): void {
    this.inactive(stream);
  }

  /** It came back within the grace: `active` again. */
  publisherBack(stream: string): void {
    if (this.told.has(stream)) return;
    this.told.add(stream);
    this.send({ type: 'active', stream });
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

