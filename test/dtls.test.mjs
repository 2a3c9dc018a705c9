import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { native } from '../dist/native.js';

const t_ = native._test;
const FP_RE = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

function connected(t, r) {
  t.is(r.clientState, 'connected', `client: ${r.clientError}`);
  t.is(r.serverState, 'connected', `server: ${r.serverError}`);
  t.is(r.error, '');
}

test('handshake completes, GCM is negotiated, keys mirror, datagrams fit 1200 bytes', (t) => {
  const r = t_.dtlsLoopback({});
  connected(t, r);
  t.is(r.profile, 'AEAD_AES_128_GCM');
  t.true(r.keysMatch);
  t.true(r.keysDistinct);
  t.true(r.maxDatagram > 0 && r.maxDatagram <= 1200);
  t.is(r.dropped, 0);
  t.is(r.timerFires, 0);
  t.is(r.datagrams, 4); // ClientHello; server flight; client flight; server Finished
  t.is(r.clientTimeoutAfter, -1); // no timers once connected
  t.is(r.serverTimeoutAfter, -1);
  // The same check from JS: client local = server remote and vice versa; GCM salts are 12 bytes.
  const c = r.clientKeys;
  const s = r.serverKeys;
  t.is(c.profile, 'AEAD_AES_128_GCM');
  t.is(s.profile, 'AEAD_AES_128_GCM');
  t.is(c.localKey.length, 16);
  t.is(c.localSalt.length, 12);
  t.true(c.saltTailZero && s.saltTailZero);
  t.deepEqual(c.localKey, s.remoteKey);
  t.deepEqual(c.remoteKey, s.localKey);
  t.deepEqual(c.localSalt, s.remoteSalt);
  t.deepEqual(c.remoteSalt, s.localSalt);
  t.notDeepEqual(c.localKey, c.remoteKey);
});

test('each handshake exports fresh keys', (t) => {
  const a = t_.dtlsLoopback({});
  const b = t_.dtlsLoopback({});
  connected(t, a);
  connected(t, b);
  t.notDeepEqual(a.clientKeys.localKey, b.clientKeys.localKey);
});

test('a certificate too big for one datagram is fragmented to fit 1200 bytes', (t) => {
  const r = t_.dtlsLoopback({ bigCertificate: true });
  connected(t, r);
  t.true(r.keysMatch);
  t.true(r.maxDatagram <= 1200, `max ${r.maxDatagram}`);
  t.true(r.maxDatagram > 1100, `max ${r.maxDatagram}: flights should be packed up to the MTU`);
  t.true(r.datagrams > 4);

  // Record sizes vary with the ECDSA signature length, which once made OpenSSL pack an encrypted
  // Finished into a full datagram and overshoot by the GCM nonce + tag (1224 bytes, ~6% of runs).
  let max = 0;
  for (let i = 0; i < 100; i++) {
    const x = t_.dtlsLoopback({ bigCertificate: true });
    connected(t, x);
    max = Math.max(max, x.maxDatagram);
  }
  t.true(max <= 1200, `max ${max}`);
});

// DTLS runs in its own OpenSSL library context whose decoders are only the DER
// SubjectPublicKeyInfo ones (dtls_libctx.cc): peers' certificates of every key type real peers
// use must still be parsed, verified against the fingerprint, and rejected on a mismatch.
test('peer certificates with RSA, Ed25519 and P-384 keys: accepted when they match, rejected when not', (t) => {
  const d = t_.dtlsDecoders();
  t.true(d.offered > 0 && d.offered < d.total, `decoders ${d.offered} of ${d.total}`);
  for (const clientKey of ['rsa', 'ed25519', 'p384']) {
    const r = t_.dtlsLoopback({ clientKey });
    connected(t, r);
    t.true(r.keysMatch, clientKey);
    const bad = t_.dtlsLoopback({ clientKey, corruptServerFingerprint: true }); // the server expects another
    t.is(bad.serverState, 'failed', clientKey);
    t.regex(bad.serverError, /fingerprint mismatch/, clientKey);
  }
});

// A process in FIPS mode ("fips=yes" in the default context's properties, as node --enable-fips
// sets) keeps DTLS in that context: the DTLS library context, which loads the default provider,
// is not made. Node here has no FIPS module, so the property is set directly, in a child process
// of its own (it would break every fetch in this one); the normal case is the decoder test above.
test('FIPS mode in the default context: DTLS stays in it (no DTLS library context)', (t) => {
  const script = "import('./dist/native.js').then(({ native }) => process.stdout.write(String(native._test.dtlsLibCtxUnderFips())))";
  t.is(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 }), 'false');
});

// The load generator's viewers each present a certificate of their own, as browsers do
// (DtlsTransport::UseCertificate): the server must see that one, not the shared identity's.
test('a transport presenting its own certificate: the peer checks that certificate\'s fingerprint', (t) => {
  const r = t_.dtlsLoopback({ clientOwnCertificate: true }); // the server expects the own one
  connected(t, r);
  t.true(r.keysMatch);
  const bad = t_.dtlsLoopback({ clientOwnCertificate: true, corruptServerFingerprint: true });
  t.is(bad.serverState, 'failed');
  t.regex(bad.serverError, /fingerprint mismatch/);
});

test('AES-CM is used when the server only offers it (14-byte salts)', (t) => {
  const r = t_.dtlsLoopback({ serverProfiles: 'SRTP_AES128_CM_SHA1_80' });
  connected(t, r);
  t.is(r.profile, 'AES128_CM_SHA1_80');
  t.true(r.keysMatch);
  t.true(r.keysDistinct);
  t.is(r.clientKeys.localSalt.length, 14);
  t.deepEqual(r.clientKeys.localSalt, r.serverKeys.remoteSalt);

  const r2 = t_.dtlsLoopback({ clientProfiles: 'SRTP_AES128_CM_SHA1_80' });
  connected(t, r2);
  t.is(r2.profile, 'AES128_CM_SHA1_80');
  t.true(r2.keysMatch);
});

test('no common SRTP profile fails the transport', (t) => {
  const r = t_.dtlsLoopback({
    clientProfiles: 'SRTP_AES128_CM_SHA1_80',
    serverProfiles: 'SRTP_AEAD_AES_128_GCM',
  });
  t.is(r.clientState, 'failed');
  t.is(r.serverState, 'failed');
  t.regex(r.clientError, /SRTP/);
  t.is(r.profile, null);
  t.false(r.keysMatch);
});

test('wrong expected server fingerprint: the client fails, naming the fingerprint', (t) => {
  const r = t_.dtlsLoopback({ corruptClientFingerprint: true });
  t.is(r.clientState, 'failed');
  t.regex(r.clientError, /fingerprint/i);
  t.not(r.serverState, 'connected');
  t.is(r.profile, null);
  t.false(r.keysMatch);
  t.false('clientKeys' in r);
});

test('wrong expected client fingerprint: the server fails, naming the fingerprint', (t) => {
  const r = t_.dtlsLoopback({ corruptServerFingerprint: true });
  t.is(r.serverState, 'failed');
  t.regex(r.serverError, /fingerprint/i);
  t.not(r.clientState, 'connected');
  t.false(r.keysMatch);
  t.false('serverKeys' in r);
});

test('other fingerprint hashes and lower-case hex are accepted', (t) => {
  for (const fingerprintAlgorithm of ['sha-1', 'sha-256', 'sha-384', 'sha-512', 'SHA-256']) {
    const r = t_.dtlsLoopback({ fingerprintAlgorithm, lowercaseFingerprint: true });
    connected(t, r);
    t.true(r.keysMatch, fingerprintAlgorithm);
  }
  const bad = t_.dtlsLoopback({ fingerprintAlgorithm: 'sha-1', corruptServerFingerprint: true });
  t.is(bad.serverState, 'failed');
  t.regex(bad.serverError, /fingerprint/i);
});

test('unsupported hash names and malformed fingerprints fail up front', (t) => {
  const id = t_.dtlsIdentity();
  const md5 = t_.dtlsFeed({ role: 'client', fingerprintAlgorithm: 'md5', fingerprint: id.fingerprint });
  t.is(md5.state, 'failed');
  t.regex(md5.error, /algorithm/);
  t.is(md5.sent, 0);
  for (const fingerprint of ['', 'zz', id.fingerprint.slice(0, -3), 'A:BC:' + id.fingerprint.slice(5)]) {
    const r = t_.dtlsFeed({ role: 'client', fingerprint });
    t.is(r.state, 'failed', fingerprint);
    t.regex(r.error, /fingerprint/);
    t.is(r.sent, 0);
  }
  // A well-formed sha-256 fingerprint of the right length is accepted (ClientHello goes out).
  const ok = t_.dtlsFeed({ role: 'client', fingerprint: id.fingerprint.toLowerCase() });
  t.is(ok.state, 'connecting');
  t.is(ok.sent, 1);
});

test('packet loss during the handshake is recovered by retransmission', (t) => {
  const r = t_.dtlsLoopback({ dropEveryNth: 3 });
  connected(t, r);
  t.is(r.clientTimeoutAfter, -1);
  t.is(r.serverTimeoutAfter, -1);
  t.true(r.dropped > 0);
  t.true(r.timerFires > 0);
  t.true(r.datagrams > 4 + r.dropped - 1, `${r.datagrams} sent, ${r.dropped} dropped`);
  t.true(r.keysMatch);
  t.is(r.profile, 'AEAD_AES_128_GCM');

  const big = t_.dtlsLoopback({ dropEveryNth: 4, bigCertificate: true });
  connected(t, big);
  t.true(big.dropped > 0);
  t.true(big.keysMatch);
  t.true(big.maxDatagram <= 1200);
});

test('random loss on fragmented flights still completes', (t) => {
  let dropped = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const r = t_.dtlsLoopback({ bigCertificate: true, lossPercent: 20, seed, deadlineMs: 15000 });
    connected(t, r);
    t.true(r.keysMatch, `seed ${seed}`);
    t.true(r.maxDatagram <= 1200);
    dropped += r.dropped;
  }
  t.true(dropped > 5);
});

test('retransmission timer: starts short, fires once due, then backs off', (t) => {
  const r = t_.dtlsTimer();
  t.is(r.timeoutBeforeStart, -1);
  t.is(r.serverTimeout, -1); // a server has no timer until it hears a ClientHello
  t.is(r.sentAfterStart, 1);
  t.true(r.firstTimeout > 0 && r.firstTimeout <= 1000, `first ${r.firstTimeout}`);
  t.is(r.sentAfterEarlyTimer, 1); // OnTimer before the deadline does nothing
  t.is(r.timeoutWhenDue, 0);
  t.is(r.sentAfterTimer, 2); // the ClientHello again
  t.true(r.secondTimeout > r.firstTimeout, `second ${r.secondTimeout}`);
  t.is(r.state, 'connecting');
  t.is(r.stateAfterClose, 'closed');
  t.is(r.sentAfterClose, 2);
  t.true(r.maxDatagram <= 1200);
});

test('fingerprint format: 32 upper-case hex bytes; matches the certificate; identities differ', (t) => {
  const a = t_.dtlsIdentity();
  const b = t_.dtlsIdentity();
  t.regex(a.fingerprint, FP_RE);
  t.regex(b.fingerprint, FP_RE);
  t.not(a.fingerprint, b.fingerprint);

  const cert = new X509Certificate(a.der);
  t.is(cert.fingerprint256, a.fingerprint);
  t.is(cert.subject, 'CN=halfsec');
  t.is(cert.issuer, 'CN=halfsec');
  t.true(cert.verify(cert.publicKey)); // self-signed
  t.is(cert.publicKey.asymmetricKeyType, 'ec');
  t.is(cert.publicKey.asymmetricKeyDetails.namedCurve, 'prime256v1');
  const now = Date.now();
  t.true(Date.parse(cert.validFrom) < now);
  t.true(Date.parse(cert.validTo) > now + 25 * 86400e3);
  t.not(cert.serialNumber, new X509Certificate(b.der).serialNumber);
});

test('garbage fed to a lone transport does not crash it', (t) => {
  const junk = [
    Buffer.alloc(0),
    Buffer.from([22]),
    randomBytes(12),
    randomBytes(1500),
    randomBytes(65535),
    Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), randomBytes(40)]),
    Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0, 40]), randomBytes(40)]),
    Buffer.concat([Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 30]), randomBytes(30)]),
    // A handshake record holding a truncated ClientHello.
    Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 1, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 4, 0xfe, 0xfd, 1, 2]),
  ];
  for (let i = 0; i < 50; i++) junk.push(randomBytes(13 + (i * 37) % 400));
  for (const role of ['server', 'client']) {
    const r = t_.dtlsFeed({ role, datagrams: junk });
    t.true(['connecting', 'failed'].includes(r.state), `${role}: ${r.state}`);
    t.false(r.keys);
    if (r.state === 'failed') t.not(r.error, '');
  }
});

test('garbage around a handshake is ignored', (t) => {
  const during = t_.dtlsLoopback({ garbageToServer: 40 });
  connected(t, during);
  t.true(during.keysMatch);

  const after = t_.dtlsLoopback({ garbageAfterConnect: 200 });
  connected(t, after);
  t.is(after.clientStateAfterGarbage, 'connected');
  t.is(after.serverStateAfterGarbage, 'connected');
  t.true(after.keysStable);
});

test('Close sends close_notify and the peer moves to closed', (t) => {
  const byClient = t_.dtlsLoopback({ closeBy: 'client' });
  connected(t, byClient);
  t.is(byClient.clientStateAfterClose, 'closed');
  t.is(byClient.serverStateAfterClose, 'closed');
  t.is(byClient.datagrams, 5); // the handshake's four plus one close_notify

  const byServer = t_.dtlsLoopback({ closeBy: 'server' });
  connected(t, byServer);
  t.is(byServer.serverStateAfterClose, 'closed');
  t.is(byServer.clientStateAfterClose, 'closed');
});

test('many transports on many threads at once', (t) => {
  const r = t_.dtlsThreads({ threads: 8, rounds: 4 });
  t.is(r.total, 32);
  t.deepEqual(r.errors, []);
  t.is(r.connected, 32);
  t.is(r.keysMatched, 32);
});

test('the SSL is freed after the handshake; a lost last flight is resent from the kept bytes', (t) => {
  const plain = t_.dtlsLoopback({});
  connected(t, plain);
  t.true(plain.clientReleased && plain.serverReleased);

  // The server's ChangeCipherSpec + Finished is lost once: the server has already freed its SSL,
  // the client retransmits its flight, and the server answers with the flight it kept.
  const r = t_.dtlsLoopback({ dropServerLastFlight: true });
  connected(t, r);
  t.is(r.dropped, 1);
  t.true(r.timerFires > 0);
  t.true(r.serverReleased && r.clientReleased);
  t.true(r.keysMatch);
  t.is(r.datagrams, 6); // the 4 of a handshake, the client's retransmission, the server's resend
});

test('unauthenticated alerts after the handshake do not end the session; a real close_notify does', (t) => {
  const f = t_.dtlsLoopback({ forgedAlerts: true });
  connected(t, f);
  t.is(f.clientStateAfterForged, 'connected');
  t.is(f.serverStateAfterForged, 'connected');
  // Every suite the identity allows: the alert check derives the read key itself (RFC 5246 6.3).
  const suites = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'];
  for (const [closeBy, cipher] of suites.flatMap((c) => [['client', c], ['server', c]])) {
    const c = t_.dtlsLoopback({ closeBy, tamperClose: true, cipher });
    connected(t, c);
    t.true(c.clientReleased && c.serverReleased);
    t.is(c.stateAfterTamperedClose, 'connected', `${closeBy}: a tampered or re-epoched close_notify was accepted`);
    t.is(c.clientStateAfterClose, 'closed');
    t.is(c.serverStateAfterClose, 'closed');
  }
});

test('connected transport memory: the freed SSL saves most of it (mallinfo2, printed)', (t) => {
  const kept = t_.dtlsMemory({ n: 200, keepSsl: true });
  const released = t_.dtlsMemory({ n: 200 });
  t.log(`heap per connected transport: SSL kept ${(kept / 1024).toFixed(1)} KiB, released ${(released / 1024).toFixed(1)} KiB`);
  t.true(released < kept / 4, `${released} vs ${kept}`);
});
