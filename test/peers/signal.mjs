// How a test peer exchanges its offer and answer: WHIP/WHEP over HTTP, or the relay's WebSocket
// protocol when the URL is ws://host:port/ws?stream=<name> (see docs/websocket.md).
import WebSocket from 'ws';
import { postOffer, send } from './common.mjs';

/** Returns { answer, stop() → status }; WebSocket messages are echoed as {event:'ws', ...msg}. */
export async function signal(url, offer, role) {
  if (!url.startsWith('ws')) {
    const { answer, location } = await postOffer(url, offer);
    return {
      answer,
      async stop() {
        return (await fetch(location, { method: 'DELETE' })).status;
      },
    };
  }
  const u = new URL(url);
  const stream = u.searchParams.get('stream');
  const ws = new WebSocket(`${u.origin}${u.pathname}`);
  const waiters = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    send({ event: 'ws', ...msg, at: Date.now() });
    for (const w of waiters.splice(0)) if (!w(msg)) waiters.push(w);
  });
  ws.on('close', () => send({ event: 'ws-closed' }));
  const next = (pred) => new Promise((resolve) => waiters.push((m) => (pred(m) ? (resolve(m), true) : false)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'hello', version: 1 }));
  await next((m) => m.type === 'hello');
  ws.send(JSON.stringify({ type: role === 'publisher' ? 'publish' : 'view', id: 1, stream, sdp: offer }));
  const reply = await next((m) => m.id === 1 && (m.type === 'answer' || m.type === 'error'));
  if (reply.type === 'error') throw new Error(`${url}: ${reply.code} ${reply.message}`);
  return {
    answer: reply.sdp,
    session: reply.session,
    ws,
    async stop() {
      ws.send(JSON.stringify({ type: 'stop', id: 2, session: reply.session }));
      const ack = await next((m) => m.id === 2);
      return ack.type === 'ack' ? 200 : 404;
    },
  };
}
