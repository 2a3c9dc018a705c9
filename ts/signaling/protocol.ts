// The WebSocket signaling protocol's messages (docs/websocket.md describes them for clients).
import { z } from 'zod';
import type { ViewerPreferences } from '../media/sessions.js';

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

// Unknown fields are ignored (not rejected) so that newer clients can talk to older relays.
const id = z.union([z.string().max(64), z.number().int()], { error: 'must be a string (up to 64 characters) or an integer' }).optional();
const stream = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(128, { error: 'must be at most 128 characters' });
const sdp = z.string({ error: 'must be a string holding an SDP offer' }).min(1, { error: 'must not be empty' });
const token = z.string({ error: 'must be a string' }).max(4096).optional();
const session = z.string({ error: 'must be a session id string' }).max(64).optional();

export const CLIENT_MESSAGES = {
  hello: z.object({ type: z.literal('hello'), id, version: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }), token }),
  publish: z.object({ type: z.literal('publish'), id, stream, sdp, token }),
  view: z.object({ type: z.literal('view'), id, stream, sdp, token }),
  select: z
    .object({
      type: z.literal('select'),
      id,
      session,
      layer: z.string({ error: 'must be a layer id string or null' }).min(1).max(32).nullable().optional(),
      maxBitrate: z.number({ error: 'must be a number (bits per second) or null' }).int().min(10_000, { error: 'must be at least 10000 bits per second' }).max(1e10).nullable().optional(),
    })
    .refine((m) => m.layer !== undefined || m.maxBitrate !== undefined, { error: 'select needs layer and/or maxBitrate' }),
  stop: z.object({ type: z.literal('stop'), id, session }),
} as const;

export type ClientMessageType = keyof typeof CLIENT_MESSAGES;
export type ClientMessage = { [K in ClientMessageType]: z.output<(typeof CLIENT_MESSAGES)[K]> }[ClientMessageType];

export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unknown_type'
  | 'too_large'
  | 'binary_not_supported'
  | 'hello_required'
  | 'unsupported_version'
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'not_acceptable'
  | 'limit'
  | 'unauthorized'
  | 'forbidden'
  | 'internal';

/** The error code a failed publish, view or select gets for an HTTP status (HttpError). */
export function errorCodeFor(status: number): ErrorCode {
  switch (status) {
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
      return status < 500 ? 'bad_request' : 'internal';
  }
}

type Id = string | number | undefined;

export interface LayerInfo {
  /** What `select` takes as `layer`; 'default' while streams carry a single layer. */
  id: string;
  codec: string;
  active: boolean;
  /** Measured bit/s of the layer (an assumed figure until media has flowed). */
  bitrate: number;
}

/** Every message the server sends. */
export type ServerMessage =
  | { type: 'hello'; id?: Id; version: number; server: string }
  | { type: 'answer'; id?: Id; role: 'publisher' | 'viewer'; stream: string; session: string; sdp: string }
  | { type: 'active'; stream: string }
  | { type: 'inactive'; id?: Id; stream: string }
  | { type: 'viewercount'; stream: string; viewers: number }
  | { type: 'layers'; stream: string; session: string; layers: LayerInfo[] }
  | { type: 'stopped'; stream: string; session: string | null; reason: string }
  | { type: 'ack'; id?: Id; for: 'select' | 'stop'; sessions: string[]; preferences?: ViewerPreferences }
  | { type: 'error'; id?: Id; code: ErrorCode; message: string };

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; id: Id; code: ErrorCode; message: string };

/** Parses one text frame; failures name what was wrong in a way a client developer can act on. */
export function parseClientMessage(text: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, id: undefined, code: 'bad_json', message: 'message is not valid JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, id: undefined, code: 'bad_message', message: 'message must be a JSON object with a "type"' };
  }
  const raw = data as Record<string, unknown>;
  const msgId = typeof raw.id === 'string' || typeof raw.id === 'number' ? raw.id : undefined;
  const type = raw.type;
  if (typeof type !== 'string' || !(type in CLIENT_MESSAGES)) {
    return { ok: false, id: msgId, code: 'unknown_type', message: `"type" must be one of ${Object.keys(CLIENT_MESSAGES).join(', ')} (got ${JSON.stringify(type) ?? 'nothing'})` };
  }
  const r = CLIENT_MESSAGES[type as ClientMessageType].safeParse(raw);
  if (r.success) return { ok: true, message: r.data as ClientMessage };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `"${issue.path.join('.')}" ` : '';
  return { ok: false, id: msgId, code: 'bad_message', message: `${type}: ${where}${issue?.message ?? 'invalid'}` };
}
