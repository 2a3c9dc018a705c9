// Publish/view tokens (ts/access/auth.ts) with real signed JWTs: HS256 and ES256, expiry, wrong keys,
// wrong stream/action/origin, patterns, and open mode.
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, generateKeyPair, exportSPKI, UnsecuredJWT } from 'jose';
import { createAuthorizer, originMatches, streamMatches } from '../dist/access/auth.js';
import { HttpError } from '../dist/ops/errors.js';

const SECRET = 'a-shared-secret-of-at-least-32-bytes!!';
const enc = (s) => new TextEncoder().encode(s);

async function hs(claims, { secret = SECRET, exp = '5m', alg = 'HS256' } = {}) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg }).setIssuedAt();
  if (exp !== null) jwt = jwt.setExpirationTime(exp);
  return jwt.sign(enc(secret));
}

async function rejects(t, promise, status, pattern) {
  const err = await t.throwsAsync(promise, { instanceOf: HttpError });
  t.is(err.status, status, err.message);
  if (pattern) t.regex(err.message, pattern);
  return err;
}

test('open mode: no key configured, everything is allowed and marked open', async (t) => {
  const auth = createAuthorizer();
  t.true(auth.open);
  t.deepEqual(await auth.authorize('publish', 'cam1', undefined, undefined), { mode: 'open', action: 'publish', stream: 'cam1' });
});

test('HS256: a valid publish token for the exact stream is accepted with its claims', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  t.false(auth.open);
  const token = await hs({ stream: 'cam1', action: 'publish', maxViewers: 50 });
  const res = await auth.authorize('publish', 'cam1', `Bearer ${token}`, undefined);
  t.is(res.mode, 'token');
  t.is(res.claims.stream, 'cam1');
  t.is(res.claims.maxViewers, 50);
  // The bare token (no "Bearer ") works too, e.g. from a query parameter.
  t.is((await auth.authorize('publish', 'cam1', token, undefined)).mode, 'token');
});

test('missing, garbage and oversized tokens are 401', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  await rejects(t, auth.authorize('view', 'cam1', undefined, undefined), 401, /missing token/);
  await rejects(t, auth.authorize('view', 'cam1', 'Bearer', undefined), 401);
  await rejects(t, auth.authorize('view', 'cam1', 'Bearer not.a.jwt', undefined), 401, /malformed/);
  await rejects(t, auth.authorize('view', 'cam1', 'Basic dXNlcjpwYXNz', undefined), 401);
  await rejects(t, auth.authorize('view', 'cam1', `Bearer ${'a'.repeat(9000)}`, undefined), 401, /over 8192/);
});

test('an expired token is 401 and says when it expired', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const token = await hs({ stream: 'cam1', action: 'view' }, { exp: Math.floor(Date.now() / 1000) - 120 });
  await rejects(t, auth.authorize('view', 'cam1', `Bearer ${token}`, undefined), 401, /expired at \d{4}-/);
});

test('clock tolerance: a token expired 10 s ago still passes with the default 30 s', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const token = await hs({ stream: 'cam1', action: 'view' }, { exp: Math.floor(Date.now() / 1000) - 10 });
  t.is((await auth.authorize('view', 'cam1', `Bearer ${token}`, undefined)).mode, 'token');
  const strict = createAuthorizer({ secret: SECRET, clockToleranceSec: 0 });
  await rejects(t, strict.authorize('view', 'cam1', `Bearer ${token}`, undefined), 401, /expired/);
});

test('a token without exp is refused unless requireExpiry is false', async (t) => {
  const token = await hs({ stream: 'cam1', action: 'view' }, { exp: null });
  await rejects(t, createAuthorizer({ secret: SECRET }).authorize('view', 'cam1', token, undefined), 401, /no exp/);
  const lax = createAuthorizer({ secret: SECRET, requireExpiry: false });
  t.is((await lax.authorize('view', 'cam1', token, undefined)).mode, 'token');
});

test('a token signed with another secret is 401', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const token = await hs({ stream: 'cam1', action: 'view' }, { secret: 'some-other-secret-that-is-long-enough' });
  await rejects(t, auth.authorize('view', 'cam1', token, undefined), 401, /signature does not verify/);
});

test('an altered payload is 401', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const [h, , s] = (await hs({ stream: 'cam1', action: 'view' })).split('.');
  const forged = Buffer.from(JSON.stringify({ stream: '**', action: ['publish', 'view'], exp: 9999999999 })).toString('base64url');
  await rejects(t, auth.authorize('publish', 'x', `${h}.${forged}.${s}`, undefined), 401, /signature/);
});

test('alg "none" and algorithms without a configured key are 401', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const none = new UnsecuredJWT({ stream: 'cam1', action: 'view' }).setExpirationTime('5m').encode();
  await rejects(t, auth.authorize('view', 'cam1', none, undefined), 401, /not accepted/);
  const hs512 = await hs({ stream: 'cam1', action: 'view' }, { alg: 'HS512' });
  await rejects(t, auth.authorize('view', 'cam1', hs512, undefined), 401, /not accepted/);
});

test('a valid token for another stream or action is 403 and names both', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const token = await hs({ stream: 'cam1', action: 'view' });
  await rejects(t, auth.authorize('view', 'cam2', token, undefined), 403, /"cam1", not "cam2"/);
  await rejects(t, auth.authorize('publish', 'cam1', token, undefined), 403, /allows view, not publish/);
});

test('stream patterns: live/* covers live/x but not live/x/y or other/x; ** covers all', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const token = await hs({ stream: 'live/*', action: ['publish', 'view'] });
  t.is((await auth.authorize('view', 'live/x', token, undefined)).mode, 'token');
  t.is((await auth.authorize('publish', 'live/x', token, undefined)).mode, 'token');
  await rejects(t, auth.authorize('view', 'live/x/y', token, undefined), 403);
  await rejects(t, auth.authorize('view', 'other/x', token, undefined), 403);
  const all = await hs({ stream: '**', action: 'view' });
  t.is((await auth.authorize('view', 'a/b/c', all, undefined)).mode, 'token');
});

test('streamMatches: ?, literal metacharacters, and no catastrophic backtracking', (t) => {
  t.true(streamMatches('cam-?', 'cam-1'));
  t.false(streamMatches('cam-?', 'cam-12'));
  t.true(streamMatches('a.b', 'a.b'));
  t.false(streamMatches('a.b', 'axb'));
  t.true(streamMatches('x*y', 'xy'));
  const t0 = performance.now();
  t.false(streamMatches(`${'*a'.repeat(60)}b`, 'a'.repeat(1000)));
  t.true(performance.now() - t0 < 500);
});

test('origins: allowed, wildcard subdomain, wrong and missing origin', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  const token = await hs({ stream: 'cam1', action: 'view', origins: ['https://watch.example.com', 'https://*.example.org'] });
  t.is((await auth.authorize('view', 'cam1', token, 'https://watch.example.com')).mode, 'token');
  t.is((await auth.authorize('view', 'cam1', token, 'https://WATCH.example.com:443')).mode, 'token');
  t.is((await auth.authorize('view', 'cam1', token, 'https://a.b.example.org')).mode, 'token');
  await rejects(t, auth.authorize('view', 'cam1', token, 'https://example.org'), 403, /not https:\/\/example.org/);
  await rejects(t, auth.authorize('view', 'cam1', token, 'https://evil.com'), 403, /limited to origins/);
  await rejects(t, auth.authorize('view', 'cam1', token, 'http://watch.example.com'), 403);
  await rejects(t, auth.authorize('view', 'cam1', token, undefined), 403, /no Origin/);
  t.false(originMatches('https://*.example.org', 'https://evilexample.org'));
});

test('malformed claims are 401', async (t) => {
  const auth = createAuthorizer({ secret: SECRET });
  await rejects(t, auth.authorize('view', 'cam1', await hs({ action: 'view' }), undefined), 401, /no stream claim/);
  await rejects(t, auth.authorize('view', 'cam1', await hs({ stream: 'cam1', action: 'watch' }), undefined), 401, /action claim/);
  await rejects(t, auth.authorize('view', 'cam1', await hs({ stream: 'cam1', action: 'view', origins: 'https://a' }), undefined), 401, /origins claim/);
  await rejects(t, auth.authorize('view', 'cam1', await hs({ stream: 'cam1', action: 'view', maxViewers: -1 }), undefined), 401, /maxViewers/);
});

test('ES256 with a PEM public key; an HS256 token is refused when only ES256 is configured', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const auth = createAuthorizer({ publicKey: await exportSPKI(publicKey) });
  const token = await new SignJWT({ stream: 'cam1', action: 'publish' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1m').sign(privateKey);
  t.is((await auth.authorize('publish', 'cam1', `Bearer ${token}`, undefined)).mode, 'token');
  await rejects(t, auth.authorize('publish', 'cam1', await hs({ stream: 'cam1', action: 'publish' }), undefined), 401, /not accepted/);
  // Signed by another key pair.
  const other = await generateKeyPair('ES256');
  const foreign = await new SignJWT({ stream: 'cam1', action: 'publish' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1m').sign(other.privateKey);
  await rejects(t, auth.authorize('publish', 'cam1', foreign, undefined), 401, /signature/);
});

test('secret and public key together: both algorithms are accepted', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const auth = createAuthorizer({ secret: SECRET, publicKey: publicKey.export({ format: 'jwk' }) });
  const es = await new SignJWT({ stream: 'cam1', action: 'view' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1m').sign(privateKey);
  t.is((await auth.authorize('view', 'cam1', es, undefined)).mode, 'token');
  t.is((await auth.authorize('view', 'cam1', await hs({ stream: 'cam1', action: 'view' }), undefined)).mode, 'token');
});

test('issuer and audience are enforced when configured', async (t) => {
  const auth = createAuthorizer({ secret: SECRET, issuer: 'https://auth.example', audience: 'halfsec' });
  const good = await new SignJWT({ stream: 'cam1', action: 'view' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://auth.example').setAudience('halfsec').setExpirationTime('1m').sign(enc(SECRET));
  t.is((await auth.authorize('view', 'cam1', good, undefined)).mode, 'token');
  await rejects(t, auth.authorize('view', 'cam1', await hs({ stream: 'cam1', action: 'view' }), undefined), 401, /iss/);
});

test('configuration errors: short secrets and non-P-256 keys throw at creation', (t) => {
  t.throws(() => createAuthorizer({ secret: 'short' }), { message: /at least 32 bytes/ });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  t.throws(() => createAuthorizer({ publicKey: rsa }), { message: /P-256/ });
});

test('an injected clock decides expiry', async (t) => {
  const token = await hs({ stream: 'cam1', action: 'view' }, { exp: '1h' });
  const later = createAuthorizer({ secret: SECRET, now: () => new Date(Date.now() + 2 * 3600 * 1000) });
  await rejects(t, later.authorize('view', 'cam1', token, undefined), 401, /expired/);
});
