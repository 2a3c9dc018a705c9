// uWebSockets.js adapter for the routes in ts/http/routes.ts (and the /ws endpoint of ts/http/uws-websocket.ts).
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { MOUNT_PATHS, STATUS_TEXT, payloadTooLarge } from './routes.js';
import type { Reply, Router } from './routes.js';
import { mountWebSocket } from './uws-websocket.js';
import type { Signaling } from '../signaling/signaling.js';
import { mountWeb } from './web.js';

export interface HttpDeps {
  router: Router;
  log: Logger;
  /** WebSocket signaling on /ws; omitted = no WebSocket endpoint. */
  signaling?: Signaling;
  maxMessageBytes: number;
}

/** Aborted-aware response writer: uWS responses must not be touched after the client went away. */
class Responder {
  done = false;
  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.done = true;
    });
  }

  send(r: Reply): void {
    if (this.done) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(`${r.status} ${STATUS_TEXT[r.status] ?? 'Status'}`);
      for (const [k, v] of r.headers) this.res.writeHeader(k, v);
      this.res.end(r.body);
    });
  }
}

/** Reads the body with a hard size limit; answers 413 itself when it is exceeded. */
function readBody(res: HttpResponse, out: Responder, limit: number, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    if (out.done) return;
    size += chunk.byteLength;
    if (size > limit) {
      out.send(payloadTooLarge(limit));
      return;
    }
    chunks.push(Buffer.from(new Uint8Array(chunk))); // uWS reuses the chunk's memory after this call
    if (isLast) done(Buffer.concat(chunks));
  });
}

function handler(d: HttpDeps) {
  return (res: HttpResponse, req: HttpRequest): void => {
    const out = new Responder(res);
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = v;
    });
    const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    const prepared = d.router.prepare({ method: req.getMethod().toUpperCase(), path: req.getUrl(), query: req.getQuery() ?? '', headers, basePath: '', remoteAddress });
    const send = (r: Reply): void => out.send(r);
    if (!prepared.body) {
      void prepared.reply().then(send);
      return;
    }
    readBody(res, out, prepared.limit, (body) => void prepared.reply(body).then(send));
  };
}

/** Adds the relay's routes (and /ws) to an existing uWS app; the app's other routes stay its own. */
export function mountRelay(app: TemplatedApp, d: HttpDeps): void {
  const h = handler(d);
  for (const p of MOUNT_PATHS) {
    app.any(p, h);
    app.any(`${p}/*`, h);
  }
  if (d.signaling) mountWebSocket(app, d.signaling, d.maxMessageBytes);
}

/** The standalone server: the relay's routes plus JSON 404s and CORS preflight for everything else. */
export function buildApp(d: HttpDeps): TemplatedApp {
  const app = uWS.App();
  mountRelay(app, d);
  mountWeb(app, d.log);
  app.any('/*', handler(d));
  return app;
}

export { uWS };
