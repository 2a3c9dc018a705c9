// A Chromium viewer that may only use TURN (iceTransportPolicy 'relay') plays through coturn
// started from examples/coturn/turnserver.conf, with examples/coturn/turn-peers.nft loaded; only
// the files' site values are replaced (addresses, realm, secret, certificate, halfsec's ports).
// Run by test/coturn.test.mjs in a veth namespace (test/netns.mjs):  node coturn-run.mjs tcp|tls
// halfsec's media is on VETH_ADDR, coturn listens and relays on VETH_PEER. Prints JSON lines.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelay } from '../../dist/index.js';
import { launchChromium, openPublisher } from '../browser-helpers.mjs';
import { VETH_ADDR, VETH_PEER, startVethRelay } from '../netns.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(52_000);

const mode = process.argv[2] ?? 'tcp';
const PORT_MIN = 42800;
const NFT = '/usr/sbin/nft';
const SECRET = 'halfsec-test-secret';
const dir = mkdtempSync(join(tmpdir(), 'halfsec-coturn-'));
const examples = new URL('../../examples/coturn/', import.meta.url);

/** The example file with its site values replaced; throws when one is missing (the file changed). */
function site(name, pairs) {
  let text = readFileSync(new URL(name, examples), 'utf8');
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`${name}: no "${from}" to replace`);
    text = text.replaceAll(from, to);
  }
  return text;
}

const { relay, base } = await startVethRelay(createRelay, PORT_MIN, { rtcTcpPort: 0 });
let coturn;
let chromium;
let log = '';
try {
  // A self-signed certificate for TURN over TLS.
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=turn.test', '-addext', `subjectAltName=IP:${VETH_PEER}`, '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (ssl.status !== 0) throw new Error(`openssl: ${ssl.stderr}`);
  const conf = site('turnserver.conf', [
    ['203.0.113.10', VETH_PEER],
    ['203.0.113.20', VETH_ADDR],
    ['relay.example.com', 'turn.test'],
    ['/etc/ssl/halfsec/fullchain.pem', cert],
    ['/etc/ssl/halfsec/privkey.pem', key],
    ['static-auth-secret=change-me', `static-auth-secret=${SECRET}`],
  ]);
  writeFileSync(join(dir, 'turnserver.conf'), conf);
  const rules = site('turn-peers.nft', [
    ['203.0.113.20', VETH_ADDR],
    ['40000-40099', `${PORT_MIN}-${PORT_MIN + 19}`],
  ]);
  writeFileSync(join(dir, 'turn-peers.nft'), rules);
  const nft = spawnSync(NFT, ['-f', join(dir, 'turn-peers.nft')], { encoding: 'utf8' });
  if (nft.status !== 0) throw new Error(`nft -f: ${nft.stderr}`);
  coturn = spawn('turnserver', ['-c', join(dir, 'turnserver.conf'), '--log-file', 'stdout', '--pidfile', join(dir, 'turnserver.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  coturn.stdout.on('data', (d) => {
    log += d;
  });
  coturn.stderr.on('data', (d) => {
    log += d;
  });
  for (let i = 0; i < 50 && !/Total General servers|listener opened on/i.test(log); i++) await sleep(100);

  chromium = await launchChromium({ limitMs: 45_000, extraArgs: mode === 'tls' ? ['--ignore-certificate-errors'] : [] });
  const context = await chromium.browser.newContext();
  // The publisher: the same browser's fake camera, straight to halfsec over UDP.
  const pubPage = await openPublisher(context, base, 'turn', { codec: 'vp8', source: 'camera', size: '640x360', stamp: '0' });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  // coturn's REST-API credentials (use-auth-secret): what an application server would mint.
  const username = `${Math.floor(Date.now() / 1000) + 600}:viewer`;
  const credential = createHmac('sha1', SECRET).update(username).digest('base64');
  const urls = mode.startsWith('tls') ? `turns:${VETH_PEER}:443?transport=tcp` : `turn:${VETH_PEER}:3478?transport=tcp`;
  const v = await page.evaluate(
    async ({ urls, username, credential }) => {
      const lib = await import('/web/whip-whep.js');
      const v = await lib.watch('/whep/turn', { iceServers: [{ urls, username, credential }], iceTransportPolicy: 'relay' });
      window.__v = v;
      const el = document.createElement('video');
      el.muted = true;
      el.srcObject = v.stream;
      document.body.append(el);
      el.play().catch(() => {});
      const t0 = Date.now();
      while (v.pc.connectionState !== 'connected' && v.pc.connectionState !== 'failed' && Date.now() - t0 < 15000) await new Promise((r) => setTimeout(r, 100));
      const look = async () => {
        const stats = await v.pc.getStats();
        const out = { frames: 0, packets: 0, width: el.videoWidth, state: v.pc.connectionState, local: null, remote: null };
        for (const x of stats.values()) {
          if (x.type === 'inbound-rtp' && x.kind === 'video') {
            out.frames = x.framesDecoded ?? 0;
            out.packets = x.packetsReceived ?? 0;
          }
          if (x.type === 'transport' && x.selectedCandidatePairId) {
            const pair = stats.get(x.selectedCandidatePairId);
            const l = stats.get(pair?.localCandidateId);
            const r = stats.get(pair?.remoteCandidateId);
            out.local = l && { type: l.candidateType, protocol: l.protocol, relayProtocol: l.relayProtocol, address: l.address, url: l.url };
            out.remote = r && { type: r.candidateType, protocol: r.protocol, address: r.address, port: r.port };
          }
        }
        return out;
      };
      await new Promise((r) => setTimeout(r, 1500));
      const first = await look();
      await new Promise((r) => setTimeout(r, 2000));
      return { first, later: await look() };
    },
    { urls, username, credential },
  );
  // The restriction: a page-local pair (one side TURN-only, the other host-only) asks coturn to
  // relay to the browser's own ports on the veth addresses. VETH_PEER is no allowed peer IP (coturn
  // answers 403); VETH_ADDR is, but not at those ports (turn-peers.nft drops). It must not connect.
  const probe = await page.evaluate(
    async ({ urls, username, credential }) => {
      const a = new RTCPeerConnection({ iceServers: [{ urls, username, credential }], iceTransportPolicy: 'relay' });
      const b = new RTCPeerConnection();
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate).catch(() => {});
      const remote = [];
      b.onicecandidate = (e) => {
        if (!e.candidate) return;
        remote.push(e.candidate.candidate);
        a.addIceCandidate(e.candidate).catch(() => {});
      };
      const seen = new Set();
      a.oniceconnectionstatechange = () => seen.add(a.iceConnectionState);
      let opened = false;
      a.createDataChannel('probe').onopen = () => {
        opened = true;
      };
      await a.setLocalDescription(await a.createOffer());
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(await b.createAnswer());
      await a.setRemoteDescription(b.localDescription);
      const t0 = Date.now();
      while (!opened && a.iceConnectionState !== 'failed' && Date.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 100));
      const out = { state: a.iceConnectionState, seen: [...seen], opened, remote };
      a.close();
      b.close();
      return out;
    },
    { urls, username, credential },
  );
  const counters = spawnSync(NFT, ['list', 'table', 'inet', 'halfsec_turn'], { encoding: 'utf8' }).stdout;
  say({ event: 'viewer', mode, ...v, probe, publisherState: await pubPage.evaluate(() => window.halfsecPublish?.state), nft: counters });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  say({ event: 'coturn', log: log.split('\n').filter((l) => /permission|error|refused|forbidden|403|handshake|verify/i.test(l)).slice(-40) });
  await chromium?.close();
  coturn?.kill('SIGKILL');
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
