import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { HttpError } from './errors.js';
import { assertSdpContentType } from './sdp.js';
import type { SessionManager, SessionRole } from './sessions.js';
import { mountWeb } from './web.js';

const STATUS: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  400: '400 Bad Request',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  406: '406 Not Acceptable',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const CORS: [string, string][] = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Methods', 'GET, POST, DELETE, PATCH, OPTIONS'],
  ['Access-Control-Allow-Headers', 'Content-Type, Authorization, If-Match'],
  ['Access-Control-Expose-Headers', 'Location, ETag, Link'],
];

interface Reply {
  status: number;
  headers?: [string, string][];
  body?: string;
  contentType?: string;
}

/** Aborted-aware response writer: uWS responses must not be touched after the client went away. */
class Responder {
  aborted = false;
  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  send(r: Reply): void {
    if (this.aborted) return;
    this.aborted = true;
    this.res.cork(() => {
      this.res.writeStatus(STATUS[r.status] ?? `${r.status} Status`);
      for (const [k, v] of CORS) this.res.writeHeader(k, v);
      for (const [k, v] of r.headers ?? []) this.res.writeHeader(k, v);
      if (r.body !== undefined) this.res.writeHeader('Content-Type', r.contentType ?? 'application/json');
      this.res.end(r.body ?? '');
    });
  }

  error(err: unknown, log: Logger): void {
    if (err instanceof HttpError) {
      this.send({ status: err.status, body: JSON.stringify({ error: err.message }) });
    } else {
      log.error({ err }, 'request failed');
      this.send({ status: 500, body: JSON.stringify({ error: 'internal error' }) });
    }
  }
}

/** Reads the body with a hard size limit; answers 413 itself when it is exceeded. */
function readBody(res: HttpResponse, out: Responder, limit: number, declared: number, done: (body: Buffer) => void): void {
  if (declared > limit) {
    out.send({ status: 413, body: JSON.stringify({ error: `body larger than ${limit} bytes` }) });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    if (out.aborted) return;
    size += chunk.byteLength;
    if (size > limit) {
      out.send({ status: 413, body: JSON.stringify({ error: `body larger than ${limit} bytes` }) });
      return;
    }
    chunks.push(Buffer.from(new Uint8Array(chunk)));  // uWS reuses the chunk's memory after this call
    if (isLast) done(Buffer.concat(chunks));
  });
}

export interface HttpDeps {
  sessions: SessionManager;
  log: Logger;
  maxBodyBytes: number;
}

function offerRoute(app: TemplatedApp, prefix: 'whip' | 'whep', role: SessionRole, d: HttpDeps): void {
  app.post(`/${prefix}/:stream`, (res: HttpResponse, req: HttpRequest) => {
    const out = new Responder(res);
    const stream = decodeURIComponent(req.getParameter(0) ?? '');
    const contentType = req.getHeader('content-type');
    const declared = Number(req.getHeader('content-length') || 0);
    try {
      assertSdpContentType(contentType);
    } catch (err) {
      out.error(err, d.log);
      return;
    }
    readBody(res, out, d.maxBodyBytes, declared, (body) => {
      try {
        const sdp = body.toString('utf8');
        const r = role === 'publisher' ? d.sessions.publish(stream, sdp) : d.sessions.view(stream, sdp);
        const location = `/${prefix}/${encodeURIComponent(stream)}/${r.session.id}`;
        out.send({ status: 201, headers: [['Location', location], ['ETag', `"${r.session.id}"`]], body: r.answer, contentType: 'application/sdp' });
      } catch (err) {
        out.error(err, d.log);
      }
    });
  });
  app.del(`/${prefix}/:stream/:session`, (res, req) => {
    const out = new Responder(res);
    const stream = decodeURIComponent(req.getParameter(0) ?? '');
    const id = req.getParameter(1) ?? '';
    if (d.sessions.end(role, stream, id)) out.send({ status: 200 });
    else out.send({ status: 404, body: JSON.stringify({ error: `no ${role} session ${id} on stream "${stream}"` }) });
  });
  // Trickle ICE and ICE restarts (PATCH) are not supported: the relay is ICE-lite with all its candidates in the answer.
  app.patch(`/${prefix}/:stream/:session`, (res) => {
    new Responder(res).send({ status: 405, headers: [['Allow', 'DELETE']], body: JSON.stringify({ error: 'trickle ICE / ICE restart (PATCH) is not supported' }) });
  });
}

export function buildApp(d: HttpDeps): TemplatedApp {
  const app = uWS.App();
  offerRoute(app, 'whip', 'publisher', d);
  offerRoute(app, 'whep', 'viewer', d);
  app.options('/*', (res) => new Responder(res).send({ status: 204 }));
  app.get('/api/streams', (res) => new Responder(res).send({ status: 200, body: JSON.stringify({ streams: d.sessions.listStreams() }) }));
  app.get('/healthz', (res) => new Responder(res).send({ status: 200, body: JSON.stringify({ ok: true }) }));
  mountWeb(app, d.log);
  app.any('/*', (res, req) => {
    const out = new Responder(res);
    out.send({ status: 404, body: JSON.stringify({ error: `no route for ${req.getMethod().toUpperCase()} ${req.getUrl()}` }) });
  });
  return app;
}

export { uWS };
