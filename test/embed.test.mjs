import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import uWS from 'uWebSockets.js';
import { createRelay } from '../dist/index.js';
import { spawnGroup, spawnPeer, startRelay, until, reportWhen } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs an example as its own process (guarded like every peer) and waits for its URL. */
async function runExample(t, name, env) {
  const { child } = spawnGroup(t, process.execPath, [`examples/${name}`], { limitSec: 60, cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = [];
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = JSON.parse(l);
      lines.push(m);
      if (m.event === 'listening') resolve(m.url);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${stderr}`)));
    setTimeout(() => reject(new Error(`${name} did not start: ${stderr}`)), 15000).unref();
  });
  return { url, lines, child };
}

test.serial('the node:http embedding example serves WHIP and WHEP to real peers', async (t) => {
  const PACKETS = 60;
  const base = 43000 + Math.floor(Math.random() * 100) * 10;
  const ex = await runExample(t, 'embed-node-http.mjs', { PORT: '0', HOST: '127.0.0.1', RTC_BIND: '127.0.0.1', RTC_PORTS: `${base}-${base + 9}` });
  t.is(await (await fetch(`${ex.url}/`)).text(), 'my service\n', "the service's own routes still answer");

  const pub = spawnPeer(t, 'publisher.mjs', [`${ex.url}/whip/embedded`, String(PACKETS), '10', 'both']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${ex.url}/whep/embedded`, '1']);
  t.is((await viewers.waitFor('ready', 30000)).open, 1);
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (report) => report.viewers[0].video.length >= PACKETS, 5000);
  t.is(report.viewers[0].video.length, PACKETS);
  t.is(report.viewers[0].audio.length, PACKETS);
  const list = await (await fetch(`${ex.url}/api/streams`)).json();
  t.like(list.streams[0], { name: 'embedded', viewers: 1 });
  t.true(ex.lines.some((l) => l.event === 'stream:start' && l.stream === 'embedded'), 'typed events reach the embedding code');
  t.is((await viewers.request('leave 0', 'left')).status, 200, 'DELETE through the adapter');
});

/** The same requests against any server carrying the relay's routes; answers must agree. */
async function exercise(t, url) {
  const created = await fetch(`${url}/whip/same`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer() });
  t.is(created.status, 201);
  const location = created.headers.get('location');
  t.regex(location, /\/whip\/same\/[0-9a-f]{24}$/);
  const detail = await (await fetch(`${url}/api/streams/same`)).json();
  t.like(detail, { name: 'same', viewers: [], bitrate: null });
  t.deepEqual(detail.codecs.map((c) => c.name).sort(), ['H264', 'opus']);
  t.is((await fetch(`${url}/api/streams/other`)).status, 404);
  t.is((await fetch(`${url}/whip/same`, { method: 'GET' })).status, 405);
  const bad = await fetch(`${url}/whep/same`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
  t.is(bad.status, 415);
  t.regex((await bad.json()).error, /application\/sdp/);
  const big = await fetch(`${url}/whip/big`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' + 'a=x\r\n'.repeat(14000) });
  t.is(big.status, 413);
  t.is((await fetch(new URL(location, url), { method: 'DELETE' })).status, 200);
  return location;
}

test.serial('nodeHandler and attach() answer exactly like the standalone server', async (t) => {
  const { url } = await startRelay(t);
  await exercise(t, url);

  // node:http, mounted under a prefix the way Express mounts middleware.
  const base = 44000 + Math.floor(Math.random() * 100) * 10;
  const relay = createRelay({ host: '127.0.0.1', rtcBindAddress: '127.0.0.1', rtcPortMin: base, rtcPortMax: base + 9, workers: 1, logLevel: 'silent' });
  t.teardown(() => relay.close());
  const handle = relay.nodeHandler();
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    if (!req.url.startsWith('/relay/')) return res.end('app');
    req.originalUrl = req.url;
    req.url = req.url.slice('/relay'.length);
    handle(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const location = await exercise(t, `http://127.0.0.1:${server.address().port}/relay`);
  t.true(location.startsWith('/relay/whip/'), `Location keeps the mount prefix: ${location}`);

  // uWS: the relay's routes on an app that has its own.
  const relay2 = createRelay({ host: '127.0.0.1', rtcBindAddress: '127.0.0.1', rtcPortMin: base + 10, rtcPortMax: base + 19, workers: 1, logLevel: 'silent' });
  const app = uWS.App();
  app.get('/mine', (res) => res.end('mine'));
  relay2.attach(app);
  const listenSocket = await new Promise((resolve) => app.listen('127.0.0.1', 0, resolve));
  t.teardown(() => uWS.us_listen_socket_close(listenSocket));
  const port = uWS.us_socket_local_port(listenSocket);
  const u = `http://127.0.0.1:${port}`;
  await exercise(t, u);
  t.is(await (await fetch(`${u}/mine`)).text(), 'mine');
  await relay2.close();
  t.is((await fetch(`${u}/whip/x`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer() })).status, 503, 'after close() the mounted routes refuse');
  t.like(relay2.stats(), { streams: 0, viewers: 0, sessions: 0, workers: [] }, 'stats after close() report an empty relay');
});

test.serial('nodeHandler takes a body a parser already read, and passes foreign paths to next()', async (t) => {
  const base = 44500 + Math.floor(Math.random() * 50) * 10;
  const relay = createRelay({ host: '127.0.0.1', rtcBindAddress: '127.0.0.1', rtcPortMin: base, rtcPortMax: base + 9, workers: 1, logLevel: 'silent' });
  t.teardown(() => relay.close());
  const handle = relay.nodeHandler();
  const http = await import('node:http');
  const server = http.createServer(async (req, res) => {
    // What express.text({ type: 'application/sdp' }) does before the middleware runs.
    const chunks = [];
    for await (const c of req) chunks.push(c);
    if (req.headers['x-parsed'] === 'string') req.body = Buffer.concat(chunks).toString();
    else if (req.headers['x-parsed'] === 'object') req.body = {};
    handle(req, res, () => res.end('next'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const u = `http://127.0.0.1:${server.address().port}`;
  const post = (kind) => fetch(`${u}/whip/parsed-${kind}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', 'X-Parsed': kind }, body: offer() });
  t.is((await post('string')).status, 201);
  const obj = await post('object');
  t.is(obj.status, 400, 'a consumed body is an empty offer, not a hang');
  t.regex((await obj.json()).error, /not an SDP offer/);
  t.is(await (await fetch(`${u}/elsewhere`)).text(), 'next');
});
