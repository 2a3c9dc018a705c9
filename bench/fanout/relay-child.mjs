// A halfsec relay in its own process, for the fan-out benchmark. Prints one JSON line
// {"event":"listening","port":...}; on stdin "stats" prints {"event":"stats",...} with the relay's
// packet counters, process CPU time and RSS; "exit" (or stdin closing) stops it.
// Usage: node relay-child.mjs [workers] [nogso]   (nogso: udpGso off, for paired before/after runs)
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { createRelay } from '../../dist/index.js';
import { native } from '../../dist/native.js';

const workers = Number(process.argv[2] ?? 0) || availableParallelism();
setTimeout(() => process.exit(3), 30 * 60 * 1000).unref(); // no benchmark run lasts this long
const base = 42000 + (process.pid % 300) * 10;
const relay = createRelay({
  host: '127.0.0.1',
  port: 0,
  rtcBindAddress: '127.0.0.1',
  rtcPortMin: base,
  rtcPortMax: base + 9,
  workers,
  logLevel: 'silent',
  // Every load-generator request comes from 127.0.0.1: the per-address session rate would
  // throttle the load itself.
  sessionsPerIpPerSecond: 0,
  udpGso: process.argv[3] !== 'nogso',
});
const { port } = await relay.listen();
const out = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
out({ event: 'listening', port, workers, pid: process.pid });
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'stats') {
      const s = relay.stats();
      const cpu = process.cpuUsage();
      out({
        event: 'stats',
        viewers: s.viewers,
        txPackets: s.workers.reduce((a, w) => a + w.txPackets, 0),
        gsoMessages: s.workers.reduce((a, w) => a + w.gsoMessages, 0),
        rxPackets: s.workers.reduce((a, w) => a + w.rxPackets, 0),
        dropped: s.workers.reduce((a, w) => a + w.dropped, 0),
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        rss: process.memoryUsage.rss(),
        // JS heap (session objects, signaling state): RSS minus this is mostly native.
        heapUsed: process.memoryUsage().heapUsed,
        // Forwarded packets' time in the relay, summed over workers (non-cumulative buckets).
        residenceBounds: native.residenceBucketsSeconds,
        residenceBuckets: s.workers.reduce((acc, w) => acc.map((c, i) => c + (w.residenceBuckets[i] ?? 0)), new Array(native.residenceBucketsSeconds.length + 1).fill(0)),
      });
    } else if (line === 'exit') {
      relay.close().then(() => process.exit(0));
    }
  })
  .on('close', () => relay.close().then(() => process.exit(0)));
