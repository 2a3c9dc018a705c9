import test from 'ava';
import { startRelay } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

async function post(url, body, type = 'application/sdp') {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

function errorOf(r) {
  return JSON.parse(r.text).error;
}

test('a valid WHIP offer gets 201, a Location and an ICE-lite DTLS-passive answer', async (t) => {
  const { url } = await startRelay(t);
  const r = await post(`${url}/whip/cam1`, offer());
  t.is(r.status, 201);
  t.regex(r.headers.get('location'), /^\/whip\/cam1\/[0-9a-f]{24}$/);
  t.is(r.headers.get('content-type'), 'application/sdp');
  t.regex(r.text, /a=ice-lite/);
  t.regex(r.text, /a=setup:passive/);
  t.regex(r.text, /a=rtpmap:102 H264\/90000/);
  t.regex(r.text, /a=rtpmap:111 opus\/48000\/2/);
  t.regex(r.text, /a=recvonly/);
  t.regex(r.text, /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
  t.regex(r.text, /a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  t.regex(r.text, /a=group:BUNDLE 0 1/);

  const second = await post(`${url}/whip/cam1`, offer());
  t.is(second.status, 409, 'one publisher per stream');

  const del = await fetch(`${url}${r.headers.get('location')}`, { method: 'DELETE' });
  t.is(del.status, 200);
  const again = await fetch(`${url}${r.headers.get('location')}`, { method: 'DELETE' });
  t.is(again.status, 404);
});

test('WHEP answers with the publisher codec and the viewer payload types; 404 when not live', async (t) => {
  const { url } = await startRelay(t);
  const notLive = await post(`${url}/whep/nobody`, offer({ direction: 'recvonly' }));
  t.is(notLive.status, 404);
  t.regex(errorOf(notLive), /not live/);

  t.is((await post(`${url}/whip/vp8cam`, offer({ video: 'VP8', kinds: ['video'] }))).status, 201);
  const viewerOffer = offer({ direction: 'recvonly' }).replace('m=video 9 UDP/TLS/RTP/SAVPF 102', 'm=video 9 UDP/TLS/RTP/SAVPF 102 98').replace('a=rtpmap:102 H264/90000', 'a=rtpmap:102 H264/90000\r\na=rtpmap:98 VP8/90000');
  const w = await post(`${url}/whep/vp8cam`, viewerOffer);
  t.is(w.status, 201, w.text);
  t.regex(w.text, /m=video 9 UDP\/TLS\/RTP\/SAVPF 98\r\n/);
  t.regex(w.text, /a=sendonly/);
  t.regex(w.text, /a=ssrc:\d+ cname:/);
  t.regex(w.text, /m=audio 0 /, 'the audio section is rejected: the stream has none');

  const h264Only = await post(`${url}/whep/vp8cam`, offer({ direction: 'recvonly', kinds: ['video'] }));
  t.is(h264Only.status, 406);
  t.regex(errorOf(h264Only), /VP8/);
});

test('bad input gets a 4xx with a message and the server keeps serving', async (t) => {
  const { url } = await startRelay(t);
  const cases = [
    ['malformed SDP', await post(`${url}/whip/a`, 'hello world'), 400, /SDP/],
    ['garbage after v=0', await post(`${url}/whip/a`, 'v=0\r\nm=video x y\r\n\u0000\u0001'), 400, /./],
    ['no audio or video', await post(`${url}/whip/a`, offer({ kinds: [], app: true })), 400, /no audio or video/],
    ['unsupported codec only', await post(`${url}/whip/a`, offer({ video: 'H261', kinds: ['video'] })), 400, /no codec the relay supports/],
    ['no rtcp-mux', await post(`${url}/whip/a`, offer({ rtcpMux: false })), 400, /rtcp-mux/],
    ['recvonly publish', await post(`${url}/whip/a`, offer({ direction: 'recvonly' })), 400, /sendonly/],
    ['oversized body', await post(`${url}/whip/a`, `v=0\r\n${'a=x\r\n'.repeat(14000)}`), 413, /larger than 65536/],
    ['wrong content type', await post(`${url}/whip/a`, offer(), 'text/plain'), 415, /application\/sdp/],
    ['bad stream name', await post(`${url}/whip/${'x'.repeat(200)}`, offer()), 400, /stream name/],
    ['empty body', await post(`${url}/whip/a`, ''), 400, /SDP/],
  ];
  for (const [name, r, status, msg] of cases) {
    t.is(r.status, status, `${name}: ${r.text}`);
    t.regex(errorOf(r), msg, name);
  }
  const unknown = await fetch(`${url}/whip/a/0123456789abcdef01234567`, { method: 'DELETE' });
  t.is(unknown.status, 404);
  t.regex((await unknown.json()).error, /no publisher session/);
  const patch = await fetch(`${url}/whip/a/x`, { method: 'PATCH', body: 'a=candidate' });
  t.is(patch.status, 405);
  const health = await fetch(`${url}/healthz`);
  t.is(health.status, 200);
  const good = await post(`${url}/whip/a`, offer());
  t.is(good.status, 201, 'still serving after all of that');
});

test('a second relay on a port in use fails to listen instead of sharing it (no SO_REUSEPORT split)', async (t) => {
  // A fixed port, as an operator gives it (the kernel shares an ephemeral one less readily).
  const { createServer } = await import('node:net');
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const fixed = probe.address().port;
  await new Promise((r) => probe.close(r));
  const { port, url } = await startRelay(t, { port: fixed });
  const { createRelay } = await import('../dist/index.js');
  const second = createRelay({ host: '127.0.0.1', port, rtcBindAddress: '127.0.0.1', rtcPortMin: 46900, rtcPortMax: 46919, workers: 1, logLevel: 'silent' });
  t.teardown(() => second.close());
  await t.throwsAsync(second.listen(), { message: new RegExp(`could not listen on 127\\.0\\.0\\.1:${port}`) });
  // Every request still reaches the first relay.
  for (let i = 0; i < 5; i++) t.is((await fetch(`${url}/healthz`)).status, 200);
});
