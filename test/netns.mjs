// Runs a script in a network namespace of its own (shared/PEERS.md): only `lo`, plus, with
// `veth`, a veth pair with documentation addresses and a default route, for peers (Firefox,
// libnice) that gather nothing on loopback alone. Nothing leaves the namespace. Needs root.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The relay's media address inside a veth namespace; the other end is VETH_PEER. */
export const VETH_ADDR = '198.51.100.1';
export const VETH_PEER = '198.51.100.2';

const LO_SETUP = 'ip link set lo up';
const VETH_SETUP = [
  LO_SETUP,
  'ip link add v0 type veth peer name v1',
  `ip addr add ${VETH_ADDR}/24 dev v0`,
  `ip addr add ${VETH_PEER}/24 dev v1`,
  'ip link set v0 up',
  'ip link set v1 up',
  `ip route add default via ${VETH_PEER}`,
].join(' && ');

/** Whether this process can make network namespaces (root with unshare and ip), and why not. */
export function netnsUnavailable() {
  if (process.getuid?.() !== 0) return 'not root: network namespaces need root (CI runs as root)';
  const r = spawnSync('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up'], { timeout: 10_000 });
  if (r.status !== 0) return `unshare -n failed: ${String(r.stderr ?? r.error).trim()}`;
  return null;
}

/**
 * Runs `command args` inside a fresh namespace, SIGKILLed (the whole process group) after
 * `limitSec`. Resolves with { code, signal, messages (stdout JSON lines), stderr }.
 */
export function runInNetns(command, args, { veth = false, limitSec = 60, env = {} } = {}) {
  const setup = veth ? VETH_SETUP : LO_SETUP;
  const child = spawn('timeout', ['-s', 'KILL', String(limitSec), 'unshare', '-n', '--', 'bash', '-c', `${setup} && exec "$@"`, 'netns', command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    detached: true,
  });
  const messages = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      messages.push(JSON.parse(line));
    } catch {
      // not a message: ignore
    }
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, messages, stderr }));
  });
}

/**
 * A relay for a peer script in a namespace: HTTP on loopback, media bound to and announced on
 * `mediaAddr`, 20 ports from `rtcPortMin`, one worker, quiet; `options` override any of it.
 */
export async function startNetnsRelay(createRelay, mediaAddr, rtcPortMin, options = {}) {
  const relay = createRelay({
    host: '127.0.0.1',
    port: 0,
    rtcBindAddress: mediaAddr,
    announcedIps: [mediaAddr],
    rtcPortMin,
    rtcPortMax: rtcPortMin + 19,
    workers: 1,
    logLevel: process.env.HALFSEC_LOG ?? 'silent',
    sessionsPerIpPerSecond: 0,
    ...options,
  });
  const { port } = await relay.listen();
  return { relay, base: `http://127.0.0.1:${port}` };
}

/**
 * Inside a veth namespace: media on the veth address. Bound to that address, not 0.0.0.0: from a
 * wildcard socket the kernel answers a check sent to VETH_ADDR from VETH_PEER with source
 * VETH_PEER, and Firefox and libnice drop such a response.
 */
export function startVethRelay(createRelay, rtcPortMin, options = {}) {
  return startNetnsRelay(createRelay, VETH_ADDR, rtcPortMin, options);
}

/**
 * Kills a child started as `timeout -s KILL <s> <cmd>` together with what it runs: GNU timeout
 * leads its own process group, and killing timeout alone leaves <cmd> running as an orphan.
 */
export function killTimeoutGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
