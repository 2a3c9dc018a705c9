// Attacks on ICE address ownership with real datagrams against the native engine on loopback:
// what a party holding ICE credentials it saw (a pull's offer, a captured check) or an off-path
// spoofer sending junk can still do to where a peer's media goes (ice/address_binding.h).
import dgram from 'node:dgram';
import test from 'ava';
import { native } from '../dist/native.js';
import { bindingRequest } from './stun-forge.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const FP = Array(32).fill('AB').join(':');
const PWD = 'relaypwd0123456789abcdefgh';

async function udp(t) {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  s.got = [];
  s.on('message', (m) => s.got.push(m));
  t.teardown(() => s.close());
  return s;
}

function engineFor(t) {
  const base = 46000 + Math.floor(Math.random() * 200) * 5;
  const engine = new native.Engine({ workers: 1, bindAddress: '127.0.0.1', portBase: base, portCount: 5, connectTimeoutMs: 5000 }, () => {});
  t.teardown(() => engine.close());
  return { engine, port: engine.ports[0], stats: () => engine.stats().workers[0] };
}

/** A publisher peer, once its worker has taken it (addPeer is a command the worker drains). */
async function publisher(engine, ufrag) {
  const added = engine.addPeer({ role: 'publisher', streamId: engine.createStream(), localUfrag: ufrag, localPwd: PWD, remoteUfrag: 'abcd', fingerprintAlgorithm: 'sha-256', fingerprint: FP, kindByPt: [[102, 1]] });
  await sleep(50);
  return added;
}

test.serial('a check for a pull\'s ufrag on the shared port does not move the pull away from its upstream', async (t) => {
  const { engine, port, stats } = engineFor(t);
  const upstream = await udp(t);
  const attacker = await udp(t);
  engine.addPeer({
    role: 'pull', streamId: engine.createStream(), localUfrag: 'pullfrag', localPwd: PWD, remoteUfrag: 'upfrag', remotePwd: 'upstreampwd0123456789abc',
    remoteIp: '127.0.0.1', remotePort: upstream.address().port, fingerprintAlgorithm: 'sha-256', fingerprint: FP, kindByPt: [[102, 1]],
  });
  await sleep(200);
  t.true(upstream.got.length > 0, 'the pull checks its upstream');
  // The pull's ufrag and password were in its offer: the upstream, or anyone who read it, has them.
  attacker.send(bindingRequest({ username: 'pullfrag:upfrag', pwd: PWD }), port, '127.0.0.1');
  await sleep(100);
  const before = upstream.got.length;
  await sleep(400);
  t.true(upstream.got.length > before, 'the pull still checks its upstream');
  t.is(attacker.got.length, 0, 'nothing (no answer, no pull check) goes to the sender of the forged check');
  t.is(stats().iceRebinds, 0);
});

test.serial('junk from a peer\'s old address (a spoofer) does not keep it pinned there after a NAT rebinding', async (t) => {
  const { engine, port, stats } = engineFor(t);
  await publisher(engine, 'pubfrag1');
  const old = await udp(t);
  const fresh = await udp(t);
  old.send(bindingRequest({ username: 'pubfrag1:abcd', pwd: PWD, useCandidate: false }), port, '127.0.0.1');
  await sleep(50);
  // The old mapping is dead; a spoofer forging it (here the old socket itself) sends a junk byte every 100 ms.
  const junk = setInterval(() => old.send(Buffer.from([0]), port, '127.0.0.1'), 100);
  t.teardown(() => clearInterval(junk));
  await sleep(800);
  // The peer's own check from its new address, without USE-CANDIDATE (consent checks of most agents).
  fresh.send(bindingRequest({ username: 'pubfrag1:abcd', pwd: PWD, useCandidate: false }), port, '127.0.0.1');
  await sleep(100);
  clearInterval(junk);
  t.is(stats().iceRebinds, 1, 'the peer moved: nothing authenticated came from its old address for 800 ms');
});

test.serial('valid checks from a peer\'s current address keep a live path from being taken by a backup pair', async (t) => {
  const { engine, port, stats } = engineFor(t);
  await publisher(engine, 'pubfrag2');
  const live = await udp(t);
  const backup = await udp(t);
  for (let i = 0; i < 8; i++) {
    live.send(bindingRequest({ username: 'pubfrag2:abcd', pwd: PWD, useCandidate: false }), port, '127.0.0.1');
    await sleep(100);
  }
  backup.send(bindingRequest({ username: 'pubfrag2:abcd', pwd: PWD, useCandidate: false }), port, '127.0.0.1');
  await sleep(50);
  t.is(stats().iceRebinds, 0);
});

// A valid check carries no freshness: one captured nominating check replayed from the attacker's
// own address used to move a peer's media there. A repeated transaction id never moves a peer now
// (ice/transaction_ring.h); a publisher whose NAT rebinds is followed by its authenticated SRTP
// (Worker::AdoptBySrtp) without waiting for its next fresh check.
test('a captured check replayed from another address does not move the peer\'s media there', async (t) => {
  const { engine, port, stats } = engineFor(t);
  await publisher(engine, 'pubfrag3');
  const victim = await udp(t);
  const attacker = await udp(t);
  const captured = bindingRequest({ username: 'pubfrag3:abcd', pwd: PWD, useCandidate: true });
  victim.send(captured, port, '127.0.0.1');
  await sleep(100);
  attacker.send(captured, port, '127.0.0.1');
  await sleep(100);
  t.is(stats().iceRebinds, 0, 'the replay did not move the victim');
  // The victim's own fresh check from its address still works as before (nothing moved).
  victim.send(bindingRequest({ username: 'pubfrag3:abcd', pwd: PWD, useCandidate: true }), port, '127.0.0.1');
  await sleep(50);
  t.is(stats().iceRebinds, 0);
  // A fresh check from a new address (a real NAT rebinding) still moves it.
  attacker.send(bindingRequest({ username: 'pubfrag3:abcd', pwd: PWD, useCandidate: true }), port, '127.0.0.1');
  await sleep(50);
  t.is(stats().iceRebinds, 1);
});
