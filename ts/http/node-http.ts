// node:http adapter for the routes in ts/http/routes.ts: lets an Express, Fastify or plain node:http
// service hand WHIP/WHEP/API requests to the relay (and, with node-websocket.ts, /ws upgrades).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, STATUS_TEXT, payloadTooLarge } from './routes.js';
import type { Reply } from './routes.js';
import type { NodeUpgradeHandler } from './node-websocket.js';

/**
 * A node:http request listener; as Express middleware it passes paths it does not own to `next`.
 * `upgrade` is the WebSocket signaling endpoint: `server.on('upgrade', handler.upgrade)`.
 */
export type NodeHandler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void) & { upgrade: NodeUpgradeHandler };

/** Frameworks that mount middleware under a prefix keep the full URL here (Express: originalUrl). */
type FrameworkRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

const pathOf = (url: string): string => url.split('?')[0] || '/';

function write(res: ServerResponse, r: Reply): void {
  if (res.headersSent || res.writableEnded) return;
  for (const [k, v] of r.headers) res.setHeader(k, v);
  res.statusCode = r.status;
  res.statusMessage = STATUS_TEXT[r.status] ?? 'Status';
  res.end(r.body);
}

/** Collects at most `limit` bytes; resolves undefined (after answering 413) when there are more. */
function readBody(req: FrameworkRequest, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  // A body parser that ran before us (e.g. express.text({ type: 'application/sdp' })) consumed the stream.
  if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) {
    const b = Buffer.from(req.body);
    if (b.length <= limit) return Promise.resolve(b);
    write(res, payloadTooLarge(limit));
    return Promise.resolve(undefined);
  }
  // Consumed by something that left no usable body (e.g. a JSON parser): nothing more will come.
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size <= limit) {
        chunks.push(c);
        return;
      }
      req.off('data', onData);
      req.resume(); // discard the rest so that the socket can still carry the 413
      res.setHeader('Connection', 'close');
      write(res, payloadTooLarge(limit));
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (size <= limit) resolve(Buffer.concat(chunks));
    });
    req.once('error', () => resolve(undefined));
  });
}

export function createNodeHandler(router: Router, upgrade: NodeUpgradeHandler): NodeHandler {
  const handle = (request: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    const req = request as FrameworkRequest;
    const path = pathOf(req.url ?? '/');
    if (next && !Router.owns(path)) {
      next();
      return;
    }
    const full = req.originalUrl === undefined ? path : pathOf(req.originalUrl);
    const basePath = full.endsWith(path) ? full.slice(0, full.length - path.length).replace(/\/$/, '') : '';
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const prepared = router.prepare({
      method: (req.method ?? 'GET').toUpperCase(),
      path,
      query: (req.url ?? '').split('?')[1] ?? '',
      headers,
      basePath,
      ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}),
    });
    const send = (r: Reply): void => write(res, r);
    if (!prepared.body) {
      void prepared.reply().then(send);
      return;
    }
    void readBody(req, res, prepared.limit).then((body) => {
      if (body) return prepared.reply(body).then(send);
      return undefined;
    });
  };
  return Object.assign(handle, { upgrade });
}
