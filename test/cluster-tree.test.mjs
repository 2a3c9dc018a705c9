// Tree by policy: a node serves at most maxPulls edge pulls, later edges pull from edges of their
// region, and the director prefers the viewer's region.
import test from 'ava';
import { chooseViewerNode, parseRegionDistances, upstreamCandidates } from '../dist/cluster/director.js';
import { spawnPeer, until, reportWhen } from './helpers.mjs';
import { startNode, startRedis } from './cluster-helpers.mjs';

const CLUSTER = 'cluster-secret-for-the-tree-test-0123456789';
const PACKETS = 120;
const range = (n) => Array.from({ length: n }, (_, i) => i);
const rec = (id, o = {}) => ({ id, url: `http://${id}`, capacity: 100, viewers: 0, egressMbps: 0, cpu: 0, draining: false, streams: [], at: 0, region: '', maxPulls: 0, pullsServed: 0, ...o });

test('director: nearest region first; within it a carrier with headroom, then any node with room', (t) => {
  const table = parseRegionDistances('eu-us=80,eu-ap=200,us-ap=150');
  const nodes = [rec('eu1', { region: 'eu', viewers: 10 }), rec('eu2', { region: 'eu', streams: ['s'], viewers: 50 }), rec('us1', { region: 'us' }), rec('ap1', { region: 'ap', streams: ['s'] })];
  t.is(chooseViewerNode(nodes, 's', 'eu', table).id, 'eu2', 'same region, carries the stream, below 80 %');
  t.is(chooseViewerNode(nodes, 'other', 'eu', table).id, 'eu1', 'same region, least loaded');
  t.is(chooseViewerNode(nodes, 's', 'us', table).id, 'us1', 'its own region even without the stream');
  const usFull = nodes.map((n) => (n.id === 'us1' ? { ...n, viewers: 100 } : n));
  t.is(chooseViewerNode(usFull, 's', 'us', table).id, 'eu2', 'then the nearest other region (eu 80 < ap 150)');
  t.is(chooseViewerNode(nodes, 's', 'mars', table).id, 'ap1', 'unknown region: all equally far, the least loaded carrier');
  const drained = nodes.map((n) => ({ ...n, draining: n.region === 'eu' }));
  t.is(chooseViewerNode(drained, 's', 'eu', table).id, 'us1', 'never a draining node');
});

test('upstream: the origin while it has pull budget, then carriers of the edge region, full nodes last', (t) => {
  const table = parseRegionDistances('eu-us=80');
  const origin = { stream: 's', node: 'o', url: 'http://o' };
  const o = rec('o', { region: 'eu', maxPulls: 2, pullsServed: 1, streams: ['s'] });
  const m1 = rec('m1', { region: 'eu', maxPulls: 2, pullsServed: 0, streams: ['s'] });
  const m2 = rec('m2', { region: 'us', maxPulls: 2, pullsServed: 1, streams: ['s'] });
  const ids = (l) => l.map((x) => x.id);
  t.deepEqual(ids(upstreamCandidates([o, m1, m2], origin, new Set(['e']), 'eu', table)), ['o', 'm1', 'm2']);
  t.deepEqual(ids(upstreamCandidates([o, m1, m2], origin, new Set(['e']), 'us', table)), ['m2', 'o', 'm1'], 'a us edge pulls in us');
  const oFull = { ...o, pullsServed: 2 };
  t.deepEqual(ids(upstreamCandidates([oFull, m1, m2], origin, new Set(['e']), 'eu', table)), ['m1', 'm2', 'o'], 'a full origin last');
  t.deepEqual(ids(upstreamCandidates([oFull, m1, m2], origin, new Set(['e', 'm1']), 'eu', table)), ['m2', 'o'], 'never a node on the path');
  t.deepEqual(ids(upstreamCandidates([m1], origin, new Set(['e']), 'eu', table)), ['m1', 'o'], 'an origin without a node record still comes last');
  // Chains: m2 lost its source (it holds the stream); e3 below it still looks live.
  const m2held = rec('m2', { region: 'us', streams: [], held: ['s'], upstreams: {} });
  const e3 = rec('e3', { region: 'us', streams: ['s'], upstreams: { s: 'm2' } });
  const e1 = rec('e1', { region: 'eu', streams: ['s'], upstreams: { s: 'o' } });
  t.deepEqual(ids(upstreamCandidates([o, m2held, e3, e1], origin, new Set(['m2']), 'us', table)), ['o', 'e1'], 'm2 never re-pulls from e3, its own child (a loop)');
  t.deepEqual(ids(upstreamCandidates([o, m2held, e3, e1], origin, new Set(['e4']), 'us', table)), ['o', 'e1'], 'nor does anyone: e3 is fed by a node without a source');
  const e5 = rec('e5', { region: 'us', streams: ['s'], upstreams: { s: 'gone' } });
  t.deepEqual(ids(upstreamCandidates([o, e5], origin, new Set(['x']), 'us', table)), ['o'], 'a carrier whose upstream left the registry is fed by nothing');
});

test.serial('maxPulls 2 and 4 edges: the origin serves at most 2 pulls, the others pull from edges, and every viewer gets every packet', async (t) => {
  const redis = await startRedis(t);
  const opts = { clusterSecret: CLUSTER, maxPulls: 2, region: 'eu' };
  const a = await startNode(t, redis.url, 'node-a', opts);
  const edges = [];
  for (let i = 1; i <= 4; i++) edges.push(await startNode(t, redis.url, `edge-${i}`, opts));
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/tree`, String(PACKETS), '10', 'both']);
  await pub.waitFor('open');

  // The origin's pull count, sampled all along: it must never exceed the budget.
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, a.relay.clusterStats().pullsServed)), 20);
  t.teardown(() => clearInterval(sampler));

  // All four edges get their viewers at once: two of their pulls find the origin full.
  const views = edges.map((e, i) => spawnPeer(t, 'viewers.mjs', [`${e.url}/whep/tree`, '3'], { env: { VIEWER_PORT_BASE: String(33000 + i * 400) } }));
  for (const v of views) t.is((await v.waitFor('ready', 40000)).open, 3);
  const upstreams = edges.map((e) => e.relay.clusterStats().pulls[0]?.upstream);
  t.is(upstreams.filter((u) => u === 'node-a').length, 2, `two edges pull from the origin (${upstreams})`);
  t.true(upstreams.every((u) => u === 'node-a' || /^edge-/.test(u)), 'the other two pull from an edge (mid-tier)');
  t.is(a.relay.clusterStats().pullsServed, 2);
  t.is(a.relay.stats().viewers, 2, "the origin's only viewers are two pulls");
  t.regex(await (await fetch(`${a.url}/metrics`)).text(), /^halfsec_node_pulls_served 2$/m);
  t.true(await until(() => edges.every((e) => e.relay.stats().publishers === 1), 10000));

  pub.send('start');
  await pub.waitFor('sent', 30000);
  for (const [i, v] of views.entries()) {
    const report = await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= PACKETS && x.audio.length >= PACKETS), 8000);
    for (const x of report.viewers) {
      t.deepEqual(x.video, range(PACKETS), `edge ${i + 1} viewer ${x.index}: every video packet`);
      t.deepEqual(x.audio, range(PACKETS), `edge ${i + 1} viewer ${x.index}: every audio packet`);
    }
  }
  t.true(most <= 2, `the origin never served more than 2 pulls (most: ${most})`);
});

test.serial('regions: the director answers by the viewer region hint; an edge pulls from a carrier of its own region', async (t) => {
  const redis = await startRedis(t);
  const base = { clusterSecret: CLUSTER, regionDistances: 'eu-us=80' };
  const a = await startNode(t, redis.url, 'node-a', { ...base, region: 'eu' });
  const c = await startNode(t, redis.url, 'node-c', { ...base, region: 'us' });
  const d = await startNode(t, redis.url, 'node-d', { ...base, region: 'us' });
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/r`, '40', '10', 'video']);
  await pub.waitFor('open');
  t.true(await until(() => a.relay.clusterStats().nodesSeen === 3, 5000));
  const director = async (q, h = {}) => (await (await fetch(`${a.url}/api/director/r${q}`, { headers: h })).json()).node;
  t.is(await director(''), 'node-a', "no hint: the region of the node asked (eu), which carries the stream");
  t.is(await director('?region=us'), 'node-c', 'query hint us: a us node (least loaded, by id)');
  t.is(await director('', { 'X-Halfsec-Region': 'us' }), 'node-c', 'header hint');

  const vc = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/r`, '1'], { env: { VIEWER_PORT_BASE: '35000' } });
  t.is((await vc.waitFor('ready', 30000)).open, 1);
  t.is(c.relay.clusterStats().pulls[0].upstream, 'node-a', 'the first us edge pulls from the origin');
  t.true(await until(async () => (await director('?region=us')) === 'node-c', 3000), 'now the director sends us viewers to the us carrier');
  t.true(await until(() => d.relay.clusterStats().nodesSeen === 3 && true, 3000));
  await until(async () => (await (await fetch(`${d.url}/api/cluster`)).json()).nodes.find((n) => n.id === 'node-c')?.streams.includes('r'), 3000);
  const vd = spawnPeer(t, 'viewers.mjs', [`${d.url}/whep/r`, '1'], { env: { VIEWER_PORT_BASE: '35400' } });
  t.is((await vd.waitFor('ready', 30000)).open, 1);
  t.is(d.relay.clusterStats().pulls[0].upstream, 'node-c', 'the second us edge pulls from the us carrier, not across regions');
  t.true(await until(() => d.relay.stats().publishers === 1, 10000));
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(vd, (r) => r.viewers[0].video.length >= 40, 5000);
  t.deepEqual(report.viewers[0].video, range(40), 'two hops down, every packet');
});
