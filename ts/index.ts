export { createRelay } from './relay.js';
export type { Relay, RelayStats } from './relay.js';
export type { RelayOptions } from './options.js';
export { DEFAULTS } from './options.js';
export type { RelayEvents, Session, SessionRole } from './sessions.js';
export { HttpError } from './errors.js';
