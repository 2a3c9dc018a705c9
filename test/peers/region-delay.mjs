// A fixed one-way delay between two regions, in userspace: this kernel has no sch_netem (`tc
// qdisc add ... netem` fails with "Specified qdisc kind is unknown"), so `tc netem delay` cannot
// run here. The test's nftables rules (type nat, hook output) DNAT the packets a node of one
// region sends to a node of the other to this process's front for that node; this process holds
// each datagram (or TCP chunk) `delayMs` and passes it on from a socket of its own, and holds the
// answers `delayMs` too on the way back. Conntrack undoes the DNAT on the answers, so neither
// node sees the detour: the round trip between the regions grows by 2 x delayMs.
// Usage: node region-delay.mjs '<json>' with {delayMs, host, targets: [{name, ip, udp?, tcp?}]}
// (udp/tcp: the node's port to front). Prints {event:'ready', fronts: {name: {udp, tcp}}}; stdin
// "stats" prints {event:'stats', udp: {forward, back, tcpConnections}, lateMs: {p50, p99, max}} (how much later
// than due a datagram left: timer and event-loop slack on top of delayMs).
import dgram from 'node:dgram';
import net from 'node:net';
import { send, watchdog } from './common.mjs';

const config = JSON.parse(process.argv[2]);
const { delayMs, host } = config;
watchdog(Number(process.env.PEER_WATCHDOG_MS) || 120000);

const stats = { forward: 0, back: 0, tcpConnections: 0 };
const late = [];
/** Runs `fn` delayMs after now; FIFO per direction, one timer for the head (a constant delay keeps the order). */
function delayLine() {
  const queue = [];
  let timer;
  const run = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now + 0.5) {
      const { due, fn } = queue.shift();
      if (late.length < 200_000) late.push(now - due);
      fn();
    }
    if (queue.length > 0) timer = setTimeout(run, Math.max(0, queue[0].due - performance.now()));
  };
  return (fn) => {
    queue.push({ due: performance.now() + delayMs, fn });
    if (!timer) timer = setTimeout(run, delayMs);
  };
}

function udpFront(target) {
  const front = dgram.createSocket('udp4');
  const clients = new Map();
  const forward = delayLine();
  const back = delayLine();
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = clients.get(key);
    if (!up) {
      // One upstream socket per client: the node still sees one address per peer.
      up = dgram.createSocket('udp4');
      up.bind(0, host);
      up.on('message', (answer) => {
        back(() => {
          stats.back++;
          front.send(answer, rinfo.port, rinfo.address);
        });
      });
      clients.set(key, up);
    }
    forward(() => {
      stats.forward++;
      up.send(msg, target.udp, target.ip);
    });
  });
  return new Promise((resolve) => front.bind(0, host, () => resolve(front.address().port)));
}

function tcpFront(target) {
  const server = net.createServer((client) => {
    stats.tcpConnections++;
    const up = net.connect(target.tcp, target.ip);
    const forward = delayLine();
    const back = delayLine();
    client.on('data', (d) => forward(() => up.write(d)));
    up.on('data', (d) => back(() => client.write(d)));
    client.on('end', () => forward(() => up.end()));
    up.on('end', () => back(() => client.end()));
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server.address().port)));
}

const fronts = {};
for (const target of config.targets) {
  fronts[target.name] = {
    ...(target.udp ? { udp: await udpFront(target) } : {}),
    ...(target.tcp ? { tcp: await tcpFront(target) } : {}),
  };
}
send({ event: 'ready', fronts });

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  for (const line of chunk.split('\n').filter(Boolean)) {
    if (line === 'stats') {
      const sorted = [...late].sort((a, b) => a - b);
      const at = (p) => +(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(2);
      send({ event: 'stats', udp: { ...stats }, lateMs: { p50: at(0.5), p99: at(0.99), max: at(1) } });
    } else if (line === 'exit') process.exit(0);
  }
});
