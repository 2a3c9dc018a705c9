// ICE-TCP (RFC 6544) against hostile and useless input on the relay's TCP port, checked with raw
// sockets from the test while legitimate (UDP) viewers keep receiving; and a viewer over IPv6
// loopback. The browser test of ICE-TCP itself (UDP blocked by nftables) is in ice-tcp-browser.
import dgram from 'node:dgram';
import net from 'node:net';
import test from 'ava';
import { reportWhen, sleep, spawnPeer, startRelay, until } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';
import { checkSdp } from './sdp-grammar.mjs';
import { bindingRequest, iceOf } from './stun-forge.mjs';

const PACKETS = 1200;
const INTERVAL_MS = 10;

/** The candidates of an answer: transport, priority, ip, port, tcptype. */
function candidates(sdp) {
  return [...sdp.matchAll(/a=candidate:\S+ 1 (udp|tcp) (\d+) (\S+) (\d+) typ host(?: tcptype (\S+))?/g)].map((m) => ({
    transport: m[1],
    priority: Number(m[2]),
    ip: m[3],
    port: Number(m[4]),
    tcptype: m[5],
  }));
}

const frame = (buf) => {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(buf.length);
  return Buffer.concat([h, buf]);
};

/** A raw TCP client: what it received, and when the relay closed it. */
function rawClient(port, host = '127.0.0.1') {
  const s = net.connect({ port, host });
  const c = { socket: s, data: Buffer.alloc(0), closed: false, connected: false };
  s.on('connect', () => {
    c.connected = true;
  });
  s.on('data', (d) => {
    c.data = Buffer.concat([c.data, d]);
  });
  s.on('close', () => {
    c.closed = true;
  });
  s.on('error', () => {});
  return c;
}

async function whep(url, stream) {
  const res = await fetch(`${url}/whep/${stream}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer({ direction: 'recvonly' }) });
  if (res.status !== 201) throw new Error(`WHEP ${res.status}`);
  const sdp = await res.text();
  return { sdp, ice: iceOf(sdp), location: new URL(res.headers.get('location'), url) };
}

const sum = (relay, key) => relay.stats().workers.reduce((a, w) => a + w[key], 0);

test.serial('ICE-TCP: answers carry passive TCP candidates below UDP; hostile connections are closed and counted while UDP viewers keep receiving', async (t) => {
  const { relay, url } = await startRelay(t, { workers: 2, connectTimeoutMs: 1000, rtcTcpMaxPerAddress: 6 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/tcp`, String(PACKETS), String(INTERVAL_MS), 'both']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/tcp`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  pub.send('start');

  // Two sessions of our own (one per worker: the least loaded takes each), for valid checks.
  const a = await whep(url, 'tcp');
  const b = await whep(url, 'tcp');
  const cands = candidates(a.sdp);
  const udp = cands.filter((c) => c.transport === 'udp');
  const tcp = cands.filter((c) => c.transport === 'tcp');
  t.true(udp.length >= 1 && tcp.length >= 1, a.sdp);
  t.deepEqual(checkSdp(a.sdp), [], 'the answer is valid SDP');
  t.true(tcp.every((c) => c.tcptype === 'passive'));
  t.true(Math.min(...udp.map((c) => c.priority)) > Math.max(...tcp.map((c) => c.priority)), 'every UDP candidate outranks every TCP one');
  const port = tcp[0].port;

  // 1. Valid checks over TCP for both sessions (one on the listener's worker, one handed over):
  //    each gets a framed binding success response.
  for (const s of [a, b]) {
    const c = rawClient(port);
    await until(() => c.connected, 2000);
    c.socket.write(frame(bindingRequest({ username: `${s.ice.ufrag}:abcd`, pwd: s.ice.pwd })));
    t.true(await until(() => c.data.length >= 2 && c.data.length >= 2 + c.data.readUInt16BE(0), 3000), 'a framed response arrives');
    t.is(c.data.readUInt16BE(2), 0x0101, 'binding success response');
    t.false(c.closed);
    // 2. The same connection now belongs to this session: a valid check for the other one is refused.
    const other = s === a ? b : a;
    //    (Counted as an address conflict when both sessions share a worker, else as a rejected
    //    check: the connection's worker does not hold the other session.)
    const refused = () => sum(relay, 'iceAddressConflicts') + sum(relay, 'stunRejected');
    const before = refused();
    const had = c.data.length;
    c.socket.write(frame(bindingRequest({ username: `${other.ice.ufrag}:abcd`, pwd: other.ice.pwd })));
    t.true(await until(() => refused() > before, 3000), 'a check for another session on an owned connection is refused');
    await sleep(200);
    t.is(c.data.length, had, 'and gets no success response');
    c.socket.destroy();
  }

  // 3. A username of no known peer: closed at once.
  const unknown = rawClient(port);
  await until(() => unknown.connected, 2000);
  unknown.socket.write(frame(bindingRequest({ username: 'nobodyhere:abcd', pwd: 'x'.repeat(22) })));
  t.true(await until(() => unknown.closed, 3000), 'unknown username: closed');
  t.true(sum(relay, 'tcpRejectedUsername') >= 1);

  // 4. A known username with the wrong password: closed, and the session's path is untouched.
  const forged = rawClient(port);
  await until(() => forged.connected, 2000);
  forged.socket.write(frame(bindingRequest({ username: `${a.ice.ufrag}:abcd`, pwd: 'wrongwrongwrongwrongwrong' })));
  t.true(await until(() => forged.closed, 3000), 'failed check: closed');
  t.true(sum(relay, 'tcpRejectedInvalid') >= 1);

  // 5. A frame longer than the largest datagram: closed at once.
  const big = rawClient(port);
  await until(() => big.connected, 2000);
  big.socket.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
  t.true(await until(() => big.closed, 3000), 'oversize frame: closed');
  t.true(sum(relay, 'tcpRejectedOversize') >= 1);

  // 6. No STUN at all: a connection that stays silent is closed after connectTimeoutMs.
  const silent = rawClient(port);
  await until(() => silent.connected, 2000);
  const opened = Date.now();
  t.true(await until(() => silent.closed, 4000), 'silent connection: closed');
  t.true(Date.now() - opened >= 700, `closed after ${Date.now() - opened} ms, not before the timeout`);
  t.true(sum(relay, 'tcpRejectedTimeout') >= 1);

  // 7. Too many connections from one address: those over the limit are closed at once.
  const flood = Array.from({ length: 12 }, () => rawClient(port));
  await sleep(500);
  const closedNow = flood.filter((c) => c.closed).length;
  t.true(closedNow >= 6, `${closedNow} of 12 closed at once (limit 6 per address)`);
  t.true(sum(relay, 'tcpRejectedLimit') >= 6);
  for (const c of flood) c.socket.destroy();

  // The legitimate viewers saw none of it.
  await pub.waitFor('sent', 60000);
  const report = await reportWhen(viewers, (r) => r.viewers.every((v) => new Set(v.video).size >= PACKETS - 5), 5000);
  for (const v of report.viewers) {
    const got = new Set(v.video).size;
    t.true(got >= PACKETS - 5, `viewer ${v.index}: ${got}/${PACKETS} video packets`);
    t.is(v.bad, 0);
  }
  // /metrics names them.
  const metrics = await (await fetch(`${url}/metrics`)).text();
  for (const name of ['halfsec_tcp_rejected_timeout_total', 'halfsec_tcp_rejected_oversize_total', 'halfsec_tcp_rejected_username_total', 'halfsec_tcp_rejected_limit_total', 'halfsec_tcp_dropped_packets_total', 'halfsec_tcp_connections']) {
    t.true(metrics.includes(name), name);
  }
  t.true(await until(() => sum(relay, 'tcpConnections') === 0, 3000), 'every connection gone');
});

test.serial('ICE-TCP: a session that ends closes its TCP connection', async (t) => {
  const { url } = await startRelay(t, { workers: 2 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/tcpend`, '300', '10', 'both']);
  await pub.waitFor('open');
  const s = await whep(url, 'tcpend');
  const port = candidates(s.sdp).find((c) => c.transport === 'tcp').port;
  const c = rawClient(port);
  await until(() => c.connected, 2000);
  c.socket.write(frame(bindingRequest({ username: `${s.ice.ufrag}:abcd`, pwd: s.ice.pwd })));
  t.true(await until(() => c.data.length > 2, 3000));
  t.false(c.closed);
  t.is((await fetch(s.location, { method: 'DELETE' })).status, 200);
  t.true(await until(() => c.closed, 3000), 'the connection closes with the session');
});

test.serial('ICE-TCP: a session whose connection closes ends after the 3 s grace (ice-tcp-closed), unless a check over a new TCP connection or over UDP moves it first', async (t) => {
  // Forged ICE peers (real checks with the sessions' ice-pwd, no DTLS: connectTimeoutMs is set
  // long enough not to interfere); the browser cases are in ice-tcp-reset.test.mjs.
  const { relay, url } = await startRelay(t, { workers: 2, connectTimeoutMs: 12000 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/grace`, '1500', '10', 'both']);
  await pub.waitFor('open');
  const leaves = [];
  relay.on('viewer:leave', (e) => leaves.push({ ...e, at: Date.now() }));
  const sessions = { none: await whep(url, 'grace'), tcp: await whep(url, 'grace'), udp: await whep(url, 'grace') };
  const cands = candidates(sessions.none.sdp);
  const port = cands.find((c) => c.transport === 'tcp').port;
  // The UDP check goes to the port of that session's own worker (sessions spread over workers).
  const udpCand = candidates(sessions.udp.sdp).find((c) => c.transport === 'udp');
  const check = async (s) => {
    const c = rawClient(port);
    await until(() => c.connected, 2000);
    c.socket.write(frame(bindingRequest({ username: `${s.ice.ufrag}:abcd`, pwd: s.ice.pwd })));
    await until(() => c.data.length > 2, 3000);
    return c;
  };
  const conns = {};
  for (const [k, s] of Object.entries(sessions)) conns[k] = await check(s);
  t.true(Object.values(conns).every((c) => c.data.readUInt16BE(2) === 0x0101), 'each session bound to its TCP connection');
  const pathClosed = sum(relay, 'tcpPathClosed');
  const t0 = Date.now();
  for (const c of Object.values(conns)) c.socket.destroy();
  await sleep(300);
  // Within the grace: one session checks in over a new TCP connection, one over UDP.
  const again = await check(sessions.tcp);
  t.is(again.data.readUInt16BE(2), 0x0101);
  const udp = dgram.createSocket('udp4');
  t.teardown(() => udp.close());
  const got = new Promise((resolve) => udp.once('message', (m) => resolve(m)));
  udp.send(bindingRequest({ username: `${sessions.udp.ice.ufrag}:abcd`, pwd: sessions.udp.ice.pwd }), udpCand.port, udpCand.ip);
  t.is((await Promise.race([got, sleep(3000)]))?.readUInt16BE(0), 0x0101, 'a UDP check is answered');
  t.true(await until(() => leaves.length >= 1, 6000), 'the session with no path left ends');
  await sleep(Math.max(0, t0 + 4500 - Date.now()));
  const gone = (s) => leaves.find((e) => s.location.pathname.endsWith(`/${e.session}`));
  const ended = gone(sessions.none);
  t.is(ended?.reason, 'ice-tcp-closed');
  t.true(ended.at - t0 >= 2900 && ended.at - t0 <= 4000, `after the grace: ${ended.at - t0} ms`);
  t.is(gone(sessions.tcp), undefined, 'the session that checked in over a new TCP connection stays');
  t.is(gone(sessions.udp), undefined, 'the session that checked in over UDP stays');
  t.is(sum(relay, 'tcpPathClosed'), pathClosed + 1, 'one session counted');
  t.is((await fetch(sessions.none.location, { method: 'DELETE' })).status, 404, 'its resource is gone');
  again.socket.destroy();
});

test.serial('IPv6: bound to ::, the answer has IPv4 and IPv6 candidates (UDP and TCP) and a viewer over ::1 plays', async (t) => {
  const { relay, url } = await startRelay(t, { workers: 2, rtcBindAddress: '::', announcedIps: ['127.0.0.1', '::1'] });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/six`, '400', '10', 'both']);
  await pub.waitFor('open');
  const s = await whep(url, 'six');
  const cands = candidates(s.sdp);
  for (const ip of ['127.0.0.1', '::1']) {
    for (const transport of ['udp', 'tcp']) t.true(cands.some((c) => c.ip === ip && c.transport === transport), `${transport} ${ip}`);
  }
  await fetch(s.location, { method: 'DELETE' });
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/six`, '1'], { env: { PEER_BIND: '::1' } });
  t.is((await viewers.waitFor('ready', 30000)).open, 1);
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => new Set(r.viewers[0].video).size >= 395, 5000);
  const got = new Set(report.viewers[0].video).size;
  t.true(got >= 395, `IPv6 viewer: ${got}/400 video packets`);
  t.true(relay.stats().workers.some((w) => w.viewers === 1));
});
