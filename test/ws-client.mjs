// A WebSocket signaling client for tests: records every server message in order.
import WebSocket from 'ws';

export async function connectWs(t, url) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
  const messages = [];
  const waiters = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    m.at = Date.now();
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  t.teardown(() => ws.terminate());
  const client = {
    ws,
    messages,
    types: () => messages.map((m) => m.type),
    send(msg) {
      ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
    },
    /** The first message (already received or coming) after index `from` that matches. */
    next(pred, from = 0, ms = 5000) {
      const p = typeof pred === 'string' ? (m) => m.type === pred : pred;
      const found = messages.slice(from).find(p);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ pred: p, resolve });
        setTimeout(() => reject(new Error(`no matching message within ${ms} ms; got ${JSON.stringify(messages.map((m) => m.type))}`)), ms).unref();
      });
    },
    /** Sends and waits for the reply carrying the same id. */
    async request(msg, ms = 5000) {
      const from = messages.length;
      client.send(msg);
      return client.next((m) => m.id === msg.id, from, ms);
    },
    close() {
      ws.close();
      return new Promise((resolve) => ws.once('close', resolve));
    },
  };
  return client;
}
