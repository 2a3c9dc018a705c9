// Node-to-node trust: pulls carry a credential the edge mints with the cluster secret; an origin
// refuses pulls without one (even on open streams), and viewers can never use one.
import test from 'ava';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { PullCredentials } from '../dist/access/pull-token.js';
import { buildPullOffer } from '../dist/cluster/pull-sdp.js';
import { spawnPeer, until, reportWhen } from './helpers.mjs';
import { startNode, startRedis } from './cluster-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-trust-test-0123456789';
const TOKENS = 'view-token-secret-for-the-trust-test-987654321';
const PACKETS = 80;
const range = (n) => Array.from({ length: n }, (_, i) => i);
const viewToken = (stream, action = 'view') =>
  new SignJWT({ stream, action }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(TOKENS));
const FP = Array.from({ length: 32 }, (_, i) => (i * 7 + 3).toString(16).padStart(2, '0').toUpperCase()).join(':');
const pullOffer = (fp = FP) => buildPullOffer({ ufrag: 'abcd', pwd: 'abcdefghijklmnopqrstuvwx' }, fp);
const post = async (url, body, headers) => {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body });
  return { status: res.status, error: (await res.json().catch(() => ({}))).error ?? '' };
};

test.serial('pulls need a credential signed with the cluster secret; an edge with it pulls without a view token of its own', async (t) => {
  const redis = await startRedis(t);
  // Tokens on: viewers need a view token, the edge's pull needs none (its credential stands for it).
  const a = await startNode(t, redis.url, 'node-a', { clusterSecret: CLUSTER, tokenSecret: TOKENS });
  const b = await startNode(t, redis.url, 'node-b', { tokenSecret: TOKENS });
  const c = await startNode(t, redis.url, 'node-c', { clusterSecret: CLUSTER, tokenSecret: TOKENS });
  const wrong = await startNode(t, redis.url, 'node-w', { clusterSecret: 'another-cluster-secret-0123456789-abcdef', tokenSecret: TOKENS });

  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/s`, String(PACKETS), '10', 'both'], { env: { PEER_TOKEN: await viewToken('s', 'publish') } });
  await pub.waitFor('open');
  const token = await viewToken('s');

  // The edge without the secret: its pull is refused, so its viewer gets a 502 naming the 401.
  const noSecret = await post(`${b.url}/whep/s`, pullOffer(), { Authorization: `Bearer ${token}` });
  t.is(noSecret.status, 502);
  t.regex(noSecret.error, /401.*pull credential/);
  const wrongSecret = await post(`${wrong.url}/whep/s`, pullOffer(), { Authorization: `Bearer ${token}` });
  t.is(wrongSecret.status, 502);
  t.regex(wrongSecret.error, /401.*signature/);
  t.is(a.relay.stats().viewers, 0, 'the origin admitted neither pull');

  // The edge with the secret: 5 viewers with view tokens get every packet through it.
  const v = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/s`, '5'], { env: { VIEWER_PORT_BASE: '32000', PEER_TOKEN: token } });
  t.is((await v.waitFor('ready', 30000)).open, 5);
  t.deepEqual(c.relay.clusterStats().pulls, [{ stream: 's', upstream: 'node-a', lost: false }]);
  t.is(a.relay.clusterStats().pullsServed, 1);
  t.true(await until(() => c.relay.stats().publishers === 1, 10000));
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= PACKETS), 5000);
  for (const x of report.viewers) t.deepEqual(x.video, range(PACKETS), `viewer ${x.index} on the edge got every packet`);
});

test.serial('a viewer can never use a pull credential, and a view token is never a pull credential', async (t) => {
  const redis = await startRedis(t);
  // Open streams: anyone may view, and still no pull without a credential.
  const a = await startNode(t, redis.url, 'node-a', { clusterSecret: CLUSTER });
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/open`, '10', '10', 'video']);
  await pub.waitFor('open');
  const creds = new PullCredentials(CLUSTER);
  const stolen = await creds.mint({ edge: 'node-x', stream: 'open', upstream: 'node-a', fingerprint: FP });

  // As a viewer's token on WHEP and on the WebSocket: refused even though streams are open.
  const asBearer = await post(`${a.url}/whep/open`, pullOffer(), { Authorization: `Bearer ${stolen}` });
  t.is(asBearer.status, 403);
  t.regex(asBearer.error, /pull credential/);
  const ws = new WebSocket(`${a.url.replace('http', 'ws')}/ws`);
  const inbox = [];
  ws.on('message', (d) => inbox.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'hello', version: 1, token: stolen }));
  ws.send(JSON.stringify({ type: 'view', id: 1, stream: 'open', sdp: pullOffer() }));
  t.true(await until(() => inbox.some((m) => m.id === 1), 3000));
  t.like(inbox.find((m) => m.id === 1), { type: 'error', code: 'forbidden' });
  ws.close();

  // In the pull header, with an offer whose DTLS certificate is not the one it was minted for.
  const otherFp = FP.replace(/^..:/, 'EE:');
  const rebound = await post(`${a.url}/whep/open`, pullOffer(otherFp), { 'X-Halfsec-Pull': stolen, 'X-Halfsec-Path': 'node-x' });
  t.is(rebound.status, 403);
  t.regex(rebound.error, /DTLS certificate/);
  // Minted for another edge than the one the path names, another stream, another upstream.
  t.is((await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': stolen, 'X-Halfsec-Path': 'node-y' })).status, 403);
  const otherStream = await creds.mint({ edge: 'node-x', stream: 'else', upstream: 'node-a', fingerprint: FP });
  t.is((await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': otherStream, 'X-Halfsec-Path': 'node-x' })).status, 403);
  const otherUp = await creds.mint({ edge: 'node-x', stream: 'open', upstream: 'node-b', fingerprint: FP });
  t.is((await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': otherUp, 'X-Halfsec-Path': 'node-x' })).status, 403);
  // A view token (even one signed with the cluster secret) in the pull header: wrong audience.
  const view = await new SignJWT({ stream: 'open', action: 'view' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1m').sign(new TextEncoder().encode(CLUSTER));
  const viewAsPull = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': view, 'X-Halfsec-Path': 'node-x' });
  t.is(viewAsPull.status, 401);
  t.regex(viewAsPull.error, /aud/);
  // Expired, or minted to live longer than a node accepts.
  const forged = (iat, exp, jti = `forged-${iat}-${exp}`) =>
    new SignJWT({ up: 'node-a', fp: FP, ...(jti ? { jti } : {}) }).setProtectedHeader({ alg: 'HS256' }).setIssuer('node-x').setSubject('open').setAudience('halfsec-pull').setIssuedAt(iat).setExpirationTime(exp).sign(new TextEncoder().encode(CLUSTER));
  const now = Math.floor(Date.now() / 1000);
  const expired = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': await forged(now - 100, now - 60), 'X-Halfsec-Path': 'node-x' });
  t.is(expired.status, 401);
  t.regex(expired.error, /expired/);
  const longLived = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': await forged(now, now + 3600), 'X-Halfsec-Path': 'node-x' });
  t.is(longLived.status, 401);
  t.regex(longLived.error, /longer than/);
  // Short-lived, but issued an hour ahead: exp - iat alone would not bound how long it is good.
  const ahead = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': await forged(now + 3600, now + 3630), 'X-Halfsec-Path': 'node-x' });
  t.is(ahead.status, 401);
  t.regex(ahead.error, /iat/);
  // A path without a credential: refused, not taken as a viewer.
  t.is((await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Path': 'node-x' })).status, 401);
  // The genuine article is admitted (the session is created; no ICE will follow here).
  const ok = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': stolen, 'X-Halfsec-Path': 'node-x' });
  t.is(ok.status, 201);
  t.is(a.relay.clusterStats().pullsServed, 1);
  // Replayed as it was seen on the wire (same credential, same offer): single use, so a
  // captured credential cannot fill the node's pull budget with sessions that never connect.
  for (let i = 0; i < 3; i++) {
    const replay = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': stolen, 'X-Halfsec-Path': 'node-x' });
    t.is(replay.status, 401);
    t.regex(replay.error, /already used/);
  }
  t.is(a.relay.clusterStats().pullsServed, 1);
  // A credential without a jti cannot be told apart from its replays: refused.
  const noJti = await post(`${a.url}/whep/open`, pullOffer(), { 'X-Halfsec-Pull': await forged(now, now + 30, ''), 'X-Halfsec-Path': 'node-x' });
  t.is(noJti.status, 401);
  t.regex(noJti.error, /jti/);
});

test('the cluster secret must differ from the token secret', (t) => {
  return import('../dist/index.js').then(({ createRelay }) => {
    t.throws(() => createRelay({ clusterSecret: CLUSTER, tokenSecret: CLUSTER, logLevel: 'silent' }), { message: /differ/ });
  });
});
