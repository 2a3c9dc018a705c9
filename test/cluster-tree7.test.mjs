// The 7-node tree, measured: origin → 2 mid-tier → 4 edges, 7 relay processes (one worker each)
// in 2 regions 30 ms apart, 10 viewers per edge, the registry on Redis Sentinel. Every viewer
// gets every packet; glass-to-glass per tier from the publisher's send time of each packet (its
// payload counter is the stamp) to each viewer's arrival; relay CPU per packet sent, per node;
// then the origin (while media flows: the publisher republishes where the director says, a
// mid-tier node already relaying the stream), a mid-tier node and the Redis primary are killed in
// turn, with every viewer's gap measured.
//
// The delay between the regions is userspace: this kernel has no sch_netem (`tc qdisc add ...
// netem` answers "Specified qdisc kind is unknown"; only htb, tbf, pfifo and clsact exist), so
// `tc netem delay` cannot run. Instead the test runs in a network namespace of its own, where
// nftables (nat, hook output) sends every packet a relay of one region addresses to a relay of
// the other (UDP media and TCP signaling alike; the regions' relays run as two different uids, so
// the rule matches the sending socket's owner) to test/peers/region-delay.mjs, which holds it 30 ms
// and passes it on; the answers come back through it, 30 ms too. Regions are loopback ranges
// (x: 127.0.1.0/24, y: 127.0.2.0/24). When those uids cannot run the relay from this checkout
// (or TREE7_BY_ADDRESS=1), the rules match the media's source address instead and the WHEP
// requests go undelayed. Outside the namespace this file only starts itself inside one.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnPeer, until, reportWhen } from './helpers.mjs';
import { startNodeProcess, startSentinelSet } from './cluster-helpers.mjs';
import { killTimeoutGroup, netnsUnavailable } from './netns.mjs';

const TITLE = '7-node tree in 2 regions 30 ms apart: every viewer gets every packet, glass-to-glass per tier, and the origin, a mid-tier node and the Redis primary die in turn with every viewer\'s gap measured';
const INNER = process.env.HALFSEC_TREE7_NETNS === '1';
const CLUSTER = 'cluster-secret-for-the-7-node-tree-0123456789';
const DELAY_MS = 30;
/** Each region's relays run as their own uid: nftables tells the regions apart by socket owner. */
const REGIONS = { x: { uid: 65533, net: '127.0.1.0/24' }, y: { uid: 65534, net: '127.0.2.0/24' } };
const DELAYER_IP = '127.0.3.1';
// Not a bare `nft`: under npm scripts node_modules/.bin comes first in PATH, and @vercel/nft has one.
const NFT = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p)) ?? 'nft';
const N1 = 700;
const N2 = 1500;
const MEASURED = 300;
const range = (n) => Array.from({ length: n }, (_, i) => i);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const json = async (url) => (await fetch(url, { signal: AbortSignal.timeout(3000) })).json();
const cluster = (n) => json(`${n.url}/api/cluster`).catch(() => undefined);
const pullOf = async (n) => (await cluster(n))?.pulls[0];
const sleepUntil = (at) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/** Per-packet latency (arrival - send, ms) of viewers' video packets below index `to`. */
function latencies(viewers, sent, to) {
  const out = [];
  for (const x of viewers) {
    for (let k = 0; k < Math.min(to, x.video.length); k++) {
      const c = x.video[k];
      if (sent[c] !== undefined) out.push(x.videoAt[k] - sent[c]);
    }
  }
  return out;
}

/** Longest silence (ms) between two video packets a viewer received at or after index `from`. */
function longestGap(x, from) {
  let gap = 0;
  for (let k = Math.max(1, from); k < x.videoAt.length; k++) gap = Math.max(gap, x.videoAt[k] - x.videoAt[k - 1]);
  return gap;
}

/** Where the second publisher's run (counters from 0 again) begins in a viewer's video. */
const secondRun = (video) => {
  const k = video.findIndex((c, i) => i > 0 && c < video[i - 1]);
  return k < 0 ? video.length : k;
};

/** CPU time (ns) a process's live threads have run (schedstat: exact, unlike the 10 ms ticks of stat). */
function cpuNs(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns;
}

const fmt = (xs) => (xs.length ? `p50 ${median(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (${xs.length} viewers)` : 'none');

async function scenario(t) {
  t.timeout(110_000);
  // The regions' uids must be able to run the relay (a checkout only root can read cannot):
  // else the rules match the relays' media source addresses, and signaling is not delayed.
  const byUid = process.env.TREE7_BY_ADDRESS !== '1' && Object.values(REGIONS).every(({ uid }) => spawnSync(process.execPath, ['dist/cli.js', '--help'], { uid, gid: uid, stdio: 'ignore' }).status === 0);
  if (!byUid) t.log('the regions\' uids cannot run dist/cli.js here: only the media between the regions is delayed (matched by source address), not the WHEP requests');
  const set = await startSentinelSet(t);
  const sentinels = set.sentinels.flatMap((s) => ['--redis-sentinel', s]);
  const node = async (id, ip, region, maxPulls) => ({
    id,
    ip,
    region,
    ...(await startNodeProcess(t, undefined, id, { secret: CLUSTER, ip, limitSec: 110, uid: byUid ? REGIONS[region].uid : undefined, extra: [...sentinels, '--region', region, '--region-distances', 'x-y=30', '--max-pulls', String(maxPulls)] })),
  });
  const nodes = await Promise.all([
    node('o', '127.0.1.1', 'x', 2),
    node('m1', '127.0.1.2', 'x', 4),
    node('m2', '127.0.2.2', 'y', 4),
    node('e1', '127.0.1.3', 'x', 2),
    node('e2', '127.0.1.4', 'x', 2),
    node('e3', '127.0.2.3', 'y', 2),
    node('e4', '127.0.2.4', 'y', 2),
  ]);
  const [o, m1, m2, e1, e2, e3, e4] = nodes;
  const edges = [e1, e2, e3, e4];
  for (const n of nodes) n.rtcPort = (await json(`${n.url}/api/stats`)).workers[0].port;

  // The regions 30 ms apart: a delayer fronts each relay's media and HTTP port; nftables sends
  // the other region's relays there.
  const delayer = spawnPeer(t, 'region-delay.mjs', [JSON.stringify({ delayMs: DELAY_MS, host: DELAYER_IP, targets: nodes.map((n) => ({ name: n.id, ip: n.ip, udp: n.rtcPort, tcp: n.port })) })], { limitSec: 110 });
  const { fronts } = await delayer.waitFor('ready');
  const rules = nodes.flatMap((n) => {
    const other = n.region === 'x' ? 'y' : 'x';
    if (!byUid) return [`ip saddr ${REGIONS[other].net} ip daddr ${n.ip} udp dport ${n.rtcPort} dnat to ${DELAYER_IP}:${fronts[n.id].udp}`];
    const from = REGIONS[other].uid;
    return [`meta skuid ${from} ip daddr ${n.ip} udp dport ${n.rtcPort} dnat to ${DELAYER_IP}:${fronts[n.id].udp}`, `meta skuid ${from} ip daddr ${n.ip} tcp dport ${n.port} dnat to ${DELAYER_IP}:${fronts[n.id].tcp}`];
  });
  const nft = spawnSync(NFT, ['-f', '-'], { input: `table ip tree7 {\n chain out {\n  type nat hook output priority -100; policy accept;\n  ${rules.join('\n  ')}\n }\n}\n`, encoding: 'utf8' });
  t.is(nft.status, 0, `nft: ${nft.stderr}`);
  t.true(await until(async () => (await cluster(o))?.nodes.length === 7, 15000, 200), 'all 7 nodes registered through the sentinels');

  // Phase 0: the tree. One viewer on the origin and on each mid-tier node (tier 0 and 1) makes
  // the mid-tier nodes the origin's two pulls; then 10 viewers on each edge.
  const long = { PEER_WATCHDOG_MS: '105000' };
  const pub1 = spawnPeer(t, 'publisher.mjs', [`${o.url}/whip/t7`, String(N1), '10', 'video'], { env: { PEER_TIMES: '1', ...long }, limitSec: 105 });
  await pub1.waitFor('open');
  // Viewers NACK their losses (libdatachannel does not by itself): a machine this loaded drops
  // UDP now and then, and each hop repairs its own losses.
  const env = (i) => ({ VIEWER_PORT_BASE: String(38000 + i * 400), VIEWER_TIMES: '1', VIEWER_NACK: '1', ...long });
  const tier0 = spawnPeer(t, 'viewers.mjs', [`${o.url}/whep/t7`, '1'], { env: env(0), limitSec: 105 });
  t.is((await tier0.waitFor('ready', 30000)).open, 1);
  const tier1 = [];
  for (const [i, m] of [m1, m2].entries()) {
    const v = spawnPeer(t, 'viewers.mjs', [`${m.url}/whep/t7`, '1'], { env: env(1 + i), limitSec: 105 });
    t.is((await v.waitFor('ready', 30000)).open, 1);
    tier1.push(v);
  }
  // The edges' pulls must find the mid-tier nodes in the registry as carriers.
  t.true(await until(async () => (await cluster(o))?.nodes.filter((n) => n.streams.includes('t7')).length === 3, 5000, 100));
  const tier2 = [];
  for (const [i, e] of edges.entries()) {
    const v = spawnPeer(t, 'viewers.mjs', [`${e.url}/whep/t7`, '10'], { env: env(3 + i), limitSec: 105 });
    t.is((await v.waitFor('ready', 40000)).open, 10, `edge ${i + 1}: 10 viewers`);
    tier2.push(v);
  }
  const ups = await Promise.all([m1, m2, ...edges].map(async (n) => (await pullOf(n))?.upstream));
  t.deepEqual(ups, ['o', 'o', 'm1', 'm1', 'm2', 'm2'], 'origin → m1, m2 (its 2 pulls); each edge from the mid-tier node of its region');
  t.is((await cluster(o)).pullsServed, 2);
  t.true(await until(async () => (await Promise.all(edges.map(pullOf))).every((p) => p && !p.lost), 10000));

  // Relay CPU: an idle second (sessions up, no media), then a measured stretch of media.
  const sample = async () => Promise.all(nodes.map(async (n) => ({ cpu: cpuNs(n.relayPid()), tx: (await json(`${n.url}/api/stats`)).workers[0].txPackets, at: performance.now() })));
  const idle0 = await sample();
  await new Promise((r) => setTimeout(r, 1500));
  const idle1 = await sample();
  pub1.send('start');
  const started1 = Date.now();
  await sleepUntil(started1 + 500);
  const media0 = await sample();
  await sleepUntil(started1 + 3000);
  const media1 = await sample();
  const cpu = nodes.map((n, i) => {
    const idleRate = (idle1[i].cpu - idle0[i].cpu) / (idle1[i].at - idle0[i].at); // ns per ms
    const ms = media1[i].at - media0[i].at;
    const busy = (media1[i].cpu - media0[i].cpu) / ms;
    const txPerS = ((media1[i].tx - media0[i].tx) / ms) * 1000;
    return { node: n.id, coreShare: +(busy / 1e6).toFixed(4), idleShare: +(idleRate / 1e6).toFixed(4), txPerS: Math.round(txPerS), usPerPacket: +(((busy - idleRate) * 1000) / 1e3 / txPerS).toFixed(1) };
  });

  const done1 = (r) => r.viewers.every((x) => x.video.length >= MEASURED);
  const r0 = await reportWhen(tier0, done1, 8000);
  const r1 = await Promise.all(tier1.map((v) => reportWhen(v, done1, 8000)));
  const r2 = await Promise.all(tier2.map((v) => reportWhen(v, done1, 8000)));
  for (const [name, rep] of [['origin', r0], ['m1', r1[0]], ['m2', r1[1]], ...r2.map((r, i) => [`e${i + 1}`, r])]) {
    for (const x of rep.viewers) t.deepEqual(x.video.slice(0, MEASURED), range(MEASURED), `${name} viewer ${x.index}: every packet`);
  }
  // The origin's viewer leaves: its node dies next.
  await tier0.request('leave 0', 'left');

  // Phase 1: the origin dies while media flows. The publisher asks the director where to
  // republish: every node carries or holds the stream, so it names a mid-tier node that held
  // it, which becomes the origin with its viewer and its pulls kept.
  await sleepUntil(started1 + 4000);
  const killedO = Date.now();
  await o.kill();
  let dir;
  t.true(await until(async () => ['m1', 'm2'].includes((dir = await json(`${m1.url}/api/director/t7?role=publish`).catch(() => ({}))).node), 8000, 100), 'the director names a mid-tier node holding the stream');
  const pub2 = spawnPeer(t, 'publisher.mjs', [dir.whip, String(N2), '10', 'video'], { env: { PEER_TIMES: '1', ...long }, limitSec: 105 });
  await pub2.waitFor('open');
  pub2.send('start');
  const started2 = Date.now();
  const newOrigin = dir.node === 'm1' ? m1 : m2;
  const other = dir.node === 'm1' ? m2 : m1;
  const fed = async () => (await Promise.all([m1, m2, ...edges].map(async (n) => ((await cluster(n))?.node === newOrigin.id ? { lost: false } : await pullOf(n))))).every((p) => p && !p.lost);
  t.true(await until(fed, 10000, 50), 'every node is fed again from the new origin');
  const resumeO = Date.now() - killedO;
  t.is((await pullOf(other))?.upstream, newOrigin.id, `${other.id} re-pulled from ${newOrigin.id}, across the regions`);
  for (const n of [m1, m2, ...edges]) t.is((await json(`${n.url}/api/stats`)).viewers, n === newOrigin ? 4 : n === other ? 3 : 10, `${n.id} lost no viewer (nor pull)`);

  // Phase 2 and 3, during the new publisher's run: the other mid-tier node dies (its viewer
  // leaves first), then the Redis primary.
  const tierOther = tier1[other === m1 ? 0 : 1];
  const tierNew = tier1[other === m1 ? 1 : 0];
  await sleepUntil(started2 + 3000);
  const rOther = await tierOther.request('report', 'report');
  await tierOther.request('leave 0', 'left');
  const below = other === m1 ? [0, 1] : [2, 3];
  const killedM = Date.now();
  await other.kill();
  t.true(await until(async () => (await Promise.all(below.map((i) => pullOf(edges[i])))).every((p) => p && !p.lost && p.upstream !== other.id), 10000, 50), 'the edges below the dead mid-tier node re-pulled');
  const resumeM = Date.now() - killedM;
  await sleepUntil(started2 + 7000);
  const killedR = Date.now();
  await set.killPrimary();
  t.true(await until(async () => (await set.masterPort()) === set.replica, 15000, 200), 'the sentinels promoted the replica');
  const live = [newOrigin, ...edges];
  let states = [];
  t.true(await until(async () => (states = await Promise.all(live.map(cluster))).every((c) => c?.registryUp), 20000, 100), `every live node reaches the new primary (${live.map((n, i) => `${n.id}: ${states[i]?.registryUp}`).join(', ')})`);
  const redisBack = Date.now() - killedR;
  const sent1 = (await pub1.waitFor('sent', 20000)).times;
  await pub2.waitFor('sent', 40000);

  // Glass-to-glass per tier, over the first MEASURED packets (all nodes up).
  const lat = {
    origin: latencies(r0.viewers, sent1, MEASURED),
    midX: latencies(r1[0].viewers, sent1, MEASURED),
    midY: latencies(r1[1].viewers, sent1, MEASURED),
    edgeX: latencies([...r2[0].viewers, ...r2[1].viewers], sent1, MEASURED),
    edgeY: latencies([...r2[2].viewers, ...r2[3].viewers], sent1, MEASURED),
  };
  const figures = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, { p50: +median(v).toFixed(2), p99: +pct(v, 0.99).toFixed(2) }]));
  t.log(`glass-to-glass (publisher send → viewer arrival, ms): ${JSON.stringify(figures)}`);
  t.log(`relay CPU while media flowed (share of one core; µs per packet sent above the idle rate): ${JSON.stringify(cpu)}`);
  const { lateMs, udp } = await delayer.request('stats', 'stats');
  t.log(`delayer: ${udp.forward} datagrams forward, ${udp.back} back, ${udp.tcpConnections} TCP connections, left late by p50 ${lateMs.p50} ms, p99 ${lateMs.p99} ms`);
  t.true(udp.back > MEASURED && (udp.tcpConnections > 0 || !byUid), 'the cross-region pull\'s media and its signaling went through the delayer');
  // Region y's mid-tier node pulls across the regions: its viewer gets each packet DELAY_MS later.
  const crossing = figures.midY.p50 - figures.midX.p50;
  t.true(crossing >= DELAY_MS * 0.9 && crossing < DELAY_MS + 40, `the pull into region y crosses ~${DELAY_MS} ms (${crossing.toFixed(1)} ms)`);

  // Every viewer's gaps: the origin's death (last packet of the old run → first of the new),
  // the mid-tier node's, the Redis primary's.
  const gapO = [];
  const gapM = [];
  const rNew = await reportWhen(tierNew, (r) => r.viewers.every((x) => x.video.at(-1) === N2 - 1), 8000);
  for (const [name, rep, kept] of [[newOrigin.id, rNew, true], [other.id, rOther, false]]) {
    const x = rep.viewers[0];
    const k = secondRun(x.video);
    const second = x.video.slice(k);
    if (kept) t.deepEqual(second, range(N2), `${name}'s viewer (on the node the publisher moved to): every packet of the new run`);
    else t.true(second.length > 50 && second.every((c, i) => i === 0 || c > second[i - 1]), `${name}'s viewer: the new run in order from the re-pull`);
    t.is(x.seqGaps, 0, `${name}'s viewer: sequence numbers unbroken`);
    t.is(x.videoSsrcs, 1, `${name}'s viewer: one SSRC`);
    gapO.push(x.videoAt[k] - x.videoAt[k - 1]);
  }
  for (const [i, v] of tier2.entries()) {
    const rep = await reportWhen(v, (r) => r.viewers.every((x) => x.video.at(-1) === N2 - 1), 8000);
    t.is(rep.viewers.length, 10);
    for (const x of rep.viewers) {
      const k = secondRun(x.video);
      const after = x.video.slice(k);
      gapO.push(x.videoAt[k] - x.videoAt[k - 1]);
      if (below.includes(i)) {
        // Packets sent while their mid-tier node was dead are lost; the rest arrive in order.
        t.true(after.every((c, j) => j === 0 || c > after[j - 1]), `e${i + 1} viewer ${x.index}: in order`);
        t.is(after.at(-1), N2 - 1, `e${i + 1} viewer ${x.index}: to the last packet`);
        gapM.push(longestGap(x, k + 1));
      } else {
        t.deepEqual(after, range(N2), `e${i + 1} viewer ${x.index}: every packet of the new origin, through the Redis failover`);
      }
      t.is(x.seqGaps, 0, 'sequence numbers unbroken');
      t.is(x.videoSsrcs, 1, 'one SSRC throughout');
    }
  }
  t.log(`origin killed: publisher moved to ${newOrigin.id}, every node fed again after ${resumeO} ms; viewers' gap ${fmt(gapO)}`);
  t.log(`mid-tier ${other.id} killed: edges below re-pulled after ${resumeM} ms; their viewers' longest gap ${fmt(gapM)}`);
  t.log(`Redis primary killed: registry back after ${redisBack} ms; no packet lost for the viewers not below the dead mid-tier node`);
  // Loose: the origin's death costs detection (3 heartbeats), the director, a new publisher
  // process with its ICE and DTLS; a mid-tier node's costs detection and a re-pull.
  t.true(Math.max(...gapO) < 6000, 'every viewer resumed within seconds after the origin died');
  t.true(Math.max(...gapM) < 5000, 'every viewer below the dead mid-tier node resumed within seconds');
}

if (INNER) {
  test.serial(TITLE, scenario);
} else {
  const why = netnsUnavailable() ?? (spawnSync(NFT, ['--version']).status === 0 ? null : 'no nft (Debian nftables)');
  const run = why ? test.skip : test.serial;
  if (why) test('the 7-node tree is skipped', (t) => t.log(why) || t.pass());
  run(`${TITLE} (in a network namespace of its own)`, async (t) => {
    t.timeout(120_000);
    const root = fileURLToPath(new URL('..', import.meta.url));
    const ava = fileURLToPath(new URL('../node_modules/ava/entrypoints/cli.mjs', import.meta.url));
    const child = spawn('timeout', ['-s', 'KILL', '115', 'unshare', '-n', '--', 'bash', '-c', 'ip link set lo up && exec "$@"', 'netns', process.execPath, ava, '--tap', 'test/cluster-tree7.test.mjs'], {
      cwd: root,
      env: { ...process.env, HALFSEC_TREE7_NETNS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    t.teardown(() => killTimeoutGroup(child));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise((r) => child.on('close', (c) => r(c)));
    for (const line of out.split('\n').filter((l) => /^\s*#/.test(l) && !/^# (tests|pass|fail|skip|todo)/.test(l))) t.log(line.replace(/^\s*#\s*/, ''));
    t.is(code, 0, out.slice(-8000));
    t.regex(out, /^ok 1 /m);
  });
}
