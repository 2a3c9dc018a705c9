// The events the SessionManager emits (and a relay re-emits to embedders), with their payloads.
import type { ViewerFeedback } from '../native.js';
import type { SessionRole, ViewerPreferences } from './streams.js';

export interface RelayEvents {
  'stream:start': [{ stream: string; session: string }];
  'stream:stop': [{ stream: string; session: string; reason: string }];
  'viewer:join': [{ stream: string; session: string }];
  'viewer:leave': [{ stream: string; session: string; reason: string }];
  'peer:connected': [{ stream: string; session: string; role: SessionRole }];
  /**
   * A viewer's first media packet left the data plane; `joinSeconds` from its offer's arrival
   * (WHEP POST or WebSocket view) to that packet (undefined when the arrival is not known).
   */
  'viewer:media': [{ stream: string; session: string; joinSeconds: number | undefined }];
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
  /**
   * A relayed stream became local: a publisher took it over here (origin failover) with its
   * viewers kept, after `publisher:back`. This node is now the stream's origin.
   */
  'stream:adopted': [{ stream: string; session: string }];
}

/** Listeners for several events at once (SessionManager.subscribe). */
export type SessionHandlers = { [K in keyof RelayEvents]?: (...args: RelayEvents[K]) => void };
