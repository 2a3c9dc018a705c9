import test from 'ava';
import { assertEveryPacketOnce, reportWhen, spawnPeer, startRelay } from './helpers.mjs';

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
    const report = await reportWhen(viewers, (r) => r.viewers.every((v) => v.video.length >= PACKETS));
    assertEveryPacketOnce(t, report, PACKETS);
    const grouped = gsoMessages(relay) - before;
    if (gso) t.true(grouped >= 10, `${grouped} GSO messages for 20 bursts to 3 viewers`);
    else t.is(grouped, 0);
  });
}

// fanoutCoalesceUs: a paced publisher (one packet every 10 ms, a frame's last of every 5 marked)
// gives each viewer one packet per wake-up, so nothing forms a GSO run; with a 30 ms window the
// relay holds a frame's packets until the window ends or the frame's last arrives, and sends each
// viewer its group as one message. Every packet still arrives once, in order, intact; the wait
// shows in the residence histogram (its mean grows by at least a few ms: a lower bound, which a
// loaded machine only raises).
for (const coalesceUs of [0, 30000]) {
  test.serial(`a paced publisher's packets reach real viewers whole and in order with fanoutCoalesceUs ${coalesceUs}`, async (t) => {
    const PACKETS = 150;
    const { url, relay } = await startRelay(t, { fanoutCoalesceUs: coalesceUs });
    const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/paced`, String(PACKETS), '10', 'video'], { env: { PUB_FRAME: '5' } });
    await pub.waitFor('open');
    const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/paced`, '3']);
    t.is((await viewers.waitFor('ready', 30000)).open, 3);
    const residence = () => relay.stats().workers.reduce((a, w) => ({ n: a.n + w.residenceBuckets.reduce((x, y) => x + y, 0), s: a.s + w.residenceSumSeconds }), { n: 0, s: 0 });
    const before = gsoMessages(relay);
    const r0 = residence();
    pub.send('start');
    await pub.waitFor('sent', 30000);
    const report = await reportWhen(viewers, (r) => r.viewers.every((v) => v.video.length >= PACKETS));
    assertEveryPacketOnce(t, report, PACKETS, { inOrder: true });
    const grouped = gsoMessages(relay) - before;
    const r1 = residence();
    const meanMs = ((r1.s - r0.s) / Math.max(1, r1.n - r0.n)) * 1000;
    t.log(`${grouped} GSO messages, mean residence ${meanMs.toFixed(2)} ms over ${r1.n - r0.n} datagrams`);
    if (coalesceUs > 0) {
      // 30 frames of 5 packets to 3 viewers: at least one run per frame and viewer, give or take
      // frames split by the publisher's own timer jitter.
      t.true(grouped >= 45, `${grouped} GSO messages`);
      t.true(meanMs >= 4, `mean residence ${meanMs.toFixed(2)} ms`);
    }
  });
}
