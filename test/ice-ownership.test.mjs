// No one can take a stream down (RFC 8445 §7.3, RFC 7675): a 5-tuple belongs to one live peer; a
// publisher's own authenticated media from a new address moves it (NAT rebinding); a publisher that stops sending is
// noticed by its media, not only by consent expiry.
import test from 'ava';
import { reportWhen, sleep, spawnPeer, startRelay } from './helpers.mjs';
import { startLossyProxy } from './lossy-proxy.mjs';
import { offer } from './sdp-fixtures.mjs';
import { bindingRequest, iceOf } from './stun-forge.mjs';
import { connectWs } from './ws-client.mjs';

const PACKETS = 300;
const INTERVAL_MS = 10;

/** The longest run of counters 0..total-1 a viewer never got, in packets. */
function longestGap(received, total) {
  const got = new Set(received);
  let run = 0;
  let worst = 0;
  for (let i = 0; i < total; i++) {
    run = got.has(i) ? 0 : run + 1;
    worst = Math.max(worst, run);
  }
  return worst;
}

async function publishThroughProxy(t, relay, url, stream) {
  const target = { host: '127.0.0.1', port: relay.stats().workers[0].port };
  const proxy = await startLossyProxy(t, { target });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/${stream}`, String(PACKETS), String(INTERVAL_MS), 'both'], { env: { PROXY_PORT: String(proxy.port) } });
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/${stream}`, '2']);
  t.is((await viewers.waitFor('ready', 30000)).open, 2);
  return { proxy, pub, viewers };
}

test.serial('a valid check for another session from the publisher\'s address does not move the publisher\'s media', async (t) => {
  const { relay, url } = await startRelay(t, { workers: 1 });
  const { proxy, pub, viewers } = await publishThroughProxy(t, relay, url, 'hijack');
  pub.send('start');
  await sleep(800);
  // The attacker's own WHEP session: its check is valid, only its source address is forged.
  const res = await fetch(`${url}/whep/hijack`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer({ direction: 'recvonly' }) });
  t.is(res.status, 201);
  const relayIce = iceOf(await res.text());
  for (let i = 0; i < 5; i++) {
    proxy.inject(bindingRequest({ username: `${relayIce.ufrag}:abcd`, pwd: relayIce.pwd }));
    await sleep(50);
  }
  await sleep(500);
  // The attacker's session ends; the publisher must not lose its address with it.
  t.is((await fetch(new URL(res.headers.get('location'), url), { method: 'DELETE' })).status, 200);
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => r.viewers.every((v) => new Set(v.video).size >= PACKETS - 3), 4000);
  for (const v of report.viewers) {
    t.true(new Set(v.video).size >= PACKETS - 3, `viewer ${v.index}: ${new Set(v.video).size}/${PACKETS} video packets`);
    t.true(longestGap(v.video, PACKETS) <= 3, `viewer ${v.index}: longest gap ${longestGap(v.video, PACKETS)} packets`);
  }
  t.true(relay.stats().workers[0].iceAddressConflicts >= 1, 'the refused check is counted');
});

test.serial('a publisher whose source port changes mid-stream keeps its viewers, with a gap under 1 s', async (t) => {
  const { relay, url } = await startRelay(t, { workers: 1 });
  const { proxy, pub, viewers } = await publishThroughProxy(t, relay, url, 'rebind');
  pub.send('start');
  await sleep(1000);
  const rebindsBefore = relay.stats().workers[0].iceRebinds;
  proxy.rebind();
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => r.viewers.every((v) => Math.max(...v.video) >= PACKETS - 3), 4000);
  for (const v of report.viewers) {
    const gapMs = longestGap(v.video, PACKETS) * INTERVAL_MS;
    t.log(`viewer ${v.index}: ${new Set(v.video).size}/${PACKETS} video packets, longest gap ${gapMs} ms`);
    t.true(gapMs < 1000, `viewer ${v.index}: media stopped for ${gapMs} ms`);
    t.true(v.video.includes(PACKETS - 1), `viewer ${v.index} got the last packet`);
  }
  // No check came from the new port (the client does not know its NAT moved): its SRTP moved it.
  t.is(relay.stats().workers[0].iceRebinds - rebindsBefore, 1, 'the publisher moved once');
});

test.serial('kill -9 of a publisher: WebSocket viewers are told inactive within 4 s, once', async (t) => {
  const { url } = await startRelay(t, { consentTimeoutMs: 5000, republishGraceMs: 3000 });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/gone`, '2000', '10', 'both']);
  await pub.waitFor('open');
  const c = await connectWs(t, url);
  await c.request({ type: 'hello', id: 'h', version: 1 });
  const answer = await c.request({ type: 'view', id: 'v', stream: 'gone', sdp: offer({ direction: 'recvonly' }) });
  t.is(answer.type, 'answer');
  pub.send('start');
  await sleep(1000);
  const killedAt = Date.now();
  process.kill(-pub.child.pid, 'SIGKILL');
  const from = c.messages.length;
  const inactive = await c.next((m) => m.type === 'inactive', from, 8000);
  const after = inactive.at - killedAt;
  t.log(`inactive ${after} ms after kill -9`);
  t.true(after < 4000, `told after ${after} ms`);
  // Past the consent timeout and the end of the grace too: the same loss is not announced again.
  await sleep(6000);
  t.is(c.messages.slice(from).filter((m) => m.type === 'inactive').length, 1, JSON.stringify(c.types()));
});
