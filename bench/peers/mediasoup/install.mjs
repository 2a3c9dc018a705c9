#!/usr/bin/env node
// Installs mediasoup 3.8.4 on demand into a folder the benchmark owns (bench/peers/mediasoup/
// .install, gitignored): never a dependency of the relay. Current mediasoup releases download a
// prebuilt worker or their C++ dependencies at install, which fails offline; 3.8.4 vendors them
// (GYP + make) and builds here with two source fixes for today's toolchain (shared/PEERS.md).
// The build takes 15-30 min on 2 cores; a finished build is reused.
// Usage: node bench/peers/mediasoup/install.mjs [--cores 2]   (or import { ensureMediasoup })
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
export const INSTALL_DIR = join(here, '.install');
export const MEDIASOUP_DIR = join(INSTALL_DIR, 'node_modules', 'mediasoup');
export const WORKER_BIN = join(MEDIASOUP_DIR, 'worker', 'out', 'Release', 'mediasoup-worker');
const VERSION = '3.8.4';

function patch(file, from, to) {
  const text = readFileSync(file, 'utf8');
  if (text.includes(to)) return;
  if (!text.includes(from)) throw new Error(`mediasoup ${VERSION}: ${file} no longer holds the text to patch`);
  writeFileSync(file, text.replace(from, to));
}

/** The mediasoup package folder, once its worker binary is built; builds it when missing. */
export async function ensureMediasoup({ cores = 2, log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  if (existsSync(WORKER_BIN)) return MEDIASOUP_DIR;
  mkdirSync(INSTALL_DIR, { recursive: true });
  if (!existsSync(join(INSTALL_DIR, 'package.json'))) writeFileSync(join(INSTALL_DIR, 'package.json'), '{ "name": "halfsec-bench-mediasoup", "private": true }\n');
  if (!existsSync(join(MEDIASOUP_DIR, 'package.json'))) {
    log(`installing mediasoup@${VERSION} (--ignore-scripts) into ${INSTALL_DIR}`);
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', `mediasoup@${VERSION}`], { cwd: INSTALL_DIR, stdio: 'inherit' });
  }
  const worker = join(MEDIASOUP_DIR, 'worker');
  // Python 3.10 removed collections.MutableSet; glibc 2.34 made SIGSTKSZ a long (std::max of two types).
  const common = join(worker, 'deps/gyp/pylib/gyp/common.py');
  patch(common, 'class OrderedSet(collections.MutableSet):', 'class OrderedSet(collections.abc.MutableSet):');
  patch(common, 'import collections\n', 'import collections\nimport collections.abc\n');
  patch(join(worker, 'deps/libwebrtc/deps/abseil-cpp/abseil-cpp/absl/debugging/failure_signal_handler.cc'), 'std::max(SIGSTKSZ, 65536)', 'std::max<size_t>(SIGSTKSZ, 65536)');
  const logFile = join(INSTALL_DIR, 'build.log');
  log(`building mediasoup-worker (15-30 min on 2 cores); log: ${logFile}`);
  await new Promise((resolve, reject) => {
    const out = createWriteStream(logFile);
    const make = spawn('make', ['-C', worker, 'PYTHON=python3', `CORES=${cores}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    make.stdout.pipe(out);
    make.stderr.pipe(out);
    make.on('exit', (code) => (code === 0 && existsSync(WORKER_BIN) ? resolve() : reject(new Error(`mediasoup-worker build failed (exit ${code}); see ${logFile}`))));
  });
  return MEDIASOUP_DIR;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--cores');
  await ensureMediasoup({ cores: i > 0 ? Number(process.argv[i + 1]) : 2 });
  process.stdout.write(`${WORKER_BIN}\n`);
}
