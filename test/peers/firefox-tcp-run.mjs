// Firefox ESR over ICE-TCP (RFC 6544): in a veth namespace (Firefox gathers nothing on `lo` alone,
// test/netns.mjs), a Firefox page publishes its fake camera over UDP; then, for "block", nftables
// drops every new UDP flow to the relay's ports and the same page watches the stream, which can
// only connect over the relay's passive TCP candidate. "open" watches with UDP open (UDP wins).
// Run by test/ice-tcp-browser.test.mjs:  node firefox-tcp-run.mjs block|open
// Prints JSON lines ({ event, ... }); exits 0 when the scenario ran.
import { spawnSync } from 'node:child_process';
import { createRelay } from '../../dist/index.js';
import { launchFirefox } from '../firefox-helpers.mjs';
import { startVethRelay } from '../netns.mjs';
import { say, watchdog } from './runner.mjs';

watchdog(85_000);

const mode = process.argv[2] ?? 'block';
const PORT_MIN = 42400;
// By absolute path: under npm/ava, node_modules/.bin comes first in PATH and holds @vercel/nft's "nft".
const NFT = '/usr/sbin/nft';

function nft(...args) {
  const r = spawnSync(NFT, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`);
}

const { relay, base } = await startVethRelay(createRelay, PORT_MIN);
let ff;
try {
  ff = await launchFirefox({ limitMs: 80_000 });
  const page = await ff.browser.newPage();
  await page.goto(`${base}/`);
  const prefs = await page.evaluate(() => navigator.userAgent);
  say({ event: 'firefox', version: ff.version, ua: prefs });
  // 1. Publish (over UDP: nothing is blocked yet).
  const pub = await page.evaluate(async () => {
    const lib = await import('/web/whip-whep.js');
    const media = await navigator.mediaDevices.getUserMedia({ audio: false, video: { width: 320, height: 240 } });
    window.__pub = await lib.publish('/whip/fftcp', media);
    const t0 = Date.now();
    while (window.__pub.pc.connectionState !== 'connected' && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 100));
    return { state: window.__pub.pc.connectionState };
  });
  say({ event: 'publisher', ...pub });
  if (mode === 'block') {
    // Established flows (the publisher's) keep going; every new UDP flow to the relay is dropped.
    nft('add', 'table', 'inet', 'halfsec_test');
    nft('add', 'chain', 'inet', 'halfsec_test', 'o', '{ type filter hook output priority 0; }');
    nft('add', 'rule', 'inet', 'halfsec_test', 'o', 'udp', 'dport', `${PORT_MIN}-${PORT_MIN + 19}`, 'ct', 'state', 'new', 'counter', 'drop');
  }
  // 2. Watch; report frames decoded and the selected candidate pair (Firefox marks it `selected`
  //    on its candidate-pair stats; it has no transport stats entry).
  const v = await page.evaluate(async () => {
    const lib = await import('/web/whip-whep.js');
    const v = await lib.watch('/whep/fftcp');
    window.__view = v;
    const el = document.createElement('video');
    el.muted = true;
    el.srcObject = v.stream;
    document.body.append(el);
    el.play().catch(() => {});
    const look = async () => {
      const stats = await v.pc.getStats();
      const out = { frames: 0, width: 0, transport: null, local: null, remote: null };
      for (const x of stats.values()) {
        if (x.type === 'inbound-rtp' && x.kind === 'video') {
          out.frames = x.framesDecoded ?? 0;
          out.width = x.frameWidth ?? 0;
        }
        if (x.type === 'candidate-pair' && (x.selected || (x.nominated && x.state === 'succeeded'))) {
          const l = stats.get(x.localCandidateId);
          const r = stats.get(x.remoteCandidateId);
          out.transport = r?.protocol ?? null;
          out.local = l ? `${l.protocol} ${l.address}:${l.port} ${l.candidateType}${l.tcpType ? ` tcptype ${l.tcpType}` : ''}` : null;
          out.remote = r ? `${r.protocol} ${r.address}:${r.port} ${r.candidateType}${r.tcpType ? ` tcptype ${r.tcpType}` : ''}` : null;
        }
      }
      return out;
    };
    const start = Date.now();
    let first = await look();
    while (Date.now() - start < 25000 && first.frames === 0) {
      await new Promise((r) => setTimeout(r, 250));
      first = await look();
    }
    const firstMs = Date.now() - start;
    await new Promise((r) => setTimeout(r, 2500));
    const later = await look();
    const offerTcp = (v.pc.localDescription?.sdp.match(/a=candidate:.* tcp .*/gi) ?? []).length;
    return { first: first.frames, firstMs, later: later.frames, width: later.width, transport: later.transport, local: later.local, remote: later.remote, state: v.pc.connectionState, ice: v.pc.iceConnectionState, offerTcp };
  });
  // 3. The watch page (web/watch.js) on the same stream: the path it shows.
  const watchPage = await ff.browser.newPage();
  await watchPage.goto(`${base}/watch/fftcp`);
  const shown = await watchPage.evaluate(async () => {
    const t0 = Date.now();
    while (Date.now() - t0 < 20000 && !(window.halfsecWatch?.framesDecoded > 0 && window.halfsecWatch?.path)) await new Promise((r) => setTimeout(r, 250));
    const s = window.halfsecWatch ?? {};
    return { path: s.path ?? null, transport: s.transport ?? null, remoteCandidate: s.remoteCandidate ?? null, frames: s.framesDecoded ?? 0, text: document.getElementById('path')?.textContent ?? null };
  });
  const w = relay.stats().workers ?? [];
  const nftRules = mode === 'block' ? spawnSync(NFT, ['list', 'table', 'inet', 'halfsec_test'], { encoding: 'utf8' }).stdout : '';
  say({
    event: 'viewer',
    mode,
    ...v,
    page: shown,
    tcpAccepted: w.reduce((a, x) => a + (x.tcpAccepted ?? 0), 0),
    tcpConnections: w.reduce((a, x) => a + (x.tcpConnections ?? 0), 0),
    nft: nftRules,
  });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  await ff?.close();
  await relay.close();
}
process.exit(0);
