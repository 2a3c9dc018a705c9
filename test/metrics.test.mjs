import { createSocket } from 'node:dgram';
import test from 'ava';
import { spawnPeer, startRelay, until } from './helpers.mjs';

/** Sums every sample of a metric family in Prometheus text format. */
function sum(text, name) {
  let total = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] === name) {
      total += Number(m[3]);
      seen = true;
    }
  }
  return seen ? total : undefined;
}

async function scrape(url, headers = {}) {
  const res = await fetch(`${url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

test.serial('/metrics counts streams, viewers and packets, and the counters move while media flows', async (t) => {
  const PACKETS = 100;
  const { url } = await startRelay(t);
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/m`, String(PACKETS), '10', 'video']);
  await pub.waitFor('open');
  const spawnedAt = performance.now();
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/m`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  const readyAt = performance.now();

  const before = await scrape(url);
  t.is(before.status, 200);
  t.regex(before.type, /^text\/plain; version=0\.0\.4/);
  t.is(sum(before.text, 'halfsec_streams'), 1);
  t.is(sum(before.text, 'halfsec_publishers'), 1);
  t.is(sum(before.text, 'halfsec_viewers'), 2);
  t.is(sum(before.text, 'halfsec_worker_peers'), 3, 'peers per worker add up to publisher + viewers');
  t.regex(before.text, /halfsec_worker_peers\{worker="1"\}/, 'one series per worker');
  t.regex(before.text, /# TYPE halfsec_received_packets_total counter/);
  t.regex(before.text, /# TYPE halfsec_sent_bytes_total counter/);
  t.truthy(sum(before.text, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag from the default metrics');
  t.is(sum(before.text, 'halfsec_sessions_started_total'), 3);

  // Join time ends at the first media packet sent, not at the connection: none yet.
  t.is(sum(before.text, 'halfsec_join_seconds_count'), 0, 'no viewer has been sent media yet');
  await new Promise((r) => setTimeout(r, 500));
  const startAt = performance.now();
  pub.send('start');
  await pub.waitFor('sent', 30000);
  await until(async () => {
    const r = await viewers.request('report', 'report');
    return r.viewers.every((v) => v.video.length >= PACKETS);
  }, 5000, 200);
  const after = await scrape(url);
  const rxIn = sum(after.text, 'halfsec_received_packets_total') - sum(before.text, 'halfsec_received_packets_total');
  const txOut = sum(after.text, 'halfsec_sent_packets_total') - sum(before.text, 'halfsec_sent_packets_total');
  const bytesIn = sum(after.text, 'halfsec_received_bytes_total') - sum(before.text, 'halfsec_received_bytes_total');
  const bytesOut = sum(after.text, 'halfsec_sent_bytes_total') - sum(before.text, 'halfsec_sent_bytes_total');
  t.true(rxIn >= PACKETS, `received packets grew by ${rxIn}`);
  t.true(txOut >= 2 * PACKETS, `sent packets grew by ${txOut} (2 viewers)`);
  t.true(bytesIn >= PACKETS * 900, `received bytes grew by ${bytesIn}`);
  t.true(bytesOut >= 2 * PACKETS * 900, `sent bytes grew by ${bytesOut}`);

  // Each viewer's WHEP POST came before `readyAt`, its first packet after `startAt`.
  const doneAt = performance.now();
  t.is(sum(after.text, 'halfsec_join_seconds_count'), 2, 'one join time per viewer');
  t.regex(after.text, /# TYPE halfsec_join_seconds histogram/);
  const joinSum = sum(after.text, 'halfsec_join_seconds_sum');
  t.true(joinSum >= (2 * (startAt - readyAt)) / 1000, `join times (sum ${joinSum} s) include the wait for the publisher's first packet`);
  t.true(joinSum <= (2 * (doneAt - spawnedAt)) / 1000, `join times (sum ${joinSum} s) within the test's own span`);
  t.is(sum(after.text.split('\n').filter((l) => l.includes('le="0.025"')).join('\n'), 'halfsec_join_seconds_bucket'), 0, 'no join under 25 ms here: each waited ≥ 500 ms');

  const stats = await (await fetch(`${url}/api/stats`)).json();
  t.is(stats.viewers, 2);
  t.is(stats.joins.count, 2);
  t.true(stats.joins.p50Seconds >= (startAt - readyAt) / 1000, `stats.joins.p50Seconds ${stats.joins.p50Seconds}`);
  t.is(typeof stats.rates.egressBitsPerSecond, 'number');
});

// Datagrams received and thrown away (here: junk from an address no peer owns) and datagrams
// the kernel would not send are two counters: junk never shows as a send failure.
test.serial('junk sent to a worker counts in halfsec_dropped_packets_total, not in halfsec_send_dropped_packets_total', async (t) => {
  const { url, relay } = await startRelay(t);
  const before = await scrape(url);
  t.is(sum(before.text, 'halfsec_send_dropped_packets_total'), 0);
  const dropped0 = sum(before.text, 'halfsec_dropped_packets_total');
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const JUNK = 20;
  for (const port of relay.stats().workers.map((w) => w.port)) {
    for (let i = 0; i < JUNK; i++) await new Promise((r) => sock.send(Buffer.from([0xff, 0xfe, i, 0x00, 0x01]), port, '127.0.0.1', r));
  }
  const want = dropped0 + JUNK * relay.stats().workers.length;
  let after;
  await until(async () => {
    after = await scrape(url);
    return sum(after.text, 'halfsec_dropped_packets_total') >= want;
  }, 5000, 100);
  t.is(sum(after.text, 'halfsec_dropped_packets_total'), want);
  t.is(sum(after.text, 'halfsec_send_dropped_packets_total'), 0);
  t.true(relay.stats().workers.every((w) => w.sendDropped === 0));
});

test.serial('an admin token guards /metrics and the admin API, and nothing else', async (t) => {
  const { url } = await startRelay(t, { adminToken: 'sekrit-token' });
  t.is((await scrape(url)).status, 401);
  t.is((await scrape(url, { Authorization: 'Bearer wrong-token' })).status, 401);
  const ok = await scrape(url, { Authorization: 'Bearer sekrit-token' });
  t.is(ok.status, 200);
  t.regex(ok.text, /halfsec_streams 0/);
  const api = await fetch(`${url}/api/stats`);
  t.is(api.status, 401);
  t.regex((await api.json()).error, /Bearer/);
  t.is(api.headers.get('www-authenticate'), 'Bearer realm="halfsec"');
  t.is((await fetch(`${url}/api/stats`, { headers: { Authorization: 'Bearer sekrit-token' } })).status, 200);
  t.is((await fetch(`${url}/api/streams`)).status, 200, 'the stream list (no session ids) stays open for viewer pages');
  t.is((await fetch(`${url}/healthz`)).status, 200, 'health checks stay open');
});

test.serial('metrics can be turned off', async (t) => {
  const { url } = await startRelay(t, { metrics: false });
  t.is((await scrape(url)).status, 404);
});
