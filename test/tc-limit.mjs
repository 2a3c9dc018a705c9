// One viewer's path limited by tc on `lo`, inside a network namespace of the caller's: this
// kernel has htb, tbf and pfifo (no prio or netem), so an htb root whose default class is open
// and whose other class has a tbf leaf (handle 30:), and a u32 filter on the viewer's own UDP
// port. Everything else, the publisher's path included, stays open. Used by the limited-link
// browser tests and bench/latency --limit-kbps.
import { spawnSync } from 'node:child_process';

const TC = '/usr/sbin/tc';

function tc(...args) {
  const r = spawnSync(TC, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tc ${args.join(' ')}: ${r.stderr}`);
}

/** Limits datagrams to UDP `port` on lo to `kbps` (tbf: 8 KB burst, 200 ms queue); throws when tc refuses. */
export function limitPort(port, kbps) {
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '20gbit', 'quantum', '60000');
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:10', 'handle', '10:', 'pfifo', 'limit', '10000');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:30', 'htb', 'rate', '20gbit', 'quantum', '60000');
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:30', 'handle', '30:', 'tbf', 'rate', `${kbps}kbit`, 'burst', '8kb', 'latency', '200ms');
  tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dport', String(port), '0xffff', 'flowid', '1:30');
}

/** Removes the limit; with `check`, throws when tc refuses (otherwise a cleanup that may find nothing to remove). */
export function liftLimit({ check = false } = {}) {
  if (check) tc('qdisc', 'del', 'dev', 'lo', 'root');
  else spawnSync(TC, ['qdisc', 'del', 'dev', 'lo', 'root']);
}

/** `tc -s qdisc show dev lo`: what each qdisc sent and dropped. */
export function qdiscStats() {
  return spawnSync(TC, ['-s', 'qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout;
}
