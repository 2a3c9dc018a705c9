// Binds WebSocket signaling (ts/signaling/) to a node:http server's 'upgrade' event at /ws, with the
// `ws` library; the same protocol, limits and access checks as uws-websocket.ts.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Signaling } from '../signaling/signaling.js';
import { WS_PATH } from './uws-websocket.js';

/**
 * A node:http `'upgrade'` listener for `/ws`: `server.on('upgrade', handler.upgrade)`. Returns
 * false (and leaves the socket alone) for any other path, so another listener may take it.
 */
export type NodeUpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Past this much unsent data on one connection further messages are dropped, as uWS does (maxBackpressure). */
const MAX_BACKPRESSURE = 1024 * 1024;
/** Ping period; a connection that answered none of the last two pings is closed (uWS: idleTimeout 60 s). */
const PING_MS = 30_000;

export interface NodeWebSocket {
  upgrade: NodeUpgradeHandler;
  /** Stops the pings and closes every connection the server still holds. */
  close(): void;
}

export function createNodeWebSocket(signaling: Signaling, maxMessageBytes: number): NodeWebSocket {
  // Frames above maxPayload are not read: ws closes the connection with 1009. Keep that well above
  // our own limit so that an oversized message gets an error frame and the connection survives.
  const wss = new WebSocketServer({ noServer: true, maxPayload: Math.max(1024 * 1024, maxMessageBytes * 4), perMessageDeflate: false, clientTracking: true });
  const alive = new WeakMap<WebSocket, boolean>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, PING_MS);
  pinger.unref();

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    let closed = false;
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    // Any frame shows the peer alive, as any traffic resets uWS's idle timer.
    const conn = signaling.connect(
      {
        send: (text) => {
          if (closed || ws.readyState !== ws.OPEN || ws.bufferedAmount > MAX_BACKPRESSURE) return;
          ws.send(text);
        },
        end: (code, reason) => {
          if (!closed) ws.close(code, reason);
        },
      },
      req.socket.remoteAddress ?? '',
    );
    ws.on('message', (data, isBinary) => {
      alive.set(ws, true);
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      conn.receive(buf, isBinary);
    });
    // 'error' (a protocol violation, a frame over maxPayload) is followed by 'close'.
    ws.on('error', () => undefined);
    ws.on('close', () => {
      closed = true;
      conn.closed();
    });
  });

  return {
    upgrade(req, socket, head) {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== WS_PATH) return false;
      socket.on('error', () => undefined); // a reset during the handshake must not crash the process
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      return true;
    },
    close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
