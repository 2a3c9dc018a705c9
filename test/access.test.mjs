import test from 'ava';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startNodeRelay, startRelay } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const key = new TextEncoder().encode(SECRET);

function token(claims, exp = '5m') {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp).sign(key);
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const bearer = (t) => ({ Authorization: `Bearer ${t}` });

test('with a token secret, WHIP/WHEP need a token for the stream and action', async (t) => {
  const { url } = await startRelay(t, { tokenSecret: SECRET });
  const none = await post(`${url}/whip/cam`, offer());
  t.is(none.status, 401);
  t.regex(JSON.parse(none.text).error, /token/i);
  t.is(none.headers.get('www-authenticate'), 'Bearer realm="halfsec"');

  const garbage = await post(`${url}/whip/cam`, offer(), bearer('not.a.jwt'));
  t.is(garbage.status, 401);

  const expired = await post(`${url}/whip/cam`, offer(), bearer(await token({ stream: 'cam', action: 'publish' }, Math.floor(Date.now() / 1000) - 120)));
  t.is(expired.status, 401);
  t.regex(JSON.parse(expired.text).error, /expired/);

  const otherStream = await post(`${url}/whip/cam`, offer(), bearer(await token({ stream: 'other', action: 'publish' })));
  t.is(otherStream.status, 403);
  t.regex(JSON.parse(otherStream.text).error, /"other"/);

  const viewOnly = await post(`${url}/whip/cam`, offer(), bearer(await token({ stream: 'cam', action: 'view' })));
  t.is(viewOnly.status, 403);

  const ok = await post(`${url}/whip/cam`, offer(), bearer(await token({ stream: 'c*', action: 'publish' })));
  t.is(ok.status, 201, ok.text);

  const viewer = await post(`${url}/whep/cam`, offer({ direction: 'recvonly' }), bearer(await token({ stream: 'cam', action: ['view'] })));
  t.is(viewer.status, 201, viewer.text);
});

test('a second publisher gets 409 unless its token allows takeover', async (t) => {
  const { relay, url } = await startRelay(t, { tokenSecret: SECRET });
  const stops = [];
  relay.on('stream:stop', (e) => stops.push(e.reason));
  const first = await post(`${url}/whip/live`, offer(), bearer(await token({ stream: 'live', action: 'publish' })));
  t.is(first.status, 201);
  const second = await post(`${url}/whip/live`, offer(), bearer(await token({ stream: 'live', action: 'publish' })));
  t.is(second.status, 409);
  const viewer = await post(`${url}/whep/live`, offer({ direction: 'recvonly' }), bearer(await token({ stream: 'live', action: 'view' })));
  t.is(viewer.status, 201);
  const takeover = await post(`${url}/whip/live`, offer(), bearer(await token({ stream: 'live', action: 'publish', takeover: true })));
  t.is(takeover.status, 201, takeover.text);
  t.deepEqual(stops, [], 'same codecs: the stream goes on with the new publisher');
  t.is(relay.stats().viewers, 1, 'and keeps its viewer');
  t.is(relay.stats().sessions, 2, 'the old publisher session is gone');
  const vp8 = await post(`${url}/whip/live`, offer({ video: 'VP8' }), bearer(await token({ stream: 'live', action: 'publish', takeover: true })));
  t.is(vp8.status, 201);
  t.deepEqual(stops, ['taken over by a new publisher'], 'other codecs: the old stream and its viewers end');
  t.is(relay.stats().viewers, 0);
});

test('viewer limits per stream (token and option) and per node answer 503 with a reason', async (t) => {
  const { url } = await startRelay(t, { tokenSecret: SECRET, maxViewersPerStream: 3, maxViewers: 4 });
  const pub = await token({ stream: '*', action: 'publish' });
  t.is((await post(`${url}/whip/a`, offer(), bearer(pub))).status, 201);
  t.is((await post(`${url}/whip/b`, offer(), bearer(pub))).status, 201);
  const small = await token({ stream: 'a', action: 'view', maxViewers: 2 });
  const view = (s, tk) => post(`${url}/whep/${s}`, offer({ direction: 'recvonly' }), bearer(tk));
  t.is((await view('a', small)).status, 201);
  t.is((await view('a', small)).status, 201);
  const third = await view('a', small);
  t.is(third.status, 503);
  t.regex(JSON.parse(third.text).error, /stream "a" has reached its viewer limit \(2\)/);
  const any = await token({ stream: '*', action: 'view' });
  t.is((await view('a', any)).status, 201, 'the option allows 3');
  t.is((await view('a', any)).status, 503);
  t.is((await view('b', any)).status, 201, 'the node allows 4 in all');
  const full = await view('b', any);
  t.is(full.status, 503);
  t.regex(JSON.parse(full.text).error, /this relay has reached its viewer limit \(4\)/);
});

test('new sessions per address are rate limited with 429 and Retry-After', async (t) => {
  const { url } = await startRelay(t, { sessionsPerIpPerSecond: 2 });
  const results = [];
  for (let i = 0; i < 6; i++) results.push(await post(`${url}/whip/r${i}`, offer()));
  t.deepEqual(results.map((r) => r.status), [201, 201, 201, 201, 429, 429], 'a burst of twice the rate, then 429');
  t.truthy(results[4].headers.get('retry-after'));
  t.regex(JSON.parse(results[4].text).error, /too many new sessions/);
});

// Serial (ahead of the concurrent tests), so the two extra relays do not slow the timing-sensitive
// rate-limit test above.
for (const [via, start] of [['uWS', startRelay], ['node:http', startNodeRelay]]) {
  test.serial(`WebSocket (${via}) publish/view check the token in the message or in hello`, async (t) => {
    const { url } = await start(t, { tokenSecret: SECRET });
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    const inbox = [];
    ws.on('message', (d) => inbox.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    const next = async (pred) => {
      for (let i = 0; i < 200; i++) {
        const m = inbox.find(pred);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no reply');
    };
    ws.send(JSON.stringify({ type: 'hello', version: 1 }));
    await next((m) => m.type === 'hello');
    ws.send(JSON.stringify({ type: 'publish', id: 1, stream: 'w', sdp: offer() }));
    const denied = await next((m) => m.id === 1);
    t.is(denied.type, 'error');
    t.is(denied.code, 'unauthorized');
    ws.send(JSON.stringify({ type: 'publish', id: 2, stream: 'w', sdp: offer(), token: await token({ stream: 'x', action: 'publish' }) }));
    t.is((await next((m) => m.id === 2)).code, 'forbidden');
    ws.send(JSON.stringify({ type: 'publish', id: 3, stream: 'w', sdp: offer(), token: await token({ stream: 'w', action: 'publish' }) }));
    t.is((await next((m) => m.id === 3)).type, 'answer');

    const ws2 = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    const inbox2 = [];
    ws2.on('message', (d) => inbox2.push(JSON.parse(String(d))));
    await new Promise((r) => ws2.once('open', r));
    ws2.send(JSON.stringify({ type: 'hello', version: 1, token: await token({ stream: 'w', action: 'view' }) }));
    ws2.send(JSON.stringify({ type: 'view', id: 9, stream: 'w', sdp: offer({ direction: 'recvonly' }) }));
    for (let i = 0; i < 200 && !inbox2.some((m) => m.id === 9); i++) await new Promise((r) => setTimeout(r, 10));
    t.is(inbox2.find((m) => m.id === 9)?.type, 'answer', 'the hello token covers the view');
    ws.close();
    ws2.close();
  });
}

test('peers per worker: when every worker is full, new sessions get 503', async (t) => {
  const { url } = await startRelay(t, { workers: 2, maxPeersPerWorker: 1 });
  t.is((await post(`${url}/whip/p1`, offer())).status, 201);
  t.is((await post(`${url}/whip/p2`, offer())).status, 201, 'the second worker takes the second peer');
  const full = await post(`${url}/whip/p3`, offer());
  t.is(full.status, 503);
  t.regex(JSON.parse(full.text).error, /limit of 1 peers/);
});
