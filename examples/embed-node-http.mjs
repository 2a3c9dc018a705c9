// Embedding halfsec in an existing node:http service: the service keeps its own routes and hands
// WHIP, WHEP, /api, /metrics and /healthz to the relay, and WebSocket signaling (/ws) through the
// server's 'upgrade' event. With Express it is `app.use(handler)` and `server.on('upgrade', handler.upgrade)`.
//
//   node examples/embed-node-http.mjs          (PORT, RTC_BIND, RTC_PORTS, ANNOUNCE_IP to change the defaults)
import http from 'node:http';
import { createRelay } from 'halfsec';

const [rtcMin, rtcMax] = (process.env.RTC_PORTS ?? '40000-40099').split('-').map(Number);
const relay = createRelay({
  rtcBindAddress: process.env.RTC_BIND ?? '0.0.0.0',
  rtcPortMin: rtcMin,
  rtcPortMax: rtcMax,
  ...(process.env.ANNOUNCE_IP ? { announcedIps: [process.env.ANNOUNCE_IP] } : {}),
  workers: 2,
  logLevel: 'warn',
});
relay.on('stream:start', ({ stream }) => console.log(JSON.stringify({ event: 'stream:start', stream })));
relay.on('viewer:join', ({ stream, session }) => console.log(JSON.stringify({ event: 'viewer:join', stream, session })));

const relayRoutes = relay.nodeHandler();
const server = http.createServer((req, res) => {
  // Paths the relay does not own fall through to the service's own handling.
  relayRoutes(req, res, () => {
    res.setHeader('Content-Type', 'text/plain');
    res.end('my service\n');
  });
});

server.on('upgrade', (req, socket, head) => {
  if (!relayRoutes.upgrade(req, socket, head)) socket.destroy(); // no other WebSocket endpoints here
});

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '0.0.0.0', () => {
  const { address, port } = server.address();
  console.log(JSON.stringify({ event: 'listening', url: `http://${address}:${port}` }));
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await relay.close(); // ends every session and frees the native engine
    process.exit(0);
  });
}
