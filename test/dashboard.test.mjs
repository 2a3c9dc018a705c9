// /dashboard: served by the relay with uPlot from the uplot package, behind the admin rule, and
// showing a live stream's numbers moving in headless Chromium.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import test from 'ava';
import { chromiumAvailable, launchChromium } from './browser-helpers.mjs';
import { spawnPeer, startRelay } from './helpers.mjs';

const require = createRequire(import.meta.url);

test.serial('the page, its script and uPlot (from node_modules, not a CDN) are served with safe headers', async (t) => {
  const { url } = await startRelay(t);
  const page = await fetch(`${url}/dashboard`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type'), /^text\/html/);
  t.regex(page.headers.get('content-security-policy'), /default-src 'self'/);
  t.is(page.headers.get('x-frame-options'), 'DENY');
  const html = await page.text();
  t.notRegex(html, /https?:\/\//, 'nothing loaded from another origin');
  t.regex(html, /src="dashboard\/uplot\.js"/);
  const uplot = await fetch(`${url}/dashboard/uplot.js`);
  t.is(uplot.status, 200);
  t.is(await uplot.text(), readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'), 'the package file, byte for byte');
  t.is((await fetch(`${url}/dashboard/uplot.css`)).status, 200);
  const etag = page.headers.get('etag');
  t.is((await fetch(`${url}/dashboard`, { headers: { 'If-None-Match': etag } })).status, 304);
  for (const bad of ['../package.json', '..%2Fpackage.json', 'uPlot.iife.min.js', '', 'x/y']) {
    t.is((await fetch(`${url}/dashboard/${bad}`)).status, 404, bad);
  }
  t.is((await fetch(`${url}/dashboard`, { method: 'POST' })).status, 405);
});

test.serial('without an admin token the dashboard answers loopback clients only, like the admin API', async (t) => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!external) return t.pass('no non-loopback IPv4 address on this machine to come from');
  const { url, port } = await startRelay(t, { host: '0.0.0.0' });
  t.is((await fetch(`${url}/dashboard`)).status, 200, 'from 127.0.0.1');
  // To our own address: the kernel routes it over lo, but the source is not a loopback address.
  const off = await fetch(`http://${external.address}:${port}/dashboard`);
  t.is(off.status, 403);
  t.regex((await off.json()).error, /loopback/);
  t.is((await fetch(`http://${external.address}:${port}/api/stats`)).status, 403);
});

test.serial('with an admin token the page asks for it; with it, a live stream\'s numbers move in Chromium', async (t) => {
  if (!chromiumAvailable()) return t.fail('chromium is missing: run `bash scripts/test-deps.sh` as root');
  const TOKEN = 'dashboard-admin-token';
  const { url } = await startRelay(t, { adminToken: TOKEN });
  t.is((await fetch(`${url}/api/stats`)).status, 401);
  t.is((await fetch(`${url}/dashboard`)).status, 200, 'the page holds no figure: served to anyone');

  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/dash`, '1500', '10', 'both']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/dash`, '1']);
  t.is((await viewers.waitFor('ready', 30000)).open, 1);
  pub.send('start');

  const chromium = await launchChromium({ limitMs: 90_000 });
  t.teardown(() => chromium.close());
  const page = await chromium.browser.newPage();
  await page.goto(`${url}/dashboard`);
  await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
  t.is(await page.textContent('#status'), 'admin token needed');
  await page.fill('#token', TOKEN);
  await page.click('#login button');

  const read = () =>
    page.evaluate(() => {
      const v = (id) => document.getElementById(id).dataset.value;
      return {
        polls: Number(v('v-polls')),
        streams: Number(v('v-streams')),
        viewers: Number(v('v-viewers')),
        egress: Number(v('v-egress')),
        ingress: Number(v('v-ingress')),
        txPackets: Number(v('v-tx-packets')),
        joins: Number(v('v-joins')),
        charts: document.querySelectorAll('.uplot canvas').length,
        streamRows: [...document.querySelectorAll('#streams tr')].map((tr) => tr.cells[0].textContent),
        layerCells: [...document.querySelectorAll('#streams tr')].map((tr) => tr.cells[3].textContent),
        workerRows: document.querySelectorAll('#workers tr').length,
      };
    });
  await page.waitForFunction(() => Number(document.getElementById('v-egress').dataset.value) > 0, null, { timeout: 15_000 });
  const first = await read();
  await page.waitForFunction((n) => Number(document.getElementById('v-polls').dataset.value) >= n + 2, first.polls, { timeout: 10_000 });
  const second = await read();
  t.log({ first, second });
  t.like(second, { streams: 1, viewers: 1, streamRows: ['dash'], workerRows: 2, joins: 1 });
  // Per-layer ingress from the stream's detail: the publisher's video layer and audio, measured.
  t.regex(second.layerCells[0], /default: [1-9][^,]*, audio: /, `per-layer ingress shown: ${second.layerCells[0]}`);
  t.true(first.egress > 0 && second.egress > 0, 'egress bit rate shown while media flows');
  t.true(second.ingress > 0, 'ingress bit rate shown');
  t.true(second.txPackets > first.txPackets, `packets sent moved: ${first.txPackets} → ${second.txPackets}`);
  t.true(second.charts >= 5, `uPlot drew the charts (${second.charts} canvases)`);
  t.is(await page.evaluate(() => location.hash), '');
});
