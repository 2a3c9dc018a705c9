// `npm test`: the ava suite in two passes. The files in PAIRED run two at a time: they drive
// node-datachannel peers, Redis, OpenSSL and the relay's own HTTP, mostly waiting on sockets and
// timers, and relays pick free ports in random ranges (test/helpers.mjs), so two files do not
// collide. Every other file runs alone afterwards: those whose assertions rest on CPU time
// (browsers' frame rates and freezes, encoders, tc-shaped links, the soak, FFmpeg, GStreamer,
// aiortc) and any file not listed here, so a new test runs alone until it is shown to pair.
// Two passes of the paired files took 190 s on 2 cores against ~370 s one at a time.
//
//   node scripts/run-tests.mjs            the whole suite (exit 1 when either pass fails)
//   node scripts/run-tests.mjs <ava args> one ava run with those arguments (e.g. a file)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const PAIRED = [
  'access', 'addon', 'auth', 'cluster', 'cluster-failover', 'cluster-failures', 'cluster-gate-auth', 'cluster-layers',
  'cluster-sentinel', 'cluster-tree', 'cluster-trust', 'config', 'deploy-manifests', 'deploy-observability', 'dtls',
  'dtls-attack', 'dtls-release', 'embed', 'fanout', 'faults', 'fuzz-sdp', 'gso', 'http', 'ice-attacks', 'ice-ownership',
  'ingest-srt-flood', 'limits', 'media-restarts', 'memory-reclaim', 'metrics', 'native-layout', 'native-units', 'npm-start',
  'pin-workers', 'policy', 'pull-sdp-layers', 'quality', 'quiet-viewer', 'residence', 'rtmp-gate', 'rtp',
  'sdp-dependency-descriptor', 'sdp-negotiation', 'sdp-offers', 'sdp-transport-cc', 'sdp-transport-cc-viewer', 'srtp',
  'stun', 'svc-policy', 'ts-layout', 'web', 'ws',
].map((name) => `test/${name}.test.mjs`);

function ava(args) {
  const r = spawnSync(process.execPath, [`${root}node_modules/ava/entrypoints/cli.mjs`, ...args], { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

const args = process.argv.slice(2);
if (args.length > 0) process.exit(ava(args));

const missing = PAIRED.filter((f) => !existsSync(`${root}${f}`));
if (missing.length > 0) {
  process.stderr.write(`scripts/run-tests.mjs: listed but not found: ${missing.join(', ')}\n`);
  process.exit(2);
}
const paired = new Set(PAIRED);
const alone = readdirSync(`${root}test`).filter((f) => f.endsWith('.test.mjs')).map((f) => `test/${f}`).filter((f) => !paired.has(f)).sort();

process.stdout.write(`\n# ${PAIRED.length} test files, two at a time\n`);
const first = ava(['--concurrency', '2', ...PAIRED]);
process.stdout.write(`\n# ${alone.length} test files, one at a time\n`);
const second = ava(['--concurrency', '1', ...alone]);
process.exit(first === 0 && second === 0 ? 0 : 1);
