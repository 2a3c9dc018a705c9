// Binds WebSocket signaling (ts/signaling/) to a uWebSockets.js app at /ws.
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { SignalingConnection } from '../signaling/connection.js';
import type { Signaling } from '../signaling/signaling.js';

interface UserData {
  conn?: SignalingConnection;
  closed: boolean;
}

export const WS_PATH = '/ws';

export function mountWebSocket(app: TemplatedApp, signaling: Signaling, maxMessageBytes: number): void {
  app.ws<UserData>(WS_PATH, {
    // uWS drops the connection above maxPayloadLength; keep that well above our own limit so that
    // an oversized message gets an error frame and the connection survives.
    maxPayloadLength: Math.max(1024 * 1024, maxMessageBytes * 4),
    idleTimeout: 60,
    sendPingsAutomatically: true,
    maxBackpressure: 1024 * 1024,
    upgrade: (res, req, context) => {
      res.upgrade<UserData>(
        { closed: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws: WebSocket<UserData>) => {
      const data = ws.getUserData();
      const remoteAddress = Buffer.from(ws.getRemoteAddressAsText()).toString();
      data.conn = signaling.connect(
        {
          send: (text) => {
            if (!data.closed) ws.send(text, false);
          },
          end: (code, reason) => {
            if (!data.closed) ws.end(code, reason);
          },
        },
        remoteAddress,
      );
    },
    message: (ws, message, isBinary) => {
      // The ArrayBuffer is only valid during this call: copy before anything else.
      ws.getUserData().conn?.receive(Buffer.from(new Uint8Array(message)), isBinary);
    },
    close: (ws) => {
      const data = ws.getUserData();
      data.closed = true;
      data.conn?.closed();
    },
  });
}
