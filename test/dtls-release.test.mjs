// The relay frees each peer's SSL once the DTLS handshake is done (native/dtls/dtls_transport.cc,
// Impl::Compact; what it keeps: native/dtls/dtls_released.h). What must still work with real
// peers: a lost last flight (RFC 6347 4.2.4: the relay resends it from kept bytes when the viewer
// retransmits), and no unauthenticated DTLS alert, even from the viewer's own address, may end
// the session.
import test from 'ava';
import { startLossyProxy } from './lossy-proxy.mjs';
import { sleep, spawnPeer, startRelay, until } from './helpers.mjs';

const unique = (arr) => new Set(arr).size;
const CCS = 20; // DTLS content type change_cipher_spec: the relay's last flight starts with it

async function viewerThroughProxy(t, stream, dropToClient) {
  const { relay, url } = await startRelay(t, { workers: 1 });
  const target = { host: '127.0.0.1', port: relay.stats().workers[0].port };
  const proxy = await startLossyProxy(t, { target, dropToClient });
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/${stream}`, '300', '8', 'both']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/${stream}`, '1'], { env: { PROXY_PORT: String(proxy.port) } });
  t.is((await viewers.waitFor('ready', 30000)).open, 1);
  return { relay, proxy, pub, viewers };
}

async function allMedia(t, pub, viewers) {
  pub.send('start');
  await pub.waitFor('sent', 30000);
  let report;
  await until(async () => {
    report = await viewers.request('report', 'report');
    return report.viewers.every((v) => unique(v.video) >= 297 && unique(v.audio) >= 297);
  }, 6000, 250);
  for (const v of report.viewers) {
    t.true(unique(v.video) >= 297, `video ${unique(v.video)}/300`);
    t.true(unique(v.audio) >= 297, `audio ${unique(v.audio)}/300`);
    t.is(v.bad, 0);
  }
}

test.serial('node-datachannel viewer whose copy of the relay\'s last DTLS flight is lost still connects and gets media', async (t) => {
  let ccsSeen = 0;
  const drop = (msg) => {
    if (msg[0] !== CCS) return false;
    ccsSeen++;
    return ccsSeen === 1; // the first ChangeCipherSpec + Finished never arrives
  };
  const { proxy, pub, viewers } = await viewerThroughProxy(t, 'lastflight', drop);
  t.is(proxy.stats.toClientDropped, 1);
  t.true(ccsSeen >= 2, `the relay resent its last flight (${ccsSeen} sent)`);
  await allMedia(t, pub, viewers);
});

test.serial('forged DTLS alerts from the viewer\'s own address do not end its session', async (t) => {
  const { relay, proxy, pub, viewers } = await viewerThroughProxy(t, 'forged', null);
  const sessions = relay.stats().workers[0].peers;
  // Sent from the viewer's validated 5-tuple (the proxy's upstream socket): a plaintext fatal
  // alert in epoch 0, the same in epoch 1, and epoch-1 records of the AEAD size with junk in
  // place of the nonce, ciphertext and tag.
  const rec = (epoch, frag) => Buffer.concat([Buffer.from([21, 0xfe, 0xfd, 0, epoch, 0, 0, 0, 0, 0, 7, 0, frag.length]), frag]);
  for (let i = 0; i < 3; i++) {
    proxy.inject(rec(0, Buffer.from([2, 40])));
    proxy.inject(rec(1, Buffer.from([2, 0])));
    proxy.inject(rec(1, Buffer.alloc(26, 0x5a)));
    proxy.inject(rec(1, Buffer.alloc(18, 0xa5)));
    await sleep(50);
  }
  await sleep(300);
  t.is(relay.stats().workers[0].peers, sessions, 'no peer was dropped');
  await allMedia(t, pub, viewers);
});
