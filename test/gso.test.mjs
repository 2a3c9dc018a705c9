import test from 'ava';
import { spawnPeer, startRelay, until } from './helpers.mjs';

const gsoMessages = (relay) => relay.stats().workers.reduce((a, w) => a + w.gsoMessages, 0);

// A burst of a publisher's packets reaches each viewer as one UDP GSO message (UDP_SEGMENT); the
// kernel splits it back into the datagrams, each its own SRTP packet: libdatachannel's viewers
// (libsrtp) authenticate and decrypt every one, and check every payload byte.
for (const gso of [true, false]) {
  test.serial(`bursts to real viewers arrive whole and authentic with udpGso ${gso}`, async (t) => {
    const PACKETS = 200;
    const { url, relay } = await startRelay(t, { udpGso: gso });
    const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/gso`, String(PACKETS), '20', 'video'], { env: { PUB_BURST: '10' } });
    await pub.waitFor('open');
    const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/gso`, '3']);
    t.is((await viewers.waitFor('ready', 30000)).open, 3);
    const before = gsoMessages(relay);
    pub.send('start');
    await pub.waitFor('sent', 30000);
    let report;
    await until(async () => {
      report = await viewers.request('report', 'report');
      return report.viewers.every((v) => v.video.length >= PACKETS);
    }, 5000, 200);
    for (const v of report.viewers) {
      t.is(new Set(v.video).size, PACKETS, `viewer ${v.index}: every packet once`);
      t.is(v.bad, 0, `viewer ${v.index}: no corrupted payload`);
    }
    const grouped = gsoMessages(relay) - before;
    if (gso) t.true(grouped >= 10, `${grouped} GSO messages for 20 bursts to 3 viewers`);
    else t.is(grouped, 0);
  });
}
