import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { CONFIG, envOf, flagOf, loadConfig, renderMarkdownTable } from '../dist/ops/config.js';
import { createRelay, OptionsError } from '../dist/index.js';
import { spawnGroup } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'halfsec-config-'));

function file(name, text) {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Runs the CLI to completion (or until `until` matches stdout), under a hard time limit. */
function cli(t, args, { env = {}, until } = {}) {
  return new Promise((resolve) => {
    const { child } = spawnGroup(t, process.execPath, ['dist/cli.js', ...args], { limitSec: 20, cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (until && until.test(stdout)) resolve({ child, stdout, stderr, code: null });
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ child, stdout, stderr, code }));
  });
}

test('serve --help lists every option with its default and environment variable', async (t) => {
  const r = await cli(t, ['serve', '--help']);
  t.is(r.code, 0);
  for (const e of CONFIG) {
    t.true(r.stdout.includes(`${flagOf(e)} ${e.arg}`), flagOf(e));
    t.true(r.stdout.includes(`default ${e.default}`), `${flagOf(e)} default`);
    t.true(r.stdout.includes(envOf(e)), envOf(e));
  }
  t.regex(r.stdout, /--config <file>/);
});

test("the README's configuration table is the one generated from the schema table", (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
  t.truthy(m, 'README has the config-table markers');
  t.is(m[1], renderMarkdownTable(), 'regenerate with: node dist/cli.js config-table');
});

const invalid = [
  ['a port out of range', ['--port', '70000'], {}, /--port: must be an integer from 0 to 65535 \(got "70000"\)/],
  ['a port that is not a number', ['--port', 'http'], {}, /--port: must be an integer/],
  ['a bad environment variable', [], { HALFSEC_WORKERS: 'lots' }, /HALFSEC_WORKERS: must be an integer from 0 to 64/],
  ['a bad address in a list', [], { HALFSEC_ANNOUNCE_IP: '10.0.0.1,nope' }, /HALFSEC_ANNOUNCE_IP item 2: must be an IPv4 or IPv6 address \(got "nope"\)/],
  ['a bad port range', ['--rtc-ports', '4000'], {}, /--rtc-ports: must look like 40000-40099/],
  ['an empty port range', ['--rtc-ports', '5000-4000'], {}, /port range 5000-4000 is empty/],
  ['an unknown flag', ['--prot', '80'], {}, /Unknown option '--prot'/],
  ['a missing config file', ['--config', join(dir, 'missing.json')], {}, /cannot read config file ".*missing\.json": no such file/],
  ['a config file that is not JSON', ['--config', file('broken.json', '{ "port": 80,')], {}, /is not valid JSON/],
  ['an unknown key in the config file', ['--config', file('typo.json', '{ "prot": 80 }')], {}, /unknown key "prot"/],
  ['a bad value in the config file', ['--config', file('bad.json', '{ "logLevel": "loud" }')], {}, /"logLevel" in .*bad\.json: must be one of fatal, error/],
  ['a config file holding an array', [], { HALFSEC_CONFIG: file('array.json', '[]') }, /must hold a JSON object/],
];
for (const [name, args, env, message] of invalid) {
  test(`${name} is a clear error and exit code 2`, async (t) => {
    const r = await cli(t, ['serve', ...args], { env });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /^halfsec: invalid configuration/);
  });
}

test('flags win over the environment, which wins over the config file', (t) => {
  const cfg = file('layers.json', JSON.stringify({ port: 1111, logLevel: 'debug', workers: 3, rtcPorts: '50000-50009', announceIp: ['192.0.2.1'] }));
  const only = loadConfig(['--config', cfg], {});
  t.like(only.options, { port: 1111, logLevel: 'debug', workers: 3, rtcPortMin: 50000, rtcPortMax: 50009, announcedIps: ['192.0.2.1'] });
  const env = loadConfig(['--config', cfg], { HALFSEC_PORT: '2222', HALFSEC_ANNOUNCE_IP: '192.0.2.2, 192.0.2.3' });
  t.like(env.options, { port: 2222, logLevel: 'debug', announcedIps: ['192.0.2.2', '192.0.2.3'] });
  const flag = loadConfig(['--config', cfg, '--port', '3333', '--announce-ip', '192.0.2.4', '--announce-ip', '192.0.2.5'], { HALFSEC_PORT: '2222' });
  t.like(flag.options, { port: 3333, workers: 3, announcedIps: ['192.0.2.4', '192.0.2.5'] });
  t.like(loadConfig([], { HALFSEC_METRICS: 'false', HALFSEC_ADMIN_TOKEN: 'abcdefgh1' }).options, { metrics: false, adminToken: 'abcdefgh1' });
});

test('a valid config file starts the relay; SIGTERM stops it cleanly', async (t) => {
  const base = 46000 + Math.floor(Math.random() * 100) * 10;
  const cfg = file('good.json', JSON.stringify({ host: '127.0.0.1', port: 0, rtcBind: '127.0.0.1', rtcPorts: `${base}-${base + 9}`, workers: 1 }));
  const r = await cli(t, ['serve', '--config', cfg], { until: /relay listening/ });
  t.is(r.code, null, r.stderr);
  const line = JSON.parse(r.stdout.split('\n').find((l) => l.includes('relay listening')));
  t.deepEqual(line.rtcPorts, [base]);
  const res = await fetch(`http://${line.http}/healthz`);
  t.is(res.status, 200);
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM');
  t.is(await exited, 0);
});

test('createRelay rejects invalid options with the same messages', (t) => {
  const err = t.throws(() => createRelay({ port: -1, workers: 1.5, bogus: true }), { instanceOf: OptionsError });
  t.regex(err.message, /options\.port: must be an integer from 0 to 65535 \(got -1\)/);
  t.regex(err.message, /options\.workers: must be an integer from 0 to 64 \(got 1\.5\)/);
  t.regex(err.message, /unknown option bogus/);
});

test('Redis Sentinel addresses a socket cannot use are refused at start, not retried forever', (t) => {
  const secret = 'cluster-secret-for-the-config-test-0123456789';
  for (const bad of ['127.0.0.1:99999', '127.0.0.1:0', '[::1:26379', 'host:26379:1', 'host']) {
    const err = t.throws(() => createRelay({ clusterSecret: secret, redisSentinels: [bad], logLevel: 'silent' }), { instanceOf: OptionsError }, bad);
    t.regex(err.message, /redisSentinels.*host:port/, bad);
  }
  // What a deployment writes still passes: names, IPv4, bracketed IPv6.
  for (const good of [['sentinel-1.example:26379'], ['127.0.0.1:26379', '[::1]:26379']]) {
    const relay = createRelay({ clusterSecret: secret, redisSentinels: good, logLevel: 'silent' });
    t.truthy(relay);
    relay.close();
  }
});
