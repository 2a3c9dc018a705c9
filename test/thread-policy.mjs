// Scheduling policy of this process's threads, for tests of workerRealtimePriority.
import { readdirSync, readFileSync } from 'node:fs';

/** SCHED_FIFO's number in sched_setscheduler(2) and /proc/<tid>/stat's policy field. */
export const SCHED_FIFO = 1;

/**
 * This process's threads (those alive while it reads /proc/self/task) and their scheduling.
 * @returns {Map<string, { priority: number, policy: number }>} by thread id (the /proc/self/task
 *   directory name): `policy` and `priority` are /proc/<tid>/stat fields 41 (SCHED_* number: 0
 *   OTHER, 1 FIFO, 2 RR, ...) and 40 (realtime priority 1-99, 0 when not realtime), proc(5).
 *   A thread that ends while it is read is left out.
 */
export function threadPolicies() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces; the first of
      // them is field 3.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { priority: Number(fields[40 - 3]), policy: Number(fields[41 - 3]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
