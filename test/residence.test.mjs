import test from 'ava';
import { spawnPeer, startRelay, until } from './helpers.mjs';

/** The samples of one metric family in Prometheus text format: [{ labels, value }]. */
function samples(text, name) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+|\+Inf)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
const total = (text, name) => samples(text, name).reduce((a, s) => a + s.value, 0);

test.serial('halfsec_packet_residence_seconds counts every packet forwarded to real viewers, per worker', async (t) => {
  const PACKETS = 120;
  const { url } = await startRelay(t);
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/res`, String(PACKETS), '10', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/res`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);

  const scrape = async () => (await fetch(`${url}/metrics`)).text();
  const before = await scrape();
  t.regex(before, /# TYPE halfsec_packet_residence_seconds histogram/);
  const countBefore = total(before, 'halfsec_packet_residence_seconds_count');
  const txBefore = total(before, 'halfsec_sent_packets_total');

  pub.send('start');
  // /api/stats summarises the last second's residence (what the dashboard plots).
  let residence;
  await until(async () => (residence = (await (await fetch(`${url}/api/stats`)).json()).residence)?.packets > 0, 3000, 100);
  t.true(residence?.packets > 0, `/api/stats residence while media flows: ${JSON.stringify(residence)}`);
  t.true(residence.p50Seconds > 0 && residence.p50Seconds <= residence.p99Seconds && residence.p99Seconds <= 1, `p50 ${residence.p50Seconds} s <= p99 ${residence.p99Seconds} s <= 1 s`);
  await pub.waitFor('sent', 30000);
  await until(async () => {
    const r = await viewers.request('report', 'report');
    return r.viewers.every((v) => v.video.length >= PACKETS);
  }, 5000, 200);
  const after = await scrape();
  const counted = total(after, 'halfsec_packet_residence_seconds_count') - countBefore;
  const sent = total(after, 'halfsec_sent_packets_total') - txBefore;
  // Each of the 2 viewers got every packet the publisher sent, each stamped at arrival.
  t.true(counted >= 2 * PACKETS, `residence counted ${counted} packets (2 viewers x ${PACKETS})`);
  t.true(counted <= sent, `no more than the ${sent} datagrams sent`);
  t.true(total(after, 'halfsec_packet_residence_seconds_sum') > 0, 'time in the relay is never all zero');

  // Well-formed per worker: cumulative buckets that end at +Inf with the count.
  const workers = new Set(samples(after, 'halfsec_packet_residence_seconds_count').map((s) => s.labels.worker));
  t.true(workers.size >= 2, 'one series per worker');
  for (const w of workers) {
    const buckets = samples(after, 'halfsec_packet_residence_seconds_bucket').filter((s) => s.labels.worker === w);
    t.is(buckets.at(-1).labels.le, '+Inf');
    for (let i = 1; i < buckets.length; i++) t.true(buckets[i].value >= buckets[i - 1].value, `worker ${w}: buckets are cumulative`);
    t.is(buckets.at(-1).value, samples(after, 'halfsec_packet_residence_seconds_count').find((s) => s.labels.worker === w).value);
  }
});
