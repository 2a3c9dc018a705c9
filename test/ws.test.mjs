import test from 'ava';
import { spawnPeer, startNodeRelay, startRelay as startUwsRelay, until, sleep, reportWhen } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';
import { connectWs } from './ws-client.mjs';

const pubOffer = offer();
const viewOffer = offer({ direction: 'recvonly' });

async function greeted(t, url) {
  const c = await connectWs(t, url);
  const hello = await c.request({ type: 'hello', id: 'h', version: 1 });
  t.is(hello.type, 'hello');
  return c;
}

// Both transports run the same tests; serially, as the timing checks (viewer-count throttle) are
// measured at the client and twice as many concurrent relays in one process skewed them once.
for (const [via, startRelay] of [['uWS', startUwsRelay], ['node:http', startNodeRelay]]) {
  test.serial(`${via}: bad messages get error frames and the connection stays usable`, async (t) => {
    const { relay, url } = await startRelay(t);
    const c = await connectWs(t, url);
    const err = async (msg, code, pattern) => {
      const from = c.messages.length;
      c.send(msg);
      const m = await c.next('error', from);
      t.is(m.code, code, `${String(msg).slice(0, 60)} → ${m.message}`);
      if (pattern) t.regex(m.message, pattern);
      return m;
    };
    await err({ type: 'publish', id: 1, stream: 'a', sdp: pubOffer }, 'hello_required', /hello/);
    await err({ type: 'hello', version: 2 }, 'unsupported_version', /supported: 1/);
    const hello = await c.request({ type: 'hello', id: 7, version: 1 });
    t.like(hello, { type: 'hello', id: 7, version: 1 });
    t.regex(hello.server, /^halfsec\/\d+\.\d+\.\d+/);

    await err('{"type": "hello"', 'bad_json');
    await err('[1,2]', 'bad_message', /JSON object/);
    await err({ type: 'dance' }, 'unknown_type', /hello, publish, view, select, stop/);
    t.is((await err({ type: 'publish', id: 'p1', stream: 'a' }, 'bad_message', /"sdp"/)).id, 'p1', 'errors carry the request id');
    await err({ type: 'view', stream: 5, sdp: viewOffer }, 'bad_message', /"stream" must be a string/);
    await err({ type: 'select', maxBitrate: 5 }, 'bad_message', /maxBitrate/);
    await err(Buffer.from([1, 2, 3]), 'binary_not_supported');
    await err(JSON.stringify({ type: 'publish', stream: 'a', sdp: `v=0\r\n${'a=x\r\n'.repeat(14000)}` }), 'too_large', /65536/);
    await err({ type: 'publish', stream: 'a', sdp: 'hello' }, 'bad_request', /SDP/);
    await err({ type: 'publish', stream: 'no spaces', sdp: pubOffer }, 'bad_request', /stream name/);
    await err({ type: 'view', stream: 'later', sdp: pubOffer }, 'bad_request', /recvonly/, 'a held view is checked before it is held');
    await err({ type: 'select', layer: 'h' }, 'not_found', /no viewer session/);
    await err({ type: 'stop', session: 'nope' }, 'not_found');

    const answer = await c.request({ type: 'publish', id: 'ok', stream: 'a', sdp: pubOffer });
    t.is(answer.type, 'answer', 'still serving after all of that');
    t.regex(answer.sdp, /a=ice-lite/);
    t.is(c.ws.readyState, 1);
    const dup = await c.request({ type: 'publish', id: 'dup', stream: 'a', sdp: pubOffer });
    t.like(dup, { type: 'error', code: 'conflict' });
    t.is(relay.stats().streams, 1);

    // Past the hard limit the connection is dropped unread (docs/websocket.md): uWebSockets.js
    // closes the TCP connection (1006), ws sends a close frame (1009, message too big).
    const big = await connectWs(t, url);
    const code = new Promise((resolve) => big.ws.on('close', (c) => resolve(c)));
    big.send('x'.repeat(2 * 1024 * 1024));
    t.is(await code, via === 'uWS' ? 1006 : 1009);
    t.is(c.ws.readyState, 1, 'other connections are untouched');
  });

  test.serial(`${via}: a held view is answered when the publisher arrives; events come in order; closing a socket ends its sessions`, async (t) => {
    const { relay, url } = await startRelay(t);
    const v1 = await greeted(t, url);
    const v2 = await greeted(t, url);
    t.like(await v1.request({ type: 'view', id: 'v', stream: 'cam', sdp: viewOffer }), { type: 'inactive', stream: 'cam' }, 'told at once that the stream is not live');
    // A held view takes preferences before it has a session.
    t.like(await v1.request({ type: 'select', id: 's0', maxBitrate: 500000 }), { type: 'ack', sessions: [] });
    v2.send({ type: 'view', id: 'v', stream: 'cam', sdp: viewOffer });
    await v2.next('inactive');
    t.is(relay.stats().viewers, 0);

    const pub = await greeted(t, url);
    const started = await pub.request({ type: 'publish', id: 'p', stream: 'cam', sdp: pubOffer });
    t.like(started, { type: 'answer', role: 'publisher', stream: 'cam' });

    const a1 = await v1.next((m) => m.type === 'answer');
    t.like(a1, { id: 'v', role: 'viewer', stream: 'cam' });
    t.regex(a1.sdp, /a=sendonly/);
    await v1.next('viewercount');
    await v2.next('viewercount');
    t.deepEqual(v1.types(), ['hello', 'inactive', 'ack', 'answer', 'active', 'layers', 'viewercount']);
    t.like(v1.messages[5], { stream: 'cam', layers: [{ id: 'default', codec: 'H264', active: true }] });
    t.like(v1.messages.at(-1), { stream: 'cam', viewers: 2 });
    t.like(await pub.next('viewercount'), { viewers: 2 }, 'the publisher hears the count too');
    t.is(relay.stats().viewers, 2);

    const detail = await (await fetch(`${url}/api/streams/cam`)).json();
    const mine = detail.viewers.find((v) => v.session === a1.session);
    t.deepEqual(mine.preferences, { maxBitrate: 500000 }, 'preferences given while held were stored on the session');
    const ack = await v1.request({ type: 'select', id: 's1', layer: 'default' });
    t.like(ack, { type: 'ack', for: 'select', sessions: [a1.session], preferences: { layer: 'default', maxBitrate: 500000 } });

    // v1 goes away without a word: its viewer session must end with it.
    await v1.close();
    t.true(await until(() => relay.stats().viewers === 1), 'closing the socket ended its session');
    const counts = await v2.next((m) => m.type === 'viewercount' && m.viewers === 1, 0, 3000);
    const first = v2.messages.find((m) => m.type === 'viewercount');
    t.true(counts.at - first.at >= 900, `viewer counts are throttled (${counts.at - first.at} ms apart)`);

    const before = v2.messages.length;
    t.like(await pub.request({ type: 'stop', id: 'bye' }), { type: 'ack', for: 'stop', sessions: [started.session] });
    t.like(await pub.next('stopped'), { session: started.session, reason: 'publisher left' });
    await v2.next('stopped', before);
    t.deepEqual(v2.types().slice(before), ['inactive', 'stopped']);
    t.like(v2.messages.at(-1), { stream: 'cam', reason: 'stream ended' });
    t.true(v2.ws.readyState === 1, 'the connection outlives its sessions');

    await v2.close();
    await pub.close();
    t.true(await until(() => relay.stats().signalingConnections === 0));
    t.like(relay.stats(), { streams: 0, viewers: 0, sessions: 0 });
    await sleep(50);
    t.is(relay.stats().workers.reduce((a, w) => a + w.peers, 0), 0, 'no native peer left behind');
  });

  test.serial(`${via}: closing a publisher socket ends the stream for every viewer`, async (t) => {
    const { relay, url } = await startRelay(t);
    const pub = await greeted(t, url);
    await pub.request({ type: 'publish', id: 1, stream: 'x', sdp: pubOffer });
    const v = await greeted(t, url);
    await v.request({ type: 'view', id: 2, stream: 'x', sdp: viewOffer });
    await v.next('active');
    await pub.close();
    t.like(await v.next('stopped'), { reason: 'stream ended' });
    t.like(relay.stats(), { streams: 0, viewers: 0, sessions: 0 });
  });

  test.serial(`${via}: real peers: a WebSocket viewer that arrives before the publisher gets the media`, async (t) => {
    const PACKETS = 100;
    const { relay, url } = await startRelay(t);
    const ws = `${url.replace('http', 'ws')}/ws?stream=live`;
    const viewers = spawnPeer(t, 'viewers.mjs', [ws, '2']);
    const wsEvents = (p, type) => p.messages.filter((m) => m.event === 'ws' && m.type === type);
    t.true(await until(() => wsEvents(viewers, 'inactive').length >= 1, 15000), 'the viewer is told the stream is not live');
    t.is(relay.stats().viewers, 0);

    const pub = spawnPeer(t, 'publisher.mjs', [ws, String(PACKETS), '10', 'both']);
    await pub.waitFor('open', 20000);
    t.is((await viewers.waitFor('ready', 30000)).open, 2);
    pub.send('start');
    await pub.waitFor('sent', 30000);
    const report = await reportWhen(viewers, (report) => report.viewers.every((v) => v.video.length >= PACKETS && v.audio.length >= PACKETS), 5000);
    const all = Array.from({ length: PACKETS }, (_, i) => i);
    for (const v of report.viewers) {
      t.deepEqual(v.video, all, `viewer ${v.index} got every video packet`);
      t.deepEqual(v.audio, all, `viewer ${v.index} got every audio packet`);
      t.is(v.bad, 0);
    }
    // Held views: each join time runs from the stream going live to the first packet sent.
    const joins = relay.stats().joins;
    t.is(joins.count, 2, 'a join time per WebSocket viewer');
    t.true(joins.maxSeconds > 0 && joins.maxSeconds < 30, `join times ${JSON.stringify(joins)}`);
    const order = viewers.messages.filter((m) => m.event === 'ws' && m.type !== 'hello').map((m) => m.type);
    t.is(order[0], 'inactive', 'the first view was held');
    t.true(order.indexOf('answer') < order.indexOf('active') && order.indexOf('active') < order.indexOf('viewercount'), order.join(','));

    t.is((await pub.request('delete', 'deleted')).status, 200);
    t.true(await until(() => wsEvents(viewers, 'stopped').length === 2, 5000));
    const tail = viewers.messages.filter((m) => m.event === 'ws').map((m) => m.type);
    t.true(tail.lastIndexOf('inactive') < tail.lastIndexOf('stopped'));
    t.true(await until(() => relay.stats().sessions === 0 && relay.stats().streams === 0));
  });
}
