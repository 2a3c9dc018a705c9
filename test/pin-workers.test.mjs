import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import test from 'ava';
import { spawnPeer, startRelay, until } from './helpers.mjs';

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
    const PACKETS = 100;
    const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/pin`, String(PACKETS), '5', 'video']);
    await pub.waitFor('open');
    const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/pin`, '4']);
    t.is((await viewers.waitFor('ready', 30000)).open, 4);
    pub.send('start');
    await pub.waitFor('sent', 30000);
    let report;
    await until(async () => {
      report = await viewers.request('report', 'report');
      return report.viewers.every((v) => v.video.length >= PACKETS);
    }, 5000, 200);
    for (const v of report.viewers) {
      t.is(new Set(v.video).size, PACKETS, `viewer ${v.index}: every packet once`);
      t.is(v.bad, 0, `viewer ${v.index}: no corrupted payload`);
    }
    t.true(relay.stats().workers.every((w) => w.viewers >= 1), 'viewers spread over both workers');
  });
}
