import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { checkStreamName } from '../media/streams.js';

/**
 * The only files served, and their types. URLs never become file paths: a request names an entry
 * of this list or gets a 404, so no path traversal can reach the disk.
 */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'publish.html': 'text/html; charset=utf-8',
  'watch.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'index.js': 'text/javascript; charset=utf-8',
  'publish.js': 'text/javascript; charset=utf-8',
  'watch.js': 'text/javascript; charset=utf-8',
  'whip-whep.js': 'text/javascript; charset=utf-8',
  'ws-view.js': 'text/javascript; charset=utf-8',
  'clock-code.js': 'text/javascript; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Where the pages live: web/ next to dist/ in the repository and in the npm package. */
export const WEB_DIR = new URL('../../web/', import.meta.url);

/** Reads every allowed file once; files missing from `dir` are left out (and then answer 404). */
export function loadWebAssets(dir: URL = WEB_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) {
    let body: Buffer;
    try {
      body = readFileSync(new URL(name, dir));
    } catch {
      continue;
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { body, type, etag });
  }
  return assets;
}

function notFound(res: HttpResponse, message: string): void {
  res.cork(() => {
    res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: message }));
  });
}

/**
 * `no-cache` = revalidate every time: the files have no version in their names, so a long max-age
 * would pair a new relay with stale modules; the ETag makes revalidation a bodiless 304.
 */
function serve(res: HttpResponse, req: HttpRequest, asset: Asset | undefined, what: string): void {
  if (!asset) {
    notFound(res, `${what} is not installed with this relay`);
    return;
  }
  const fresh = req.getHeader('if-none-match') === asset.etag;
  res.cork(() => {
    res.writeStatus(fresh ? '304 Not Modified' : '200 OK');
    res.writeHeader('Cache-Control', 'no-cache');
    res.writeHeader('ETag', asset.etag);
    res.writeHeader('X-Content-Type-Options', 'nosniff');
    if (fresh) {
      res.endWithoutBody();
      return;
    }
    res.writeHeader('Content-Type', asset.type);
    res.end(asset.body);
  });
}

function page(app: TemplatedApp, prefix: 'publish' | 'watch', asset: Asset | undefined): void {
  app.get(`/${prefix}/:stream`, (res, req) => {
    try {
      checkStreamName(decodeURIComponent(req.getParameter(0) ?? ''));
    } catch (err) {
      notFound(res, `no such page: ${(err as Error).message}`);
      return;
    }
    serve(res, req, asset, `${prefix}.html`);
  });
}

/** Mounts `/`, `/publish/<stream>`, `/watch/<stream>` and `/web/<file>`. */
export function mountWeb(app: TemplatedApp, log: Logger, dir: URL = WEB_DIR): void {
  const assets = loadWebAssets(dir);
  if (assets.size < Object.keys(FILES).length) log.warn({ dir: dir.pathname, found: [...assets.keys()] }, 'some web pages are missing');
  app.get('/', (res, req) => serve(res, req, assets.get('index.html'), 'index.html'));
  page(app, 'publish', assets.get('publish.html'));
  page(app, 'watch', assets.get('watch.html'));
  app.get('/web/:file', (res, req) => {
    const name = req.getParameter(0) ?? '';
    const asset = Object.hasOwn(FILES, name) ? assets.get(name) : undefined;
    if (!asset) notFound(res, `no such file: /web/${name}`);
    else serve(res, req, asset, name);
  });
}
