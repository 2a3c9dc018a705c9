// The cluster's gate runs only for a request allowed to publish or view the stream. The publisher
// gate (a stream published on another node: 409 naming that node): without a token a WHIP POST
// gets the token's 401, learns nothing of the cluster, and causes no Redis lookup or HTTP probe
// of the origin. The viewer gate (a stream living on another node is pulled here): without a
// token a WHEP POST gets 401 and starts no pull.
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

test.serial('a viewer without a valid view token never reaches the cluster gate: 401, and the node starts no pull', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a', { clusterSecret: CLUSTER });
  const b = await startNode(t, redis.url, 'node-b', { clusterSecret: CLUSTER, tokenSecret: TOKENS });
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/w`, '10', '10', 'video']);
  await pub.waitFor('open');
  const whep = (authorization) =>
    fetch(`${b.url}/whep/w`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...(authorization ? { Authorization: `Bearer ${authorization}` } : {}) }, body: offer({ direction: 'recvonly', kinds: ['video'] }) });

  const anonymous = await whep();
  t.is(anonymous.status, 401, await anonymous.text());
  const publishToken = await whep(await token({ stream: 'w', action: 'publish' }));
  t.is(publishToken.status, 403, await publishToken.text());
  // Posing as a pull: the gate wants a pull credential (b has the cluster secret) before pulling.
  const posing = await fetch(`${b.url}/whep/w`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', 'X-Halfsec-Path': 'node-x' }, body: offer({ direction: 'recvonly', kinds: ['video'] }) });
  t.is(posing.status, 401, await posing.text());
  t.deepEqual(b.relay.clusterStats().pulls, [], 'no pull started for requests that may not view');

  const allowed = await whep(await token({ stream: 'w', action: 'view' }));
  t.is(allowed.status, 201, await allowed.clone().text());
  t.deepEqual(b.relay.clusterStats().pulls.map((p) => [p.stream, p.upstream]), [['w', 'node-a']], 'a viewer allowed to view is served by a pull');
});

test.serial('without a cluster secret a pull is a viewer: a request posing as a pull without a view token gets 401 and starts no pull; one with a view token is served by a pull', async (t) => {
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a');
  const b = await startNode(t, redis.url, 'node-b', { tokenSecret: TOKENS });
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/n`, '10', '10', 'video']);
  await pub.waitFor('open');
  const posing = (authorization) =>
    fetch(`${b.url}/whep/n`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', 'X-Halfsec-Path': 'node-x', ...(authorization ? { Authorization: `Bearer ${authorization}` } : {}) },
      body: offer({ direction: 'recvonly', kinds: ['video'] }),
    });
  const anonymous = await posing();
  t.is(anonymous.status, 401, await anonymous.text());
  const publishToken = await posing(await token({ stream: 'n', action: 'publish' }));
  t.is(publishToken.status, 403, await publishToken.text());
  t.deepEqual(b.relay.clusterStats().pulls, [], 'no pull started for requests that may not view');
  const allowed = await posing(await token({ stream: 'n', action: 'view' }));
  t.is(allowed.status, 201, await allowed.clone().text());
  t.deepEqual(b.relay.clusterStats().pulls.map((p) => [p.stream, p.upstream]), [['n', 'node-a']], 'with a view token the request is served by a pull');
});
