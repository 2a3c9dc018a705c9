// `--limit-kbps K` for bench/latency: one viewer's path is limited by tc for a while, then
// opened again, and what the viewer decoded is sampled (frame height, freezeCount from getStats)
// to report freezes, time at each layer and time to recover. tc acts on `lo`, so the bench
// re-runs itself inside a network namespace of its own (unshare -n, root) and nothing outside
// it is shaped. This kernel has htb, tbf and pfifo (no prio or netem): an htb root whose
// default class is open and whose other class has a tbf leaf, and a u32 filter on the viewer's
// own UDP port. The publisher's path stays open.
import { spawnSync } from 'node:child_process';
import { limitPort, liftLimit } from '../../test/tc-limit.mjs';

const NS_MARK = 'HALFSEC_BENCH_NETNS';

/** Re-runs this process inside `unshare -n` (lo up) unless it already runs there; returns true when it did (the caller exits with its status). */
export function reexecInNetns() {
  if (process.env[NS_MARK] === '1') return null;
  const r = spawnSync('unshare', ['-n', '--', 'bash', '-c', 'ip link set lo up && exec "$@"', 'netns', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [NS_MARK]: '1' },
  });
  return r.status ?? 1;
}

/**
 * Waits (up to 20 s) for the viewer to decode `topHeight`, then samples `status()`
 * ({ height, freezeCount, framesDecoded }) every 250 ms: `openMs` open,
 * `limitMs` limited to `kbps` (the viewer's `port`), then open again until the top height comes
 * back (at most `recoverMs`). Returns the figures.
 */
export async function limitedRun({ status, port, kbps, openMs, limitMs, recoverMs, topHeight = 0 }) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const waitStart = Date.now();
  while (Date.now() - waitStart < 20_000 && (await status()).height < topHeight) await sleep(250);
  const reachedTopMs = (await status()).height >= topHeight ? Date.now() - waitStart : null;
  const samples = [];
  const t0 = Date.now();
  const run = async (phase, ms, stop) => {
    const start = Date.now();
    while (Date.now() - start < ms) {
      const s = await status();
      const p = { phase, t: Date.now() - start, at: Date.now() - t0, height: s.height, freezes: s.freezeCount, frames: s.framesDecoded };
      samples.push(p);
      if (stop?.(p)) return;
      await sleep(250);
    }
  };
  await run('open', openMs);
  const top = Math.max(...samples.map((s) => s.height));
  limitPort(port, kbps);
  try {
    await run('limited', limitMs);
  } finally {
    liftLimit();
  }
  await run('lifted', recoverMs, (p) => p.height >= top && p.t > 500);
  // Time at each height, and freezes, per phase.
  const phases = {};
  for (const [i, s] of samples.entries()) {
    const next = samples[i + 1];
    const dt = next ? next.at - s.at : 0;
    const ph = (phases[s.phase] ??= { ms: 0, heights: {}, freezes: 0, frames: 0 });
    ph.ms += dt;
    ph.heights[s.height] = (ph.heights[s.height] ?? 0) + dt;
  }
  for (const name of Object.keys(phases)) {
    const list = samples.filter((s) => s.phase === name);
    const before = samples[samples.indexOf(list[0]) - 1] ?? list[0];
    phases[name].freezes = list.at(-1).freezes - before.freezes;
    phases[name].frames = list.at(-1).frames - before.frames;
  }
  const down = samples.find((s) => s.phase === 'limited' && s.height < top);
  const up = samples.find((s) => s.phase === 'lifted' && s.height >= top);
  return { kbps, topHeight: top, reachedTopMs, phases, moveDownMs: down?.t ?? null, recoverMs: up?.t ?? null, samples };
}
