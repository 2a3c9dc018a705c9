// RFC 8842 §5: a peer that offers a=setup:passive (FFmpeg's WHIP muxer does) is the DTLS server;
// the relay answers a=setup:active and opens the handshake itself once the peer's first valid
// check gave it an address. Real handshakes with libdatachannel peers taking the server role.
import test from 'ava';
import { reportWhen, spawnPeer, startRelay, until } from './helpers.mjs';
import { offer } from './sdp-fixtures.mjs';

const PACKETS = 150;
const range = (n) => Array.from({ length: n }, (_, i) => i);

test.serial('a publisher and viewers that offer a=setup:passive get every packet through the relay as DTLS client', async (t) => {
  const { relay, url } = await startRelay(t);
  const passive = offer().replace(/a=setup:actpass/g, 'a=setup:passive');
  const probe = await fetch(`${url}/whip/probe`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: passive });
  t.is(probe.status, 201);
  const answer = await probe.text();
  t.regex(answer, /a=setup:active/);
  t.notRegex(answer, /a=setup:passive/);

  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/live`, String(PACKETS), '10', 'both'], { env: { PUB_SETUP: 'passive' } });
  await pub.waitFor('open');
  t.true(await until(() => relay.stats().publishers >= 1), 'the publisher finished ICE and DTLS');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/live`, '3', 'H264', 'passive']);
  t.is((await viewers.waitFor('ready', 30000)).open, 3);
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => r.viewers.every((v) => v.video.length >= PACKETS && v.audio.length >= PACKETS), 5000);
  for (const v of report.viewers) {
    t.deepEqual(v.video, range(PACKETS), `viewer ${v.index} got every video packet`);
    t.deepEqual(v.audio, range(PACKETS), `viewer ${v.index} got every audio packet`);
    t.is(v.bad, 0);
  }
  t.is(relay.stats().workers.reduce((a, w) => a + w.srtpErrors, 0), 0);
});
