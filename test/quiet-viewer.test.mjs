// Idle cost (issue 16): a viewer the relay sends nothing to gets its sender reports at RFC 3550
// 6.2's recommended minimum interval (5 s) instead of every second, keeps getting them (and
// keeps its session), and is back on the 1 s cadence while media flows. Real peers:
// node-datachannel publisher and viewer (test/peers/).
import test from 'ava';
import { sleep, spawnPeer, startRelay } from './helpers.mjs';

const gaps = (xs) => xs.slice(1).map((x, i) => x - xs[i]);

test.serial('a viewer sent nothing gets sender reports every 5 s, one sent media gets them every second', async (t) => {
  t.timeout(60_000);
  const { relay, url } = await startRelay(t, { workers: 1 });
  // 400 video packets, one per 10 ms: ~4 s of media; the publisher then sends only its own
  // sender reports (so the relay keeps it), and the viewer is offered nothing.
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/quiet`, '400', '10', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/quiet`, '1']);
  t.is((await viewers.waitFor('ready', 30000)).open, 1);
  const startedAt = Date.now();
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const sentAt = Date.now();
  await sleep(13_500);
  const { viewers: [v] } = await viewers.request('report', 'report');
  t.true(v.video.length >= 300, `the viewer got the media (${v.video.length} packets)`);
  const srs = v.rtcp.filter((d) => d.first === 200).map((d) => d.at);
  const during = srs.filter((at) => at > startedAt + 1500 && at <= sentAt);
  // Quiet from a second after the last packet; the first quiet report may still be on the 1 s pace.
  const quiet = srs.filter((at) => at > sentAt + 2500);
  t.log(`sender reports: ${during.length} during ${((sentAt - startedAt) / 1000).toFixed(1)} s of media (gaps ${gaps(during)}), ${quiet.length} in the ${((Date.now() - sentAt - 2500) / 1000).toFixed(1)} s after (gaps ${gaps(quiet)})`);
  t.true(during.length >= 2 && gaps(during).every((g) => g < 1600), 'about one a second while media flows');
  t.true(quiet.length >= 2, 'reports keep coming to a viewer sent nothing');
  t.true(gaps(quiet).every((g) => g >= 4500 && g <= 5600), 'every 5 s while the viewer is sent nothing');
  t.is(relay.stats().viewers, 1, 'the quiet viewer keeps its session');
});
