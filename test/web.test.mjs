import test from 'ava';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { startRelay } from './helpers.mjs';

/** A raw GET: fetch() would normalise "/web/../x" before sending it, hiding what the relay does. */
function rawGet(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('pages and modules are served with their content types and revalidating cache headers', async (t) => {
  const { port } = await startRelay(t);
  const cases = [
    ['/', 'text/html; charset=utf-8', 'index.html'],
    ['/publish/demo', 'text/html; charset=utf-8', 'publish.html'],
    ['/watch/demo', 'text/html; charset=utf-8', 'watch.html'],
    ['/watch/demo?x=1', 'text/html; charset=utf-8', 'watch.html'],
    ['/web/whip-whep.js', 'text/javascript; charset=utf-8', 'whip-whep.js'],
    ['/web/ws-view.js', 'text/javascript; charset=utf-8', 'ws-view.js'],
    ['/web/clock-code.js', 'text/javascript; charset=utf-8', 'clock-code.js'],
    ['/web/style.css', 'text/css; charset=utf-8', 'style.css'],
  ];
  for (const [path, type, file] of cases) {
    const r = await rawGet(port, path);
    t.is(r.status, 200, path);
    t.is(r.headers['content-type'], type, path);
    t.is(r.headers['cache-control'], 'no-cache', path);
    t.is(r.headers['x-content-type-options'], 'nosniff', path);
    t.is(r.body, readFileSync(new URL(`../web/${file}`, import.meta.url), 'utf8'), path);
  }
});

test('an unchanged file revalidates with 304 and no body', async (t) => {
  const { port } = await startRelay(t);
  const first = await rawGet(port, '/web/watch.js');
  t.regex(first.headers.etag, /^"[A-Za-z0-9_-]+"$/);
  const again = await rawGet(port, '/web/watch.js', { 'If-None-Match': first.headers.etag });
  t.is(again.status, 304);
  t.is(again.body, '');
  const stale = await rawGet(port, '/web/watch.js', { 'If-None-Match': '"old"' });
  t.is(stale.status, 200);
});

test('only the allow-listed files are reachable: traversal and unknown names get a JSON 404', async (t) => {
  const { port } = await startRelay(t);
  const paths = [
    '/web/../package.json',
    '/web/%2e%2e%2fpackage.json',
    '/web/..%2Fts%2Fweb.ts',
    '/web/%2e%2e/package.json',
    '/web/',
    '/web/README.md',
    '/web/index.html/x',
    '/web/constructor',
    '/web/__proto__',
    '/web.ts',
    '/publish/',
    '/publish/a/b',
    '/watch/..%2F..%2Fetc%2Fpasswd',
    '/watch/bad%20name',
    '/watch/%zz',
    '/nope',
  ];
  for (const path of paths) {
    const r = await rawGet(port, path);
    t.is(r.status, 404, path);
    t.is(r.headers['content-type'], 'application/json', path);
    t.is(typeof JSON.parse(r.body).error, 'string', path);
    t.notRegex(r.body, /"name": "halfsec"|root:/, path);
  }
});

test('the pages load their scripts as ES modules from /web/', async (t) => {
  const { port } = await startRelay(t);
  for (const [path, script] of [['/', 'index.js'], ['/publish/x', 'publish.js'], ['/watch/x', 'watch.js']]) {
    const r = await rawGet(port, path);
    t.regex(r.body, new RegExp(`<script type="module" src="/web/${script.replace('.', '\\.')}">`), path);
    t.is((await rawGet(port, `/web/${script}`)).status, 200, script);
  }
});
