// The cluster's publisher gate (a stream published on another node: 409 naming that node) runs
// only for a request allowed to publish the stream: without a token a WHIP POST gets the token's
// 401, learns nothing of the cluster, and causes no Redis lookup or HTTP probe of the origin.
import test from 'ava';
import { SignJWT } from 'jose';
import { spawnPeer } from './helpers.mjs';
import { startNode, startRedis } from './cluster-helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

const CLUSTER = 'cluster-secret-for-the-publish-gate-test-0123';
const TOKENS = 'token-secret-for-the-publish-gate-test-456789';

const token = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(TOKENS));

test.serial('a publisher without a valid publish token never reaches the cluster gate: 401, and the origin node is not named', async (t) => {
  const redis = await startRedis(t);
  // a is open (its publisher needs no token); b requires tokens.
  const a = await startNode(t, redis.url, 'node-a', { clusterSecret: CLUSTER });
  const b = await startNode(t, redis.url, 'node-b', { clusterSecret: CLUSTER, tokenSecret: TOKENS });
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/g`, '10', '10', 'video']);
  await pub.waitFor('open');
  const whip = (authorization) =>
    fetch(`${b.url}/whip/g`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...(authorization ? { Authorization: `Bearer ${authorization}` } : {}) }, body: offer() });

  const anonymous = await whip();
  const anonymousText = await anonymous.text();
  t.is(anonymous.status, 401, anonymousText);
  t.notRegex(anonymousText, /node-a/);

  const viewToken = await whip(await token({ stream: 'g', action: 'view' }));
  const viewText = await viewToken.text();
  t.is(viewToken.status, 403, viewText);
  t.notRegex(viewText, /node-a/);

  const otherStream = await whip(await token({ stream: 'other', action: 'publish' }));
  const otherText = await otherStream.text();
  t.is(otherStream.status, 403, otherText);
  t.notRegex(otherText, /node-a/);

  // A publisher allowed to publish the stream is still told where it lives.
  const allowed = await whip(await token({ stream: 'g', action: 'publish' }));
  t.is(allowed.status, 409);
  t.regex(await allowed.text(), /node-a/);
  t.is(b.relay.stats().publishers ?? 0, 0, 'b took no publisher');
});
