// TURN in front of halfsec (README "Viewers behind firewalls"): coturn (Debian `coturn`) started
// from examples/coturn/turnserver.conf with examples/coturn/turn-peers.nft loaded, only their site
// values replaced, relays a Chromium viewer forced to `iceTransportPolicy: 'relay'`: TURN over TCP
// and over TLS (a self-signed certificate, which Chromium accepts only with
// --ignore-certificate-errors: without it the page gathers no relay candidate at all). Frames are
// decoded; the same TURN server refuses to relay anywhere but halfsec's media ports. Runs
// test/peers/coturn-run.mjs in a veth namespace of its own. Needs root, nftables and coturn.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable } from './browser-helpers.mjs';
import { netnsUnavailable, runInNetns } from './netns.mjs';

const why = !chromiumAvailable()
  ? 'no Chromium'
  : !existsSync('/usr/bin/turnserver')
    ? 'no coturn (/usr/bin/turnserver; scripts/test-deps.sh installs it)'
    : (netnsUnavailable() ?? (spawnSync('unshare', ['-n', '--', '/usr/sbin/nft', 'list', 'ruleset']).status === 0 ? null : 'nft does not run'));
const nsTest = why ? test.skip : test.serial;
if (why) test('coturn tests are skipped', (t) => t.log(why) || t.pass());

test('the README shows examples/coturn/turnserver.conf and turn-peers.nft exactly', (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const name of ['turnserver.conf', 'turn-peers.nft']) {
    const file = readFileSync(new URL(`../examples/coturn/${name}`, import.meta.url), 'utf8');
    t.true(readme.includes(`examples/coturn/${name}`), `the README names ${name}`);
    t.true(readme.includes(`\n${file}\`\`\``), `the README's copy of ${name} is the file`);
  }
});

async function run(mode) {
  const r = await runInNetns(process.execPath, [fileURLToPath(new URL('./peers/coturn-run.mjs', import.meta.url)), mode], { veth: true, limitSec: 58 });
  return { r, errors: r.messages.filter((m) => m.event === 'error'), v: r.messages.find((m) => m.event === 'viewer'), log: r.messages.find((m) => m.event === 'coturn')?.log ?? [] };
}

function playsThroughTurn(t, { r, errors, v, log }, relayProtocol) {
  t.deepEqual(errors, [], `stderr: ${r.stderr.slice(-1500)}; coturn: ${log.join('\n')}`);
  t.truthy(v, 'the viewer reported');
  if (!v) return;
  t.log(`${v.later.local?.url}: ${v.later.local?.type}/${v.later.local?.relayProtocol} → ${v.later.remote?.address}:${v.later.remote?.port}; frames ${v.first.frames} → ${v.later.frames}`);
  t.is(v.later.state, 'connected');
  t.is(v.later.local?.type, 'relay', 'the selected local candidate is coturn\'s');
  t.is(v.later.local?.relayProtocol, relayProtocol, `reached over TURN/${relayProtocol}`);
  t.is(v.later.remote?.protocol, 'udp', 'relayed to halfsec\'s UDP port');
  t.true(v.first.frames > 0 && v.later.frames > v.first.frames, `frames decoded ${v.first.frames} → ${v.later.frames}`);
  t.is(v.later.width, 640);
  t.is(v.publisherState, 'live');
  t.regex(v.nft, /udp dport \d+-\d+ counter packets [1-9]\d* bytes \d+ accept/, 'coturn sent to halfsec\'s media ports');
}

nsTest('TURN over TCP: a relay-only Chromium viewer plays through coturn from the example config; coturn relays to nothing but halfsec\'s media ports', async (t) => {
  const run1 = await run('tcp');
  playsThroughTurn(t, run1, 'tcp');
  const { v, log } = run1;
  if (!v) return;
  t.false(v.probe.opened, `a pair through coturn to the browser's own ports never opens (${v.probe.state}, seen ${v.probe.seen})`);
  t.false(v.probe.seen.includes('connected'), 'nor connects');
  t.true(v.probe.remote.some((c) => c.includes(' 198.51.100.2 ')), 'it asked for a peer on the TURN server\'s own address');
  t.true(log.some((l) => /peer IP 198\.51\.100\.2 denied/.test(l)), `coturn refused that address: ${log.join(' | ')}`);
  t.regex(v.nft, /udp sport \d+-\d+ counter packets [1-9]\d* bytes \d+ drop/, 'and nftables dropped what it relayed to halfsec\'s address off its media ports');
});

nsTest('TURN over TLS on 443: the same viewer plays through coturn\'s TLS listener', async (t) => {
  playsThroughTurn(t, await run('tls'), 'tls');
});
