// Edges pull every simulcast layer (issue 15): a layered pull carries each layer on its own
// SSRC, so a viewer on an edge (or on an edge below a mid-tier edge) adapts exactly as one on
// the origin: moved down by its own feedback while a viewer of the origin stays on the top.
import test from 'ava';
import { spawnPeer, until, sleep } from './helpers.mjs';
import { freePort, startNode, startRedis } from './cluster-helpers.mjs';
import { startLossyProxy } from './lossy-proxy.mjs';

const PACKETS = 1200; // 12 s at 10 ms, two layers (l: counters + 1e6, h: counters)
const LOW = 1_000_000;
const layerOf = (c) => (c >= LOW ? 'l' : 'h');

/** Asserts that `video` (counters) ends on `layer` with its every packet since the viewer's last switch, in order. */
function tailInOrder(t, video, layer, label) {
  let from = video.length - 1;
  while (from > 0 && layerOf(video[from - 1]) === layer) from--;
  const tail = video.slice(from).map((c) => c % LOW);
  const last = PACKETS - 1;
  t.is(layerOf(video.at(-1)), layer, `${label}: ends on layer ${layer}`);
  t.is(tail.at(-1), last, `${label}: got the last packet of layer ${layer}`);
  t.deepEqual(tail, Array.from({ length: tail.length }, (_, i) => tail[0] + i), `${label}: every packet of layer ${layer} since counter ${tail[0]}, in order`);
  return tail;
}

test.serial('a layered pull: edge and mid-tier edge viewers adapt per viewer (one moved down by its REMB) while the origin viewer stays on the top layer; every packet of each chosen layer arrives in order', async (t) => {
  t.timeout(60000);
  const redis = await startRedis(t);
  const secret = 'layers-test-cluster-secret-0123456789abcdef';
  const opts = { clusterSecret: secret, workers: 1 };
  const a = await startNode(t, redis.url, 'node-a', { ...opts, maxPulls: 1 });
  const b = await startNode(t, redis.url, 'node-b', opts);
  const c = await startNode(t, redis.url, 'node-c', opts);

  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/sim`, String(PACKETS), '10', 'video'], { env: { PUB_SIMULCAST: '1' } });
  await pub.waitFor('open');
  const vo = spawnPeer(t, 'viewers.mjs', [`${a.url}/whep/sim`, '1'], { env: { VIEWER_PORT_BASE: '32000' } });
  t.is((await vo.waitFor('ready', 30000)).open, 1);
  const vb = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/sim`, '2'], { env: { VIEWER_PORT_BASE: '33000' } });
  t.is((await vb.waitFor('ready', 30000)).open, 2);
  t.deepEqual(b.relay.clusterStats().pulls, [{ stream: 'sim', upstream: 'node-a', lost: false }]);
  // The origin serves one pull (maxPulls 1): C pulls from B once B's record says it carries it.
  await sleep(700); // B's heartbeat (300 ms) names it a carrier; C also retries for 4 s
  const vc = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/sim`, '1'], { env: { VIEWER_PORT_BASE: '34000' } });
  t.is((await vc.waitFor('ready', 30000)).open, 1);
  t.deepEqual(c.relay.clusterStats().pulls, [{ stream: 'sim', upstream: 'node-b', lost: false }], 'C pulls from the mid-tier edge B');
  t.true(await until(() => b.relay.stats().publishers === 1 && c.relay.stats().publishers === 1, 10000), 'pulls connected');

  pub.send('start');
  const last = async (v, i) => (await v.request('report', 'report')).viewers[i].video.at(-1);
  t.true(await until(async () => (await last(vb, 0)) !== undefined && (await last(vc, 0)) !== undefined, 8000, 200), 'edge viewers get video');
  // The edges measure both layers arriving over their pull (the per-layer ingress of their own stream).
  for (const [name, n] of [['B', b], ['C', c]]) {
    let layers;
    t.true(await until(async () => {
      layers = (await (await fetch(`${n.url}/api/streams/sim`)).json()).bitrate?.layers ?? [];
      return layers.length === 2 && layers.every((l) => l.kbps > 0);
    }, 6000, 200), `edge ${name} receives every layer: ${JSON.stringify(layers)}`);
    t.deepEqual(layers.map((l) => l.id), ['l', 'h']);
  }
  // Viewer 0 of B and C say their link carries 400 kbit/s: below h (~720 kbit/s), above l.
  await sleep(1500); // layer rates measured
  await vb.request('remb 0 400000', 'remb-sent');
  await vc.request('remb 0 400000', 'remb-sent');
  t.true(await until(async () => layerOf(await last(vb, 0)) === 'l' && layerOf(await last(vc, 0)) === 'l', 6000, 200), 'the limited edge viewers moved down');
  await pub.waitFor('sent', 30000);
  await sleep(800);

  const o = (await vo.request('report', 'report')).viewers[0];
  const [bl, bo] = (await vb.request('report', 'report')).viewers;
  const cl = (await vc.request('report', 'report')).viewers[0];
  // Open viewers, on the origin and on the edge alike: up on h from the first keyframe (a
  // packet of l may come first, before the data plane has seen h live), every packet to the end.
  for (const [label, v] of [['origin viewer', o], ['open edge viewer', bo]]) {
    const up = tailInOrder(t, v.video, 'h', label);
    t.is(up[0], 0, `${label}: on h from its first packet`);
    t.true(v.video.slice(0, -up.length).every((x) => layerOf(x) === 'l') && v.video.length - up.length <= 1, `${label}: at most one l packet before h (${v.video.length - up.length})`);
  }
  for (const [label, v] of [['limited edge viewer', bl], ['limited viewer below the mid-tier edge', cl]]) {
    const tail = tailInOrder(t, v.video, 'l', label);
    t.true(tail.length > 100, `${label}: on l for ${tail.length} packets`);
    t.true(v.video.some((x) => layerOf(x) === 'h'), `${label}: was on h before`);
    t.is(tail[0] % 30, 0, `${label}: switched down at a keyframe (counter ${tail[0]})`);
  }
  for (const [label, v] of [['origin', o], ['edge open', bo], ['edge limited', bl], ['mid-tier limited', cl]]) {
    t.is(v.seqGaps, 0, `${label}: sequence numbers continuous across switches`);
    t.is(v.ssrcs, 1, `${label}: one SSRC whatever the layer`);
    t.is(v.bad, 0);
  }
  t.is(a.relay.stats().viewers, 2, "the origin's viewers: its own and B's one pull");
  for (const n of [a, b, c]) t.is(n.relay.stats().workers.reduce((s, w) => s + w.srtpErrors, 0), 0);
});

test.serial('a layered pull over a lossy link: the edge NACKs each layer on its own SSRC and its keyframe requests reach the publisher, so its viewers get every packet of their layer', async (t) => {
  t.timeout(60000);
  const redis = await startRedis(t);
  // The origin announces 127.0.0.2, where a proxy drops 5 % of its RTP/RTCP toward the edge.
  const port = await freePort();
  const a = await startNode(t, redis.url, 'node-a', { workers: 1, port, publicUrl: `http://127.0.0.1:${port}`, announcedIps: ['127.0.0.2'] });
  const b = await startNode(t, redis.url, 'node-b', { workers: 1 });
  const rtcPort = a.relay.stats().workers[0].port;
  const proxy = await startLossyProxy(t, { target: { host: '127.0.0.1', port: rtcPort }, host: '127.0.0.2', port: rtcPort, toClientLoss: 0.05, seed: 5 });

  const N = 800;
  // Keyframes only at the start and on request: a switch needs the edge's PLI to travel up.
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/lossy`, String(N), '10', 'video'], { env: { PUB_SIMULCAST: '1', PUB_KEYFRAME_ON_PLI: '1', PUB_NACK: '1' } });
  await pub.waitFor('open');
  const vb = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/lossy`, '2'], { env: { VIEWER_PORT_BASE: '35000' } });
  t.is((await vb.waitFor('ready', 30000)).open, 2);
  t.true(await until(() => b.relay.stats().publishers === 1, 10000), 'pull connected');
  // Counted from the start of media: the publisher sends its first keyframes, then one per PLI,
  // so any keyframe of l after the first answers a request that came through the pull. The one
  // the switch lands on may answer a request the edge sent for a loss just before the REMB
  // (requests in flight are merged), so the count is not taken at the REMB.
  const plisBefore = (await pub.request('plis', 'plis')).count;
  pub.send('start');
  const lastOf = async (i) => (await vb.request('report', 'report')).viewers[i].video.at(-1);
  t.true(await until(async () => (await lastOf(0)) !== undefined, 8000, 200), 'edge viewer gets video');
  await sleep(1500);
  await vb.request('remb 0 400000', 'remb-sent');
  t.true(await until(async () => layerOf(await lastOf(0)) === 'l', 6000, 200), 'the limited edge viewer moved down');
  const plisAfter = (await pub.request('plis', 'plis')).count;
  t.true(plisAfter > plisBefore, `keyframe requests reached the publisher through the pull (${plisAfter - plisBefore} since media started)`);
  await pub.waitFor('sent', 30000);
  await sleep(1000);

  t.true(proxy.stats.toClientDropped > 20, `the proxy dropped packets toward the edge (${proxy.stats.toClientDropped} of ${proxy.stats.toClient})`);
  const wa = a.relay.stats().workers[0];
  t.true(wa.nacksReceived > 0 && wa.retransmits > 0, `the origin answered the edge's NACKs (${wa.nacksReceived} NACKed, ${wa.retransmits} resent)`);
  const [limited, open] = (await vb.request('report', 'report')).viewers;
  // Retransmissions arrive late, so count what arrived rather than its order.
  const lastHigh = Math.max(...limited.video.filter((x) => layerOf(x) === 'h'));
  const low = new Set(limited.video.filter((x) => layerOf(x) === 'l' && x % LOW > lastHigh).map((x) => x % LOW));
  const from = Math.min(...low);
  const missingLow = Array.from({ length: N - from }, (_, i) => from + i).filter((c) => !low.has(c));
  t.true(missingLow.length <= (N - from) / 100, `limited viewer: every packet of l from ${from} to the end but ${missingLow.length} (${missingLow.slice(0, 10)})`);
  const high = new Set(open.video.filter((x) => layerOf(x) === 'h'));
  const missingHigh = Array.from({ length: N }, (_, i) => i).filter((c) => !high.has(c));
  t.true(missingHigh.length <= N / 100, `open viewer: every packet of h but ${missingHigh.length} (${missingHigh.slice(0, 10)})`);
  t.true(limited.video.some((x) => layerOf(x) === 'h'), 'the limited viewer was on h before');
});

test.serial('the origin\'s publisher vanishes and republishes: the layered pull stays, and each edge viewer carries on on its own layer with unbroken numbers', async (t) => {
  t.timeout(60000);
  const redis = await startRedis(t);
  const a = await startNode(t, redis.url, 'node-a', { workers: 1, republishGraceMs: 15000, consentTimeoutMs: 15000 });
  const b = await startNode(t, redis.url, 'node-b', { workers: 1, consentTimeoutMs: 15000 });
  const lost = [];
  a.relay.on('publisher:lost', (e) => lost.push(e));
  const pub1 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/again`, '100000', '10', 'video'], { env: { PUB_SIMULCAST: '1' } });
  await pub1.waitFor('open');
  const vb = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/again`, '2'], { env: { VIEWER_PORT_BASE: '36000' } });
  t.is((await vb.waitFor('ready', 30000)).open, 2);
  t.true(await until(() => b.relay.stats().publishers === 1, 10000), 'pull connected');
  pub1.send('start');
  const report = async () => (await vb.request('report', 'report')).viewers;
  t.true(await until(async () => (await report())[0].video.length > 50, 8000, 200), 'edge viewers get video');
  await sleep(1500);
  await vb.request('remb 0 400000', 'remb-sent');
  t.true(await until(async () => layerOf((await report())[0].video.at(-1)) === 'l', 6000, 200), 'the limited edge viewer moved down');

  process.kill(-pub1.child.pid, 'SIGKILL');
  t.true(await until(() => lost.length === 1, 8000), 'the origin noticed its publisher is gone');
  await sleep(300);
  const before = (await report()).map((v) => v.video.length);
  const pub2 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/again`, '300', '10', 'video'], { env: { PUB_SIMULCAST: '1' } });
  await pub2.waitFor('open');
  pub2.send('start');
  await pub2.waitFor('sent', 30000);
  await sleep(800);

  t.deepEqual(b.relay.clusterStats().pulls, [{ stream: 'again', upstream: 'node-a', lost: false }], 'the same pull, never lost');
  t.is(a.relay.stats().viewers, 1, "the origin's one viewer is B's pull");
  const [limited, open] = await report();
  const range300 = Array.from({ length: 300 }, (_, i) => i);
  t.deepEqual(limited.video.slice(before[0]), range300.map((i) => LOW + i), 'limited edge viewer: every packet of the new publisher\'s l, in order');
  // As on the origin at a stream's start: h went stale during the gap, so the new publisher's
  // first packet (l, sent first) may go out before h is live again; then h from its keyframe.
  const openTail = open.video.slice(before[1]);
  if (openTail[0] === LOW) openTail.shift();
  t.deepEqual(openTail, range300, 'open edge viewer: every packet of the new publisher\'s h, in order');
  for (const v of [limited, open]) {
    t.is(v.seqGaps, 0, `viewer ${v.index}: sequence numbers unbroken across the republish`);
    t.is(v.ssrcs, 1, `viewer ${v.index}: one SSRC`);
    t.is(v.bad, 0);
  }
});
