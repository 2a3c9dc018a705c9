// Run by test/dtls-attack.test.mjs in a fresh process: Node's own crypto and TLS (OpenSSL's
// default library context) with RSA, EC, DSA and Ed25519 keys before and after the addon has made
// its DTLS library context and handshaken with peers of every key type; then handshakes on
// several threads while that context is first made (mode "threads"). Prints one JSON line.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

const mode = process.argv[2];
if (mode === 'threads') {
  const { native } = await import('../dist/native.js');
  // The first use of the DTLS library context is on these threads, not on this one.
  process.stdout.write(JSON.stringify(native._test.dtlsAttackThreads({ threads: 6, rounds: 2 })) + '\n');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'halfsec-dtls-attack-'));
/** A self-signed certificate of each key type, made by the openssl tool (PEM key and cert). */
function cert(name, keyArgs) {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', ...keyArgs, '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', `/CN=${name}`], { stdio: 'ignore', timeout: 60_000 });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(crt, 'utf8') };
}
execFileSync('openssl', ['dsaparam', '-out', join(dir, 'dsaparam.pem'), '2048'], { stdio: 'ignore', timeout: 60_000 });
const creds = {
  rsa: cert('rsa', ['rsa:2048']),
  ec: cert('ec', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
  dsa: cert('dsa', ['dsa:' + join(dir, 'dsaparam.pem')]),
  ed25519: cert('ed25519', ['ed25519']),
};

/** Parses, signs and verifies with each key; a TLS 1.2 and 1.3 exchange with the RSA and EC certificates. */
async function nodeCrypto() {
  const out = {};
  for (const [type, c] of Object.entries(creds)) {
    const priv = crypto.createPrivateKey(c.key);
    const x = new crypto.X509Certificate(c.cert);
    const data = Buffer.from('halfsec');
    const md = type === 'ed25519' ? null : 'sha256';
    const sig = crypto.sign(md, data, priv);
    out[type] = priv.asymmetricKeyType === (type === 'ec' ? 'ec' : type) && crypto.verify(md, data, x.publicKey, sig) && x.verify(x.publicKey);
    const gen = crypto.generateKeyPairSync(type === 'ec' ? 'ec' : type, type === 'ec' ? { namedCurve: 'P-384' } : type === 'ed25519' ? {} : { modulusLength: 2048 });
    out[type] &&= crypto.verify(md, data, gen.publicKey, crypto.sign(md, data, gen.privateKey));
  }
  for (const type of ['rsa', 'ec']) {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3']) {
      const server = tls.createServer({ key: creds[type].key, cert: creds[type].cert, maxVersion }, (s) => s.end('pong'));
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const got = await new Promise((resolve, reject) => {
        const s = tls.connect({ port: server.address().port, host: '127.0.0.1', ca: creds[type].cert, servername: type, checkServerIdentity: () => undefined, maxVersion });
        let b = '';
        s.on('data', (d) => (b += d));
        s.on('end', () => resolve(`${s.getProtocol?.() ?? ''}:${b}`));
        s.on('error', reject);
        setTimeout(() => reject(new Error('tls timeout')), 10_000).unref();
      }).catch((e) => String(e));
      server.close();
      out[`tls-${type}-${maxVersion}`] = got;
    }
  }
  out.hashes = crypto.getHashes().length;
  out.ciphers = tls.getCiphers().length;
  return out;
}

const before = await nodeCrypto();
const { native } = await import('../dist/native.js');
const handshakes = {};
for (const kind of ['legit', 'key:rsa', 'key:ed25519', 'key:p384', 'swap-chain:dsa', 'other-leaf']) handshakes[kind] = native._test.dtlsAttack({ kind }).serverState;
const after = await nodeCrypto();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ before, after, handshakes }) + '\n');
