import test from 'ava';
import WebSocket from 'ws';
import { sleep, spawnPeer, startRelay, until } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

const nativePeers = (relay) => relay.stats().workers.reduce((a, w) => a + w.peers, 0);

test.serial('a peer that never completes ICE/DTLS is reaped after the connect timeout', async (t) => {
  const { relay, url } = await startRelay(t, { connectTimeoutMs: 1500 });
  const res = await fetch(`${url}/whip/ghost`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer() });
  t.is(res.status, 201);
  t.is(nativePeers(relay), 1);
  const reasons = [];
  relay.on('stream:stop', (e) => reasons.push(e.reason));
  t.true(await until(() => relay.stats().streams === 0, 5000), 'the stream is gone');
  t.deepEqual(reasons, ['connect-timeout']);
  t.is(nativePeers(relay), 0);
  t.is(relay.stats().sessions, 0);
});

test.serial('a publisher that vanishes without DELETE ends its stream once its media stops (~2 s), not at consent expiry; its viewers are let go', async (t) => {
  // Long enough that the viewers' own ICE keepalives hold their consent: only the publisher goes.
  // No republish grace: the stream ends with its publisher.
  const { relay, url } = await startRelay(t, { consentTimeoutMs: 8000, republishGraceMs: 0 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/gone`, '100000', '10', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/gone`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  pub.send('start');
  await until(async () => (await viewers.request('report', 'report')).viewers.every((v) => v.video.length > 20), 5000, 100);
  const left = [];
  relay.on('viewer:leave', (e) => left.push(e.reason));
  const killedAt = Date.now();
  process.kill(-pub.child.pid, 'SIGKILL'); // the whole process group: no DELETE, no DTLS close
  t.true(await until(() => relay.stats().streams === 0, 14000), 'the stream ended');
  const took = Date.now() - killedAt;
  // publisherMediaTimeoutMs (2 s by default) ends it well before the 8 s consent timeout.
  t.true(took >= 1500 && took < 4000, `ended ${took} ms after the publisher's media stopped`);
  t.deepEqual(left, ['stream ended', 'stream ended']);
  // The viewers' native peers go on their workers' next command pass, not in this call.
  t.true(await until(() => nativePeers(relay) === 0, 2000), `no native peer left (${nativePeers(relay)})`);
  // Media stopped for the viewers: nothing more arrives.
  const before = (await viewers.request('report', 'report')).viewers.map((v) => v.video.length);
  await sleep(500);
  const after = (await viewers.request('report', 'report')).viewers.map((v) => v.video.length);
  t.deepEqual(after, before);
});

test.serial('viewers of a vanished publisher wait for it; a republish with the same codecs resumes their media, on another payload type too', async (t) => {
  // Viewers' ICE keepalives hold 8 s of consent (see the test above); the publisher's goes.
  const { relay, url } = await startRelay(t, { consentTimeoutMs: 8000, republishGraceMs: 20000 });
  const lost = [];
  const back = [];
  relay.on('publisher:lost', (e) => lost.push(e));
  relay.on('publisher:back', (e) => back.push(e));
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/again`, '100000', '10', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/again`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  pub.send('start');
  await until(async () => (await viewers.request('report', 'report')).viewers.every((v) => v.video.length > 20), 5000, 100);
  process.kill(-pub.child.pid, 'SIGKILL');
  t.true(await until(() => lost.length === 1, 14000), 'the relay noticed the publisher is gone');
  t.is(relay.stats().viewers, 2, 'the viewers stay');
  const before = (await viewers.request('report', 'report')).viewers.map((v) => v.video.length);
  // Its offer numbers H.264 98, not 102: the data plane maps them to the ones the viewers negotiated.
  const pub2 = spawnPeer(t, 'publisher.mjs', [`${url}/whip/again`, '300', '10', 'video'], { env: { PUB_VIDEO_PT: '98' } });
  await pub2.waitFor('open');
  t.is(back.length, 1, 'the new publisher resumed the stream');
  pub2.send('start');
  t.true(
    await until(async () => (await viewers.request('report', 'report')).viewers.every((v, i) => v.video.length > before[i] + 100), 8000, 200),
    'both viewers get the new publisher\'s media without reconnecting',
  );
  const report = await viewers.request('report', 'report');
  for (const v of report.viewers) {
    t.is(v.ssrcs, 1, 'the same SSRC across publishers');
    t.is(v.pts.length, 1, 'and the same payload type');
    t.is(v.bad, 0);
  }
});

test.serial('a viewer that vanishes is reaped; the other viewer keeps its media', async (t) => {
  const { relay, url } = await startRelay(t, { consentTimeoutMs: 8000 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/v`, '100000', '10', 'video']);
  await pub.waitFor('open');
  const stay = spawnPeer(t, 'viewers.mjs', [`${url}/whep/v`, '1']);
  const go = spawnPeer(t, 'viewers.mjs', [`${url}/whep/v`, '1']);
  t.is((await stay.waitFor('ready', 30000)).open, 1);
  t.is((await go.waitFor('ready', 30000)).open, 1);
  pub.send('start');
  t.true(await until(() => relay.stats().viewers === 2, 5000));
  process.kill(-go.child.pid, 'SIGKILL');
  t.true(await until(() => relay.stats().viewers === 1, 14000), 'the vanished viewer was reaped');
  t.is(nativePeers(relay), 2, 'publisher and the remaining viewer');
  const a = (await stay.request('report', 'report')).viewers[0].video.length;
  await sleep(500);
  const b = (await stay.request('report', 'report')).viewers[0].video.length;
  t.true(b > a + 20, `the remaining viewer still receives (${a} -> ${b})`);
});

// Idle viewers leave their worker's 20 ms tick (Peer::IdleUntil): the consent deadline must still
// reap one that vanishes, and one that stays must get media as soon as the publisher starts.
test.serial('an idle viewer (no media yet) that vanishes is reaped at its consent deadline; an idle one that stays gets media when it starts', async (t) => {
  const { relay, url } = await startRelay(t, { consentTimeoutMs: 6000 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/idle`, '100000', '10', 'video']);
  await pub.waitFor('open');
  const stay = spawnPeer(t, 'viewers.mjs', [`${url}/whep/idle`, '1']);
  const go = spawnPeer(t, 'viewers.mjs', [`${url}/whep/idle`, '1']);
  t.is((await stay.waitFor('ready', 30000)).open, 1);
  t.is((await go.waitFor('ready', 30000)).open, 1);
  t.true(await until(() => relay.stats().viewers === 2, 5000));
  await sleep(2500); // more than a second without media: both viewers are out of the tick list
  const killed = Date.now();
  process.kill(-go.child.pid, 'SIGKILL');
  t.true(await until(() => relay.stats().viewers === 1, 12000), 'the vanished idle viewer was reaped');
  const after = Date.now() - killed;
  t.true(after <= 6000 + 2000, `reaped ${after} ms after it vanished (consent timeout 6 s)`);
  t.is(nativePeers(relay), 2, 'publisher and the remaining viewer');
  t.is((await stay.request('report', 'report')).viewers[0].video.length, 0, 'no media before the publisher starts');
  const started = Date.now();
  pub.send('start');
  t.true(await until(async () => (await stay.request('report', 'report')).viewers[0].video.length > 0, 3000), 'the idle viewer gets media once it flows');
  t.true(Date.now() - started < 3000);
});

test.serial('garbage on every route and over the WebSocket gets 4xx answers and error frames; the server keeps serving', async (t) => {
  const { url } = await startRelay(t);
  const paths = ['/whip/x', '/whip/x/y', '/whep/x', '/whep/x/y', '/api/streams', '/api/streams/x', '/api/stats', '/metrics', '/healthz', '/', '/publish/x', '/watch/x', '/web/whip-whep.js', '/nope', '/whip/%ZZ', `/whip/${'a'.repeat(5000)}`];
  const bodies = [Buffer.alloc(0), Buffer.from('\u0000\u00ff garbage'), Buffer.from('v=0\r\n'.repeat(3)), Buffer.alloc(70 * 1024, 0x41)];
  let seed = 5;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (const path of paths) {
    for (const method of ['GET', 'POST', 'DELETE', 'PATCH', 'PUT']) {
      const body = method === 'GET' ? undefined : bodies[Math.floor(rand() * bodies.length)];
      const res = await fetch(`${url}${path}`, { method, headers: { 'Content-Type': rand() < 0.5 ? 'application/sdp' : 'text/plain' }, body });
      const text = await res.text();
      t.true(res.status < 500, `${method} ${path.slice(0, 40)} -> ${res.status} ${text.slice(0, 80)}`);
      if (res.status >= 400) t.notThrows(() => JSON.parse(text).error, `${method} ${path.slice(0, 40)} answers a JSON error`);
    }
  }
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  const junk = ['', '{', 'null', '[]', '{"type":1}', '{"type":"hello","version":"x"}', JSON.stringify({ type: 'view', stream: 'x' }), JSON.stringify({ type: 'publish', stream: '../x', sdp: 'v=0' }), 'x'.repeat(70 * 1024)];
  for (const j of junk) ws.send(j);
  ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
  await until(() => frames.filter((f) => f.type === 'error').length >= junk.length + 1, 3000);
  t.true(frames.filter((f) => f.type === 'error').length >= junk.length + 1, 'one error frame per bad message');
  ws.send(JSON.stringify({ type: 'hello', version: 1 }));
  t.true(await until(() => frames.some((f) => f.type === 'hello'), 2000), 'the socket still works');
  ws.close();
  t.is((await fetch(`${url}/healthz`)).status, 200);
});
