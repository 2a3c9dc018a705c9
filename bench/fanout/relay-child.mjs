// A halfsec relay in its own process, for the fan-out benchmark. Prints one JSON line
// {"event":"listening","port":...}; on stdin "stats" prints {"event":"stats",...} with the relay's
// packet counters, process CPU time and RSS; "exit" (or stdin closing) stops it.
// Usage: node relay-child.mjs [workers] [nogso|gso] [fanoutCoalesceUs]   (nogso: udpGso off, for
// paired before/after runs; the third argument, when given, sets the fan-out coalescing window)
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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
  // bench/memory --reclaim 1,0: the relay's own reclaim after a join burst, on (default) or off.
  memoryReclaim: process.env.HALFSEC_BENCH_MEMORY_RECLAIM !== 'false',
  ...(process.argv[4] ? { fanoutCoalesceUs: Number(process.argv[4]) } : {}),
  ...(process.argv[5] === 'pin' ? { pinWorkers: true } : {}),
  ...(process.argv[6] ? { workerRealtimePriority: Number(process.argv[6]) } : {}),
});
// V8's pauses (bench/memory): count, total and longest, ms, per kind (scavenge, mark-compact, ...).
const gcPauses = {};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const k = ({ 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' })[e.detail?.kind] ?? String(e.detail?.kind);
    const g = (gcPauses[k] ??= { count: 0, totalMs: 0, maxMs: 0 });
    g.count++;
    g.totalMs += e.duration;
    g.maxMs = Math.max(g.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const { port } = await relay.listen();
const out = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
out({ event: 'listening', port, workers, pid: process.pid });
createInterface({ input: process.stdin })
  .on('line', async (line) => {
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
        memoryReclaim: s.memoryReclaim,
        residenceByWorker: s.workers.map((w) => w.residenceBuckets),
        residenceBuckets: s.workers.reduce((acc, w) => acc.map((c, i) => c + (w.residenceBuckets[i] ?? 0)), new Array(native.residenceBucketsSeconds.length + 1).fill(0)),
      });
    } else if (line === 'memory' || line === 'trim') {
      // bench/memory: the process's memory by owner; "trim" first collects JS garbage and
      // hands glibc's free pages back (malloc_trim), to tell live bytes from fragmentation.
      if (line === 'trim') {
        setFlagsFromString('--expose-gc');
        runInNewContext('gc')();
        // The same memory-reducing GC (it also shrinks V8's young generation) and malloc_trim the
        // relay's memoryReclaim runs, so that the baseline holds no more than a reclaimed relay would.
        if (native.reclaimMemory) await native.reclaimMemory(true);
        else native._test.mallocTrim();
      }
      const m = process.memoryUsage();
      const malloc = native._test.mallocStats();
      const rollup = Object.fromEntries(
        [...readFileSync('/proc/self/smaps_rollup', 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm)].map((x) => [x[1], Number(x[2]) * 1024]),
      );
      // One entry per glibc arena: bytes it holds from the system and bytes free inside it.
      const arenas = [...malloc.info.matchAll(/<heap nr="\d+">([\s\S]*?)<\/heap>/g)].map((h) => ({
        system: Number(/<system type="current" size="(\d+)"/.exec(h[1])?.[1] ?? 0),
        free: Number(/<total type="rest" count="\d+" size="(\d+)"/.exec(h[1])?.[1] ?? 0),
      }));
      delete malloc.info;
      // Resident bytes by kind of mapping: glibc's main arena ([heap]), its thread arenas
      // (anonymous heaps at 64 MiB-aligned addresses), other anonymous memory (V8's pages,
      // thread stacks, direct mmaps) and files (code, libraries).
      const regions = { mainArena: 0, threadArenas: 0, otherAnon: 0, files: 0 };
      for (const block of readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
        const head = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ (\d+)[ \t]*(.*)$/m.exec(block);
        const rss = Number(/^Rss:\s+(\d+)/m.exec(block)?.[1] ?? 0) * 1024;
        if (!head || rss === 0) continue;
        if (head[3] === '[heap]') regions.mainArena += rss;
        else if (head[2] !== '0') regions.files += rss;
        else if (BigInt(`0x${head[1]}`) % (64n << 20n) === 0n) regions.threadArenas += rss;
        else regions.otherAnon += rss;
      }
      const cpu = process.cpuUsage();
      out({ event: 'memory', viewers: relay.stats().viewers, rss: m.rss, cpuUs: cpu.user + cpu.system, gc: structuredClone(gcPauses), reclaim: relay.stats().memoryReclaim, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, malloc, arenas, rollup, regions,
        // V8 per space: committed and resident (physical) bytes.
        spaces: Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, { size: x.space_size, used: x.space_used_size, physical: x.physical_space_size }])) });
    } else if (line === 'exit') {
      relay.close().then(() => process.exit(0));
    }
  })
  .on('close', () => relay.close().then(() => process.exit(0)));
