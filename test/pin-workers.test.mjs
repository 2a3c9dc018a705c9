import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import test from 'ava';
import { assertEveryPacketOnce, reportWhen, spawnPeer, startRelay } from './helpers.mjs';
import { SCHED_FIFO, threadPolicies } from './thread-policy.mjs';

// This process's threads and the CPUs each may run on (/proc/self/task/*/status).
function threadCpus() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'));
      if (m) out.set(tid, m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

// CAP_SYS_NICE (bit 23) in this process's effective set.
const hasSysNice = (BigInt('0x' + /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) >> 23n) & 1n;

// Real viewers get every packet of a publisher, once and intact.
async function assertDelivery(t, url, name) {
  const PACKETS = 100;
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/${name}`, String(PACKETS), '5', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/${name}`, '4']);
  t.is((await viewers.waitFor('ready', 30000)).open, 4);
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const report = await reportWhen(viewers, (r) => r.viewers.every((v) => v.video.length >= PACKETS));
  assertEveryPacketOnce(t, report, PACKETS);
}

// pinWorkers: each data-plane worker thread gets one CPU of its own (round robin over the CPUs
// this process may use); without it no relay thread is pinned. Media still reaches every viewer.
for (const pin of [true, false]) {
  test.serial(`pinWorkers ${pin}: worker threads ${pin ? 'each on one CPU of its own' : 'not pinned'}, and every packet reaches real viewers`, async (t) => {
    const workers = 2;
    const before = threadCpus();
    const { url, relay } = await startRelay(t, { workers, pinWorkers: pin });
    const added = [...threadCpus()].filter(([tid]) => !before.has(tid));
    const single = added.filter(([, cpus]) => /^\d+$/.test(cpus)).map(([, cpus]) => Number(cpus));
    if (pin) {
      t.is(single.length, workers, `single-CPU threads among the relay's: ${JSON.stringify(added)}`);
      if (availableParallelism() >= workers) t.is(new Set(single).size, workers, 'on different CPUs');
    } else {
      t.is(single.length, 0, `no relay thread pinned: ${JSON.stringify(added)}`);
    }
    await assertDelivery(t, url, 'pin');
    t.true(relay.stats().workers.every((w) => w.viewers >= 1), 'viewers spread over both workers');
  });
}

// workerRealtimePriority: the worker threads (and only they) run under SCHED_FIFO at that
// priority, and media still reaches every viewer.
test.serial('workerRealtimePriority 7: the worker threads run SCHED_FIFO at priority 7, and every packet reaches real viewers', async (t) => {
  if (!hasSysNice) {
    t.log('no CAP_SYS_NICE here: the refusal is checked by the next test');
    t.pass();
    return;
  }
  const before = threadPolicies();
  t.is([...before.values()].filter((p) => p.policy === SCHED_FIFO).length, 0, 'no FIFO thread before');
  const { url, relay } = await startRelay(t, { workers: 2, workerRealtimePriority: 7 });
  const fifo = [...threadPolicies()].filter(([tid, p]) => !before.has(tid) && p.policy === SCHED_FIFO);
  t.is(fifo.length, 2, 'one SCHED_FIFO thread per worker');
  t.true(fifo.every(([, p]) => p.priority === 7), `priority 7: ${JSON.stringify(fifo)}`);
  t.is(relay.stats().workers.length, 2);
  await assertDelivery(t, url, 'rt');
});

// Without CAP_SYS_NICE the priority is refused: the relay says why and serves all the same.
test.serial('workerRealtimePriority without CAP_SYS_NICE: a warning naming the refusal, and the relay still starts', (t) => {
  const child = fileURLToPath(new URL('./peers/realtime-refused.mjs', import.meta.url));
  const args = hasSysNice ? ['setpriv', ['--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--', process.execPath, child]] : [process.execPath, [child]];
  const out = execFileSync(args[0], args[1], { encoding: 'utf8', timeout: 20000 });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  const warning = lines.find((l) => l.level === 40 && /realtime priority 7 refused/.test(l.msg));
  t.truthy(warning, `a warning: ${out}`);
  t.regex(warning.msg, /CAP_SYS_NICE/);
  const started = lines.find((l) => l.event === 'started');
  t.truthy(started, 'the relay started');
  t.is(started.fifoThreads, 0, 'no thread runs SCHED_FIFO');
  t.true(started.answered, 'it answers HTTP');
});
