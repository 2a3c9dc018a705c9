// WebSocket signaling for one relay: its connections (connection.ts), which of them watch which
// stream, and the SessionManager events routed to them. ts/http/uws-websocket.ts binds it to
// uWebSockets.js. Sessions are the SessionManager's; a connection owns the sessions it started and
// ends them when it closes.
import type { Logger } from 'pino';
import type { Access } from '../access/access.js';
import type { SessionManager } from '../media/sessions.js';
import { SignalingConnection } from './connection.js';
import type { SignalingTransport } from './connection.js';
import type { LayerInfo } from './protocol.js';

export interface SignalingDeps {
  sessions: SessionManager;
  /** Tokens and limits, checked before a publish or view. */
  access: Access;
  log: Logger;
  maxMessageBytes: number;
  viewerCountIntervalMs: number;
  serverName: string;
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
    this.unsubscribe = d.sessions.subscribe({
      'stream:start': (e) => this.each(e.stream, (c) => c.streamStarted(e.stream)),
      'stream:stop': (e) => this.each(e.stream, (c) => c.streamStopped(e.stream, e.session, e.reason)),
      'viewer:join': (e) => this.countChanged(e.stream),
      'viewer:leave': (e) => {
        this.each(e.stream, (c) => c.viewerLeft(e.stream, e.session, e.reason));
        this.countChanged(e.stream);
      },
      // A vanished publisher's viewers wait for it: tell them it went, and that it came back.
      'publisher:lost': (e) => this.each(e.stream, (c) => c.publisherLost(e.stream)),
      'publisher:back': (e) => this.each(e.stream, (c) => c.publisherBack(e.stream)),
    });
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
