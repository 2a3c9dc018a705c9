// Failover: the origin process dies; its publisher republishes where the director says; the edges
// re-pull from the new origin and their viewers go on, every packet, sequence numbers unbroken.
import test from 'ava';
import { spawnPeer, until, reportWhen, sleep } from './helpers.mjs';
import { startNode, startNodeProcess, startRedis } from './cluster-helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

const CLUSTER = 'cluster-secret-for-the-failover-test-0123456';
const range = (n) => Array.from({ length: n }, (_, i) => i);

test.serial('the origin dies: the publisher republishes where the director says, edges re-pull, every viewer resumes within seconds with its sequence numbers unbroken', async (t) => {
  const redis = await startRedis(t);
  const a = await startNodeProcess(t, redis.url, 'node-a', { secret: CLUSTER });
  const opts = { clusterSecret: CLUSTER };
  const b = await startNode(t, redis.url, 'node-b', opts);
  const c = await startNode(t, redis.url, 'node-c', opts);
  const d = await startNode(t, redis.url, 'node-d', opts);

  const pub1 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/f`, '60', '10', 'both']);
  await pub1.waitFor('open');
  const vb = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/f`, '5'], { env: { VIEWER_PORT_BASE: '36000' } });
  const vc = spawnPeer(t, 'viewers.mjs', [`${c.url}/whep/f`, '5'], { env: { VIEWER_PORT_BASE: '36400' } });
  t.is((await vb.waitFor('ready', 30000)).open, 5);
  t.is((await vc.waitFor('ready', 30000)).open, 5);
  t.true(await until(() => b.relay.stats().publishers === 1 && c.relay.stats().publishers === 1, 10000));
  pub1.send('start');
  await pub1.waitFor('sent', 30000);
  for (const v of [vb, vc]) await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= 60), 5000);

  // The origin process dies without a word.
  const killedAt = Date.now();
  await a.kill();
  t.true(await until(() => b.relay.clusterStats().pulls[0]?.lost && c.relay.clusterStats().pulls[0]?.lost, 5000), 'both edges noticed');
  const lostAfter = Date.now() - killedAt;

  // The publisher asks the director where to republish: a node that does not hold the stream.
  let dir;
  t.true(await until(async () => (dir = await (await fetch(`${b.url}/api/director/f?role=publish`)).json()).node === 'node-d', 5000), 'the director names the spare node');
  const pub2 = spawnPeer(t, 'publisher.mjs', [dir.whip, '100', '10', 'both']);
  await pub2.waitFor('open');
  t.true(await until(() => [b, c].every((n) => n.relay.clusterStats().pulls[0]?.lost === false && n.relay.clusterStats().pulls[0]?.upstream === 'node-d'), 8000), 'the edges re-pulled from the new origin');
  const resumedAfter = Date.now() - killedAt;
  t.is(b.relay.stats().viewers, 5, 'no viewer lost on B');
  t.is(c.relay.stats().viewers, 5, 'no viewer lost on C');
  t.true(await until(() => b.relay.stats().publishers === 1 && c.relay.stats().publishers === 1, 10000));

  pub2.send('start');
  await pub2.waitFor('sent', 30000);
  for (const [name, v] of [['B', vb], ['C', vc]]) {
    const report = await reportWhen(v, (r) => r.viewers.every((x) => x.video.length >= 160 && x.audio.length >= 160), 8000);
    for (const x of report.viewers) {
      t.deepEqual(x.video.slice(60), range(100), `${name} viewer ${x.index}: every video packet from the new origin`);
      t.deepEqual(x.audio.slice(60), range(100), `${name} viewer ${x.index}: every audio packet from the new origin`);
      t.is(x.seqGaps, 0, 'sequence numbers carry on across the failover');
      t.is(x.ssrcs, 2, 'and so do the SSRCs');
    }
  }
  t.log(`origin killed: edges noticed after ${lostAfter} ms, re-pulled from the new origin after ${resumedAfter} ms (publisher republished in between)`);
  t.true(resumedAfter < 8000, `viewers fed again within seconds (${resumedAfter} ms)`);
});

/** Splits a viewer's video counters where the second publisher's run (counters from 0 again) begins. */
const splitRuns = (video) => {
  const k = video.findIndex((c, i) => i > 0 && c < video[i - 1]);
  return k < 0 ? video.length : k;
};

test.serial('the publisher lands on a node that relays the stream: it becomes the origin with its viewers and the pull it serves kept, the other edge re-pulls from it', async (t) => {
  t.timeout(60_000);
  const redis = await startRedis(t);
  // The origin serves 2 pulls (b and d); c must then pull from one of them (a mid-tier node).
  const a = await startNodeProcess(t, redis.url, 'node-a', { secret: CLUSTER, extra: ['--max-pulls', '2'] });
  const opts = { clusterSecret: CLUSTER };
  const b = await startNode(t, redis.url, 'node-b', opts);
  const d = await startNode(t, redis.url, 'node-d', opts);
  const c = await startNode(t, redis.url, 'node-c', opts);
  const byId = { 'node-b': b, 'node-c': c, 'node-d': d };

  const N1 = 400;
  const N2 = 300;
  const pub1 = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/g`, String(N1), '10', 'both']);
  await pub1.waitFor('open');
  const env = (base) => ({ env: { VIEWER_PORT_BASE: String(base), VIEWER_TIMES: '1' } });
  const viewers = {};
  for (const [i, n] of [b, d, c].entries()) {
    const id = Object.keys(byId).find((k) => byId[k] === n);
    viewers[id] = spawnPeer(t, 'viewers.mjs', [`${n.url}/whep/g`, '4'], env(36800 + i * 400));
    t.is((await viewers[id].waitFor('ready', 30000)).open, 4, `${id}: 4 viewers`);
    t.true(await until(() => n.relay.stats().publishers === 1, 10000), `${id} is fed`);
  }
  const ups = () => Object.fromEntries(Object.entries(byId).map(([id, n]) => [id, n.relay.clusterStats().pulls[0]]));
  const before = ups();
  t.is(before['node-b'].upstream, 'node-a');
  t.is(before['node-d'].upstream, 'node-a');
  t.true(['node-b', 'node-d'].includes(before['node-c'].upstream), `c pulls from a mid-tier node (${before['node-c'].upstream})`);

  pub1.send('start');
  await until(async () => (await viewers['node-b'].request('report', 'report')).viewers.every((x) => x.video.length > 100), 8000, 100);
  const killedAt = Date.now();
  await a.kill();
  t.true(await until(() => b.relay.clusterStats().pulls[0]?.lost && d.relay.clusterStats().pulls[0]?.lost, 6000), 'b and d noticed');

  // Every node carries or holds the stream: the director names one that holds it.
  let dir;
  t.true(await until(async () => ['node-b', 'node-d'].includes((dir = await (await fetch(`${c.url}/api/director/g?role=publish`)).json()).node), 6000, 100), 'the director names a node that relays the stream');
  const adopter = byId[dir.node];
  const other = dir.node === 'node-b' ? d : b;
  const otherId = dir.node === 'node-b' ? 'node-d' : 'node-b';
  const pub2 = spawnPeer(t, 'publisher.mjs', [dir.whip, String(N2), '10', 'both']);
  await pub2.waitFor('open');
  pub2.send('start');
  t.true(await until(() => adopter.relay.clusterStats().pulls.length === 0 && adopter.relay.stats().publishers === 1, 5000), `${dir.node} is the origin now (no pull)`);
  t.true(await until(() => other.relay.clusterStats().pulls[0]?.lost === false && other.relay.clusterStats().pulls[0]?.upstream === dir.node, 8000, 50), `${otherId} re-pulled from ${dir.node}`);
  const fedAfter = Date.now() - killedAt;
  const origin = await (await fetch(`${c.url}/api/director/g?role=publish`)).json();
  t.is(origin.node, dir.node, 'the registry names the new origin (a publisher reconnecting goes back there)');
  for (const [id, n] of Object.entries(byId)) t.is(n.relay.stats().viewers, id === dir.node ? 4 + 1 + (before['node-c'].upstream === dir.node ? 1 : 0) : id === 'node-c' ? 4 : 4 + (before['node-c'].upstream === id ? 1 : 0), `${id} lost no viewer (nor pull)`);
  await pub2.waitFor('sent', 20000);

  const gaps = {};
  for (const [id, v] of Object.entries(viewers)) {
    const rep = await reportWhen(v, (r) => r.viewers.every((x) => x.video.at(-1) === N2 - 1 && x.audio.at(-1) === N2 - 1), 8000);
    t.is(rep.viewers.length, 4);
    // c's own upstream was not the dead node: below the adopter its line never moved.
    const kept = id === dir.node || (id === 'node-c' && before['node-c'].upstream === dir.node);
    for (const x of rep.viewers) {
      const k = splitRuns(x.video);
      const first = x.video.slice(0, k);
      t.true(first.length > 100 && first.every((c, i) => i === 0 || c > first[i - 1]), `${id} viewer ${x.index}: the first run in order`);
      const second = x.video.slice(k);
      if (kept) t.deepEqual(second, range(N2), `${id} viewer ${x.index}: every packet of the new publisher`);
      else t.true(second.every((c, i) => i === 0 || c > second[i - 1]) && second.length > N2 / 3, `${id} viewer ${x.index}: the new publisher's packets in order from its re-pull on`);
      t.is(x.seqGaps, 0, `${id} viewer ${x.index}: sequence numbers run on`);
      t.is(x.videoSsrcs, 1, 'one video SSRC throughout');
      t.is(x.audioSsrcs, 1, 'one audio SSRC throughout');
      t.is(x.bad, 0);
      (gaps[id] ??= []).push(x.videoAt[k] - x.videoAt[k - 1]);
    }
  }
  const fmt = (xs) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)} ms`;
  t.log(`origin killed; publisher landed on ${dir.node} (relaying), ${otherId} re-pulled from it ${fedAfter} ms after the kill; viewers' gap (last packet of the old origin → first of the new publisher): ${Object.entries(gaps).map(([id, g]) => `${id} ${fmt(g)}`).join(', ')}`);
  // Loose: detection (3 heartbeats of 300 ms), the director, a new publisher process, its ICE and DTLS.
  for (const [id, g] of Object.entries(gaps)) t.true(Math.max(...g) < 8000, `${id}: viewers resumed within seconds`);
});

test.serial('a publisher reaching a node that pulls the stream gets 409 while the origin lives, and 503 with Retry-After while the node has not yet noticed that the origin died', async (t) => {
  const redis = await startRedis(t);
  const a = await startNodeProcess(t, redis.url, 'node-a', { secret: CLUSTER });
  // b beats once a minute: within this test it never notices that a died.
  const b = await startNode(t, redis.url, 'node-b', { clusterSecret: CLUSTER, clusterHeartbeatMs: 60000 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${a.url}/whip/h`, '10', '10', 'video']);
  await pub.waitFor('open');
  const v = spawnPeer(t, 'viewers.mjs', [`${b.url}/whep/h`, '1'], { env: { VIEWER_PORT_BASE: '37600' } });
  t.is((await v.waitFor('ready', 30000)).open, 1);
  const whip = () => fetch(`${b.url}/whip/h`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer() });
  const live = await whip();
  t.is(live.status, 409, 'the origin lives: publish there');
  t.regex(await live.text(), /node-a/);
  await a.kill();
  await sleep(1500);  // a's records expire (three of its 300 ms heartbeats)
  t.false(b.relay.clusterStats().pulls[0].lost, 'b has not noticed yet');
  const gone = await whip();
  t.is(gone.status, 503, await gone.clone().text());
  t.is(gone.headers.get('retry-after'), '1');
  t.regex(await gone.text(), /still pulls/);
  t.is(b.relay.stats().viewers, 1, 'its viewer stays');
});
