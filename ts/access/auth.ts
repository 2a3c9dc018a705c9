import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import { HttpError } from '../ops/errors.js';

export type TokenAction = 'publish' | 'view';

/** The claims halfsec reads from a publish/view token (beyond the registered ones). */
export interface StreamTokenClaims extends JWTPayload {
  /** Stream name, or a pattern: `*` any run of characters but `/`, `**` any run, `?` one character but `/`. */
  stream: string;
  /** What the token allows. */
  action: TokenAction | TokenAction[];
  /** Browser origins allowed to use the token (exact `scheme://host[:port]`, or `*.` for subdomains). */
  origins?: string[];
  /** Most viewers the stream may have (for the server to enforce: the authorizer cannot count). */
  maxViewers?: number;
}

export type AuthResult =
  | { mode: 'open'; action: TokenAction; stream: string }
  | { mode: 'token'; action: TokenAction; stream: string; claims: StreamTokenClaims };

export interface AuthorizerOptions {
  /** HS256 shared secret: at least 32 bytes (RFC 7518 §3.2). */
  secret?: string | Uint8Array;
  /** ES256 public key: PEM (SPKI), a JWK, or a KeyObject. */
  publicKey?: string | JsonWebKey | KeyObject;
  /** Required `iss` / `aud`, when set. */
  issuer?: string;
  audience?: string;
  /** Tokens without `exp` are refused unless this is false. */
  requireExpiry?: boolean;
  /** Seconds of clock skew tolerated for exp/nbf. Default 30. */
  clockToleranceSec?: number;
  /** For tests: the current time. */
  now?: () => Date;
}

export interface Authorizer {
  /** True when no key is configured: every request is allowed (the server should say so loudly). */
  readonly open: boolean;
  /**
   * Checks that `authorization` (an `Authorization` header value, `Bearer <jwt>`, or the bare
   * JWT) allows `action` on `stream` from `origin` (the request's Origin header, if any).
   * Rejects with HttpError 401 (no usable token) or 403 (a valid token that does not cover this).
   */
  authorize(action: TokenAction, stream: string, authorization: string | undefined, origin: string | undefined): Promise<AuthResult>;
}

// Larger tokens are refused before any parsing: nothing legitimate comes close.
const MAX_TOKEN_CHARS = 8192;
const MIN_SECRET_BYTES = 32;

const unauthorized = (msg: string): HttpError => new HttpError(401, msg);
const forbidden = (msg: string): HttpError => new HttpError(403, msg);

export function createAuthorizer(options: AuthorizerOptions = {}): Authorizer {
  const secret = options.secret === undefined ? undefined : secretKey(options.secret);
  const publicKey = options.publicKey === undefined ? undefined : ecPublicKey(options.publicKey);
  if (!secret && !publicKey) {
    return {
      open: true,
      authorize: async (action, stream) => ({ mode: 'open', action, stream }),
    };
  }
  // Each algorithm only with its own kind of key: a token can never pick HS256 and have the
  // public key used as an HMAC secret.
  const algorithms = [...(secret ? ['HS256'] : []), ...(publicKey ? ['ES256'] : [])];
  const verifyOptions: JWTVerifyOptions = {
    algorithms,
    clockTolerance: options.clockToleranceSec ?? 30,
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
    ...(options.requireExpiry === false ? {} : { requiredClaims: ['exp'] }),
  };
  const now = options.now;

  return {
    open: false,
    async authorize(action, stream, authorization, origin) {
      const token = bearer(authorization);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(
          token,
          // jose checks `algorithms` before asking for the key, so the fallback is never used.
          (header) => (header.alg === 'HS256' ? secret : publicKey) ?? new Uint8Array(),
          now ? { ...verifyOptions, currentDate: now() } : verifyOptions,
        ));
      } catch (err) {
        throw unauthorized(describeJoseError(err));
      }
      const claims = checkClaimShapes(payload);
      const actions = Array.isArray(claims.action) ? claims.action : [claims.action];
      if (!actions.includes(action)) throw forbidden(`token allows ${actions.join(' and ')}, not ${action}`);
      if (!streamMatches(claims.stream, stream)) throw forbidden(`token is for stream "${claims.stream}", not "${stream}"`);
      if (claims.origins !== undefined) {
        if (!origin) throw forbidden(`token is limited to origins ${claims.origins.join(', ')}; the request has no Origin`);
        if (!claims.origins.some((o) => originMatches(o, origin))) {
          throw forbidden(`token is limited to origins ${claims.origins.join(', ')}, not ${origin}`);
        }
      }
      return { mode: 'token', action, stream, claims };
    },
  };
}

function bearer(authorization: string | undefined): string {
  const value = (authorization ?? '').trim();
  if (value === '') throw unauthorized('missing token: send Authorization: Bearer <jwt>');
  const m = /^Bearer\s+(\S+)$/i.exec(value);
  const token = m ? m[1]! : value;
  if (/\s/.test(token)) throw unauthorized('Authorization header is not "Bearer <jwt>"');
  if (token.length > MAX_TOKEN_CHARS) throw unauthorized(`token is over ${MAX_TOKEN_CHARS} characters`);
  return token;
}

function secretKey(secret: string | Uint8Array): KeyObject {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_SECRET_BYTES) throw new Error(`HS256 secret must be at least ${MIN_SECRET_BYTES} bytes (got ${bytes.length})`);
  return createSecretKey(bytes);
}

function ecPublicKey(key: string | JsonWebKey | KeyObject): KeyObject {
  const k = key instanceof KeyObject ? key : typeof key === 'string' ? createPublicKey(key) : createPublicKey({ key, format: 'jwk' });
  if (k.type !== 'public' || k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('ES256 public key must be an EC P-256 public key');
  }
  return k;
}

// jose's messages are terse and sometimes about internals; these say what the client must fix.
function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) {
    const exp = typeof err.payload.exp === 'number' ? ` at ${new Date(err.payload.exp * 1000).toISOString()}` : '';
    return `token expired${exp}`;
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'exp') return 'token has no exp (expiry) claim';
    if (err.claim === 'nbf') return 'token is not valid yet (nbf)';
    return `token claim ${err.claim} is invalid: ${err.reason}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature does not verify (wrong key or altered token)';
  if (err instanceof errors.JOSEAlgNotAllowed) return `token algorithm is not accepted here (${err.message})`;
  if (err instanceof errors.JOSEError) return `token is malformed: ${err.message}`;
  return 'token could not be verified';
}

function checkClaimShapes(p: JWTPayload): StreamTokenClaims {
  const bad = (what: string): never => {
    throw unauthorized(`token ${what}`);
  };
  if (typeof p.stream !== 'string' || p.stream === '') bad('has no stream claim');
  const action = p.action;
  const isAction = (a: unknown): a is TokenAction => a === 'publish' || a === 'view';
  if (!(isAction(action) || (Array.isArray(action) && action.length > 0 && action.every(isAction)))) {
    bad('action claim must be "publish", "view" or a list of them');
  }
  if (p.origins !== undefined && !(Array.isArray(p.origins) && p.origins.every((o) => typeof o === 'string' && o !== ''))) {
    bad('origins claim must be a list of origins');
  }
  if (p.maxViewers !== undefined && !(Number.isSafeInteger(p.maxViewers) && (p.maxViewers as number) >= 0)) {
    bad('maxViewers claim must be a whole number');
  }
  return p as StreamTokenClaims;
}

/** Glob match of a stream name: `**` any run, `*` any run without `/`, `?` one character but `/`. */
export function streamMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  if (pattern.length > 256 || name.length > 1024) return false;
  // Dynamic programming over (pattern position, name position), O(|pattern| * |name|): a
  // backtracking regex could take exponential time on patterns like "*a*a*a*a*b".
  let row: boolean[] = new Array<boolean>(name.length + 1).fill(false);
  row[0] = true;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const star = c === '*';
    const globstar = star && pattern[i + 1] === '*';
    if (globstar) i++;
    const next: boolean[] = new Array<boolean>(name.length + 1).fill(false);
    for (let j = 0; j <= name.length; j++) {
      if (star) {
        // Empty run, or extend the run by name[j - 1] when it may be covered.
        next[j] = row[j]! || (j > 0 && next[j - 1]! && (globstar || name[j - 1] !== '/'));
      } else if (j > 0 && row[j - 1]) {
        next[j] = c === '?' ? name[j - 1] !== '/' : name[j - 1] === c;
      }
    }
    row = next;
  }
  return row[name.length]!;
}

/** `https://a.example` exact (case-insensitive, default port ignored), or `https://*.example` for subdomains. */
export function originMatches(allowed: string, origin: string): boolean {
  const norm = (o: string): string => o.trim().toLowerCase().replace(/\/+$/, '').replace(/^(https:\/\/[^/]+):443$/, '$1').replace(/^(http:\/\/[^/]+):80$/, '$1');
  const a = norm(allowed);
  const o = norm(origin);
  if (a === '*') return true;
  const wild = /^([a-z]+:\/\/)\*\.(.+)$/.exec(a);
  if (!wild) return a === o;
  return o.startsWith(wild[1]!) && o.slice(wild[1]!.length).endsWith(`.${wild[2]}`);
}
