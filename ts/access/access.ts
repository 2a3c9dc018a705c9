import type { Logger } from 'pino';
import { createAuthorizer } from './auth.js';
import type { Authorizer, TokenAction } from './auth.js';
import { HttpError } from '../ops/errors.js';
import { clientKey, createRateLimiter } from './limits.js';
import { isPullCredential } from './pull-token.js';
import type { RateLimiter } from './limits.js';

export interface AccessOptions {
  /** HS256 secret for publish/view tokens (at least 32 bytes). */
  tokenSecret: string | undefined;
  /** ES256 public key (PEM) for publish/view tokens. */
  tokenPublicKey: string | undefined;
  /** New sessions per client address per second (0: unlimited); bursts of twice that pass. */
  sessionsPerIpPerSecond: number;
  /** Viewers one stream may have (0: unlimited); a token's maxViewers can only lower it. */
  maxViewersPerStream: number;
  /** Viewers this node takes in all (0: unlimited). */
  maxViewers: number;
}

export interface AdmitRequest {
  /** An Authorization header value (`Bearer <jwt>`) or a bare JWT. */
  authorization: string | undefined;
  origin: string | undefined;
  remoteAddress: string | undefined;
}

export interface Admission {
  /** The token allows replacing a live publisher of the stream. */
  takeover: boolean;
}

/** The viewer counts a view is checked against (media/'s SessionManager has them). */
export interface ViewerCounts {
  viewerCount(stream: string): number;
  counts(): { viewers: number };
}

/** Tokens, rates and capacity: everything checked before a session is created. */
export class Access {
  private readonly authorizer: Authorizer;
  private readonly rate: RateLimiter | undefined;

  constructor(
    private readonly o: AccessOptions,
    private readonly sessions: ViewerCounts,
  ) {
    this.authorizer = createAuthorizer({
      ...(o.tokenSecret !== undefined ? { secret: o.tokenSecret } : {}),
      ...(o.tokenPublicKey !== undefined ? { publicKey: o.tokenPublicKey } : {}),
    });
    this.rate = o.sessionsPerIpPerSecond > 0 ? createRateLimiter({ ratePerSec: o.sessionsPerIpPerSecond, burst: o.sessionsPerIpPerSecond * 2 }) : undefined;
  }

  /** No token key configured: anyone may publish and view. */
  get open(): boolean {
    return this.authorizer.open;
  }

  warnIfOpen(log: Logger): void {
    if (this.open) {
      log.warn('streams are OPEN: no token secret or public key is configured, so anyone who can reach this relay may publish and view (set --token-secret or --token-public-key)');
    }
  }

  /** Resolves when `action` on `stream` may go ahead; rejects with an HttpError that says why not. */
  async admit(action: TokenAction, stream: string, req: AdmitRequest): Promise<Admission> {
    // Rate first: it is the cheap check, and it also bounds how fast tokens can be guessed.
    if (this.rate && req.remoteAddress) this.rate.consume(clientKey(req.remoteAddress), 'new sessions');
    // Whatever its signature and even on open streams: a pull credential is for relays only.
    if (isPullCredential(req.authorization)) throw new HttpError(403, 'a pull credential is for relay-to-relay pulls; it is not a view or publish token');
    const auth = await this.authorizer.authorize(action, stream, req.authorization, req.origin);
    const claims = auth.mode === 'token' ? auth.claims : undefined;
    if (action === 'view') {
      const limits = [this.o.maxViewersPerStream, claims?.maxViewers ?? 0].filter((n) => n > 0);
      const perStream = limits.length > 0 ? Math.min(...limits) : 0;
      if (perStream > 0 && this.sessions.viewerCount(stream) >= perStream) {
        throw new HttpError(503, `stream "${stream}" has reached its viewer limit (${perStream})`);
      }
      if (this.o.maxViewers > 0 && this.sessions.counts().viewers >= this.o.maxViewers) {
        throw new HttpError(503, `this relay has reached its viewer limit (${this.o.maxViewers}); try another node`);
      }
    }
    return { takeover: (claims as { takeover?: unknown } | undefined)?.takeover === true };
  }
}
