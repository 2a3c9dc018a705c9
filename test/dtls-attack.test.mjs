// A DTLS client that is not one of ours (plain OpenSSL, native/napi/test_dtls_attack.cc) against a
// DtlsTransport in the server role: the relay must derive SRTP keys only for a peer that proves the
// key of the certificate its SDP fingerprint names (RFC 8122 5, RFC 5763 5), whatever chain,
// retransmission, renegotiation or key type it tries; every failed handshake must free what it
// made; the DTLS library context (dtls_libctx.cc) must work from several threads at once and leave
// Node's own crypto and TLS as they were.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { native } from '../dist/native.js';

const t_ = native._test;
const child = new URL('./dtls-attack-child.mjs', import.meta.url).pathname;

function refused(t, r, why, label) {
  t.is(r.note, '', label);
  t.is(r.serverState, 'failed', label);
  t.false(r.serverKeys, label);
  t.false(r.clientFinished, label);
  t.regex(r.serverError, why, label);
}

test('control: a foreign OpenSSL client presenting the fingerprint\'s certificate connects with matching keys, of every accepted key type', (t) => {
  for (const kind of ['legit', 'key:rsa', 'key:ed25519', 'key:ed448', 'key:p384']) {
    for (const keepSsl of [false, true]) {
      const r = t_.dtlsAttack({ kind, keepSsl });
      t.is(r.serverState, 'connected', `${kind}: ${r.serverError}${r.note}`);
      t.true(r.keysMatch, kind);
    }
  }
});

test('no certificate, another leaf, or the fingerprint\'s certificate first in a chain whose CertificateVerify another key signed: no keys', (t) => {
  for (const keepSsl of [false, true]) {
    refused(t, t_.dtlsAttack({ kind: 'none', keepSsl }), /did not return a certificate/, 'none');
    refused(t, t_.dtlsAttack({ kind: 'other-leaf', keepSsl }), /fingerprint mismatch/, 'other-leaf');
    for (const kind of ['swap-chain', 'swap-chain:rsa', 'swap-chain:ed25519']) {
      const r = t_.dtlsAttack({ kind, keepSsl });
      t.true(r.rewritten, `${kind}: the Certificate message was rewritten`);
      refused(t, r, /bad signature|wrong signature type/, kind);
    }
  }
});

test('the relay as DTLS client (a=setup:passive, cluster pulls): another leaf, or the fingerprint\'s certificate first with the ServerKeyExchange signed by another key: no keys', (t) => {
  // serverState/serverKeys/serverError describe the relay's transport, here the client.
  const ok = t_.dtlsAttack({ kind: 'client-role:legit' });
  t.is(ok.serverState, 'connected', ok.serverError);
  t.true(ok.serverKeys);
  const other = t_.dtlsAttack({ kind: 'client-role:other-leaf' });
  t.is(other.serverState, 'failed');
  t.false(other.serverKeys);
  t.regex(other.serverError, /fingerprint mismatch/);
  const swapped = t_.dtlsAttack({ kind: 'client-role:swap-chain' });
  t.true(swapped.rewritten);
  t.is(swapped.serverState, 'failed');
  t.false(swapped.serverKeys);
  t.regex(swapped.serverError, /bad signature/);
});

test('a leaf whose key type the DTLS library context lacks (DSA) is refused even when its fingerprint matches', (t) => {
  // The attacker's own P-256 key signs; the DSA certificate the SDP names is moved first.
  const r = t_.dtlsAttack({ kind: 'swap-chain:dsa' });
  t.true(r.rewritten);
  refused(t, r, /unknown certificate type|bad signature|wrong signature type/, 'dsa leaf');
  // And a DSA peer cannot even offer it: the server's CertificateRequest names no DSA signature.
  refused(t, t_.dtlsAttack({ kind: 'key:dsa' }), /did not return a certificate/, 'dsa peer');
});

test('a retransmitted Certificate in another order, and a renegotiation presenting another certificate, change nothing', (t) => {
  for (const keepSsl of [false, true]) {
    const r = t_.dtlsAttack({ kind: 'retransmit-swapped', keepSsl });
    t.true(r.rewritten);
    t.is(r.serverState, 'connected', r.serverError);
    t.true(r.keysMatch, 'the server kept the first Certificate');
  }
  // With the SSL freed after the handshake there is no renegotiation to run: same keys.
  const r = t_.dtlsAttack({ kind: 'renegotiate' });
  t.true(r.keysMatch);
  t.is(r.stateAfterRenegotiation, 'connected');
  t.true(r.keysStable);
  // With the SSL kept (memory comparisons only) the renegotiation is refused, never completed.
  const k = t_.dtlsAttack({ kind: 'renegotiate', keepSsl: true });
  t.true(k.keysMatch);
  t.not(k.stateAfterRenegotiation, 'connected', 'kept SSL: renegotiation ends the session');
});

test('failed and abandoned handshakes free what they made (heap per handshake after warm-up, mallinfo2)', (t) => {
  for (const kind of ['none', 'other-leaf', 'swap-chain', 'swap-chain:dsa', 'abandon']) {
    const h = t_.dtlsAttackHeap({ kind, warmup: 1000, n: 1000 }); // OpenSSL caches settle within ~1000
    t.is(h.failed, kind === 'abandon' ? 0 : 1000, kind); // abandoned: destroyed mid-handshake
    // One leaked SSL, X509 or EVP_PKEY is over 1 KiB; allocator noise is a few bytes.
    t.true(h.bytesPerHandshake < 64, `${kind}: ${h.bytesPerHandshake} bytes per failed handshake`);
    t.log(`${kind}: ${h.bytesPerHandshake.toFixed(1)} heap bytes per failed handshake`);
  }
});

test('the DTLS library context first made on six threads at once: every handshake ends as it should', (t) => {
  const p = spawnSync(process.execPath, [child, 'threads'], { encoding: 'utf8', timeout: 120_000 });
  t.is(p.status, 0, p.stderr);
  const r = JSON.parse(p.stdout.trim().split('\n').pop());
  t.deepEqual(r.unexpected, []);
  t.is(r.asExpected, r.total);
  t.true(r.total > 0);
});

test('Node\'s own crypto and TLS (RSA, EC, DSA, Ed25519) work the same after the addon made its context and handshook', (t) => {
  const p = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 180_000 });
  t.is(p.status, 0, p.stderr);
  const { before, after, handshakes } = JSON.parse(p.stdout.trim().split('\n').pop());
  t.deepEqual(handshakes, { legit: 'connected', 'key:rsa': 'connected', 'key:ed25519': 'connected', 'key:p384': 'connected', 'swap-chain:dsa': 'failed', 'other-leaf': 'failed' });
  for (const type of ['rsa', 'ec', 'dsa', 'ed25519']) t.true(after[type], `${type} after`);
  for (const k of ['tls-rsa-TLSv1.2', 'tls-rsa-TLSv1.3', 'tls-ec-TLSv1.2', 'tls-ec-TLSv1.3']) t.regex(after[k], /^TLSv1\.[23]:pong$/, k);
  t.deepEqual(after, before);
});

test('a peer\'s Certificate message over 8 KiB is refused before its certificates are parsed (a long chain behind the right leaf)', (t) => {
  // Every certificate in the message is decoded (~0.3 ms each here): ~100 KiB of them cost the
  // server ~50 ms, 80 times a normal handshake. WebRTC peers send one certificate (0.4-3.5 KiB).
  const fits = t_.dtlsAttack({ kind: 'long-chain:p256', chainBytes: 6000 });
  t.is(fits.serverState, 'connected', fits.serverError);
  t.true(fits.keysMatch);
  for (const chainBytes of [9000, 16000, 60000, 98000]) {
    const r = t_.dtlsAttack({ kind: 'long-chain:p256', chainBytes });
    // Over OpenSSL's ~18 KiB buffering floor the first fragment is dropped with no error queued.
    refused(t, r, chainBytes < 18000 ? /excessive message size/ : /DTLS handshake failed/, `chain of ${chainBytes} bytes`);
    t.log(`chain of ${chainBytes} bytes: refused after ${r.serverMs.toFixed(2)} ms in the server transport`);
  }
  const big = t_.dtlsLoopback({ bigCertificate: true }); // one 3.4 KiB certificate still connects
  t.is(big.serverState, 'connected', big.serverError);
});
