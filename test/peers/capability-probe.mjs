// Runs inside a network namespace (test/capabilities.test.mjs): a relay on its default access
// settings (no admin token), sessions created from loopback, then every read route probed from a
// non-loopback address of the namespace. Prints one JSON line with what the outsider saw.
import { request } from 'node:http';
import { createRelay } from '../../dist/index.js';
import WebSocket from 'ws';
import { offer } from '../sdp-fixtures.mjs';

setTimeout(() => process.exit(3), 30000).unref();
const OUTSIDE = process.argv[2];

function http(method, host, port, path, { body, localAddress, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ method, host, port, path, localAddress, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const relay = createRelay({ host: '0.0.0.0', port: 0, rtcBindAddress: '127.0.0.1', rtcPortMin: 46000, rtcPortMax: 46009, workers: 1, logLevel: 'silent', sessionsPerIpPerSecond: 0 });
const { port } = await relay.listen();
const sdp = { 'Content-Type': 'application/sdp' };
const pub = await http('POST', '127.0.0.1', port, '/whip/cam', { body: offer(), headers: sdp });
const view = await http('POST', OUTSIDE, port, '/whep/cam', { body: offer({ direction: 'recvonly' }), headers: sdp, localAddress: OUTSIDE });
const ids = [pub.headers.location.split('/').pop(), view.headers.location.split('/').pop()];

const seen = {};
for (const path of ['/api/streams', '/api/streams/cam', '/api/stats', '/api/cluster', '/metrics', '/healthz', '/api/director/cam']) {
  const r = await http('GET', OUTSIDE, port, path, { localAddress: OUTSIDE });
  seen[path] = { status: r.status, leaks: ids.some((id) => r.text.includes(id) || JSON.stringify(r.headers).includes(id)) };
}
// The WebSocket: an outsider's own view, then a stop naming the other sessions.
const ws = new WebSocket(`ws://${OUTSIDE}:${port}/ws`, { localAddress: OUTSIDE });
const frames = [];
ws.on('message', (d) => frames.push(String(d)));
await new Promise((r) => ws.on('open', r));
ws.send(JSON.stringify({ type: 'hello', version: 1 }));
ws.send(JSON.stringify({ type: 'view', stream: 'cam', sdp: offer({ direction: 'recvonly' }) }));
await new Promise((r) => setTimeout(r, 500));
const wsLeaks = frames.some((f) => ids.some((id) => f.includes(id)));
// Even knowing the ids, a connection stops only sessions it started.
for (const id of ids) ws.send(JSON.stringify({ type: 'stop', session: id }));
await new Promise((r) => setTimeout(r, 300));

// DELETE without the resource URL: guessed ids and another stream's path.
const deletes = [];
for (const path of ['/whip/cam/0', `/whip/other/${ids[0]}`, '/whep/cam/' + '0'.repeat(24), `/whep/cam/${ids[0]}`]) {
  deletes.push((await http('DELETE', OUTSIDE, port, path, { localAddress: OUTSIDE })).status);
}
const alive = relay.stats().sessions;
const adminFromLoopback = JSON.parse((await http('GET', '127.0.0.1', port, '/api/streams/cam')).text);
const ownDelete = (await http('DELETE', OUTSIDE, port, new URL(view.headers.location, 'http://x').pathname, { localAddress: OUTSIDE })).status;
console.log(JSON.stringify({ seen, wsLeaks, deletes, alive, adminSeesIds: JSON.stringify(adminFromLoopback).includes(ids[0]), ownDelete, after: relay.stats().sessions }));
ws.terminate();
await relay.close();
process.exit(0);
