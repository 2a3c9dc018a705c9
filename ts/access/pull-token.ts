// Node-to-node trust: the short-lived credential an edge mints for each pull it makes, signed
// with the secret the nodes of one cluster share. A pull credential says "node <iss> may pull
// stream <sub> from node <up> with the DTLS certificate <fp>", once, for at most PULL_TTL_S seconds.
// It is no view token and a view token is no pull credential: each has its own audience, and
// the cluster secret must differ from the view-token secret.
import { createSecretKey, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose';
import { HttpError } from '../ops/errors.js';

/** JWT `aud` of a pull credential (RFC 7519 §4.1.3); view/publish tokens never carry it. */
export const PULL_AUDIENCE = 'halfsec-pull';
/** The request header a pull credential travels in (never Authorization: that is the viewer's). */
export const PULL_HEADER = 'x-halfsec-pull';
/** Lifetime of a minted credential, seconds: one pull request, plus clock skew between nodes. */
export const PULL_TTL_S = 30;
/** Longest lifetime a node accepts (exp - iat), so a leaked long-lived credential is useless. */
const MAX_TTL_S = 120;
const MAX_TOKEN_CHARS = 4096;
/** Clock skew between nodes a credential's times may show, seconds. */
const CLOCK_TOLERANCE_S = 5;
const MIN_SECRET_BYTES = 32;
/** Credentials remembered as used (each lives <= MAX_TTL_S): far beyond any real pull rate. */
const MAX_REMEMBERED = 100_000;

export interface PullGrant {
  /** Node id of the edge that pulls (becomes `iss`). */
  edge: string;
  stream: string;
  /** Node id of the node pulled from (`up`). */
  upstream: string;
  /** The edge's DTLS certificate fingerprint (hex pairs with colons, as in a=fingerprint). */
  fingerprint: string;
}

const normFp = (fp: string): string => fp.trim().toUpperCase();

export class PullCredentials {
  private readonly key: KeyObject;
  /** `jti` of each credential this node admitted, → its `exp` (s): a credential admits one pull. */
  private readonly used = new Map<string, number>();

  /** `secret`: the cluster secret, at least 32 bytes (RFC 7518 §3.2 for HS256). */
  constructor(secret: string) {
    const bytes = Buffer.from(secret, 'utf8');
    if (bytes.length < MIN_SECRET_BYTES) throw new Error(`cluster secret must be at least ${MIN_SECRET_BYTES} bytes (got ${bytes.length})`);
    this.key = createSecretKey(bytes);
  }

  /** A compact JWS (HS256) for one pull, valid PULL_TTL_S seconds. */
  mint(g: PullGrant): Promise<string> {
    return new SignJWT({ up: g.upstream, fp: normFp(g.fingerprint) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(randomUUID())
      .setIssuer(g.edge)
      .setSubject(g.stream)
      .setAudience(PULL_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${PULL_TTL_S}s`)
      .sign(this.key);
  }

  /**
   * Checks a credential against the pull it came with: signed with this cluster's secret, for
   * this audience, this stream, this node as upstream, the requesting edge (last on the path)
   * and the DTLS fingerprint of the offer. Resolves to the edge's node id; rejects with
   * HttpError 401 (missing, malformed, expired, issued in the future, bad signature, already used:
   * each credential admits one pull) or 403 (valid, but not for this).
   */
  async verify(token: string | undefined, want: { stream: string; self: string; edge: string | undefined; fingerprint: string | undefined }): Promise<string> {
    if (!token) throw new HttpError(401, 'this node takes pulls only with a pull credential (the nodes must share --cluster-secret)');
    if (token.length > MAX_TOKEN_CHARS) throw new HttpError(401, 'pull credential too long');
    let p;
    try {
      // maxTokenAge also refuses an iat in the future: without it, exp - iat <= MAX_TTL_S would
      // not bound a credential minted (or by a node whose clock runs) far ahead.
      ({ payload: p } = await jwtVerify(token, this.key, { algorithms: ['HS256'], audience: PULL_AUDIENCE, requiredClaims: ['exp', 'iat', 'iss', 'sub', 'jti'], clockTolerance: CLOCK_TOLERANCE_S, maxTokenAge: MAX_TTL_S }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new HttpError(401, 'pull credential expired');
      if (err instanceof errors.JWSSignatureVerificationFailed) throw new HttpError(401, 'pull credential signature does not verify (a different cluster secret?)');
      throw new HttpError(401, `pull credential refused: ${err instanceof errors.JOSEError ? err.message : 'malformed'}`);
    }
    if ((p.exp ?? 0) - (p.iat ?? 0) > MAX_TTL_S) throw new HttpError(401, `pull credential lives longer than ${MAX_TTL_S} s`);
    if (p.sub !== want.stream) throw new HttpError(403, `pull credential is for stream "${String(p.sub)}", not "${want.stream}"`);
    if (p.up !== want.self) throw new HttpError(403, `pull credential is for node ${String(p.up)}, not this node (${want.self})`);
    if (want.edge !== undefined && p.iss !== want.edge) throw new HttpError(403, `pull credential was minted by ${String(p.iss)}, but the pull comes from ${want.edge}`);
    if (typeof p.fp !== 'string' || !want.fingerprint || normFp(p.fp) !== normFp(want.fingerprint)) {
      throw new HttpError(403, "pull credential is bound to another DTLS certificate than the offer's");
    }
    // Single use (RFC 7519 §4.1.7): a credential seen on the wire (between nodes over plain
    // HTTP) and replayed with the same offer would otherwise take a pull slot per replay until
    // it expires, each session holding it until its ICE timeout. Remembered only after every
    // check passed, so a replay with a wrong path or offer cannot burn the genuine edge's.
    this.forgetExpired();
    if (typeof p.jti !== 'string' || p.jti.length > 128) throw new HttpError(401, 'pull credential jti must be a string of at most 128 characters');
    const jti = p.jti;
    if (this.used.has(jti)) throw new HttpError(401, 'pull credential already used (each pull mints its own)');
    if (this.used.size >= MAX_REMEMBERED) throw new HttpError(503, 'too many pulls in the last minutes; retry');
    this.used.set(jti, p.exp ?? 0);
    return String(p.iss);
  }

  /** Drops used credentials past their exp (plus clock tolerance): those are refused as expired anyway. */
  private forgetExpired(): void {
    const now = Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_S;
    // Insertion order is nearly exp order (every credential lives PULL_TTL_S): stop at the first live one.
    for (const [jti, exp] of this.used) {
      if (exp >= now && this.used.size < MAX_REMEMBERED) break;
      if (exp >= now) continue;
      this.used.delete(jti);
    }
  }
}

/**
 * True when `authorization` (a `Bearer <jwt>` value or a bare JWT) is a pull credential, judged
 * from its unverified claims: such a token is refused as a view or publish token whatever its
 * signature, so a viewer can never use one (not even on a relay with open streams).
 */
export function isPullCredential(authorization: string | undefined): boolean {
  if (!authorization) return false;
  const token = authorization.trim().replace(/^Bearer\s+/i, '');
  if (token.length > MAX_TOKEN_CHARS || token.split('.').length !== 3) return false;
  try {
    const aud = decodeJwt(token).aud;
    return aud === PULL_AUDIENCE || (Array.isArray(aud) && aud.includes(PULL_AUDIENCE));
  } catch {
    return false;
  }
}
