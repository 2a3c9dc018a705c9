// What the paired-run benchmarks (bench/idle, bench/memory) share: their common flags, checked
// (--sizes, --runs, --settle, --relays, --concurrency), a watchdog (an hour unless said), loadavg
// and medians, the machine line and the JSON results file. Each script keeps its own flags beside
// these; one with other defaults or without some of them (bench/memory/cli.mjs, stall.mjs)
// parses its own with benchArgs and, if it compares checkouts, names them with checkouts().
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** This checkout's root, ending in '/'. */
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Parses process.argv: the shared flags (--sizes `sizes` by default, a comma list of viewer counts
 * in 1..20000; --runs 3; --settle 3 s; --relays this, a comma list of checkouts where `this` is this
 * one; --concurrency 20) and the script's own `options` (node:util parseArgs shapes). Throws on a
 * bad --sizes. Starts a watchdog: the process exits with 3 after an hour.
 * @returns {{ a: Record<string, string>, sizes: number[], relays: string[] }} the raw values,
 *   the sizes and the checkouts' paths (no trailing '/').
 */
export function pairedRunArgs(sizes, options) {
  const { a, sizes: ns } = benchArgs({
    sizes: { type: 'string', default: sizes },
    runs: { type: 'string', default: '3' },
    settle: { type: 'string', default: '3' },
    relays: { type: 'string', default: 'this' },
    concurrency: { type: 'string', default: '20' },
    ...options,
  });
  return { a, sizes: ns, relays: checkouts(a.relays) };
}

/**
 * Parses process.argv with `options` alone (node:util parseArgs shapes; unknown flags throw). If
 * they include --sizes, it must be a comma list of viewer counts in 1..20000 (else throws). Starts
 * a watchdog: the process exits with 3 after `watchdogMinutes`.
 * @returns {{ a: Record<string, string>, sizes: number[] | undefined }} the raw values and the sizes.
 */
export function benchArgs(options, watchdogMinutes = 60) {
  const { values: a } = parseArgs({ options });
  const sizes = a.sizes === undefined ? undefined : a.sizes.split(',').map(Number);
  if (sizes?.some((n) => !Number.isInteger(n) || n < 1 || n > 20000)) throw new Error('--sizes: integers in 1..20000');
  setTimeout(() => process.exit(3), watchdogMinutes * 60 * 1000).unref();
  return { a, sizes };
}

/** A --relays value (comma list of checkouts, `this` for this one) as paths, no trailing '/'. */
export const checkouts = (list) => list.split(',').map((r) => (r === 'this' ? root.replace(/\/$/, '') : r));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The 1, 5 and 15 minute load averages, space-separated. */
export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
/** The median of the finite numbers in `xs` (the lower one of an even count); undefined if none. */
export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined;
};

const machine = () => ({ cpu: cpus()[0]?.model, cores: cpus().length, kernel: release(), node: process.version });

/** Prints the machine line that heads every table, then `; ${note}` if a note is given. */
export function printMachine(note) {
  const m = machine();
  console.log(`machine: ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, node ${m.node}${note ? `; ${note}` : ''}`);
}

/** Writes bench/results/<bench>-<ISO time>.json ({ bench, date, machine, config, rows }) and prints its path. */
export function writeResults(bench, config, rows) {
  const file = `${root}bench/results/${bench}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ bench, date: new Date().toISOString(), machine: machine(), config, rows }, null, 2)}\n`);
  console.log(`json: ${file}`);
}
