// Starts a relay asking for workerRealtimePriority 7 in a process without CAP_SYS_NICE (the test
// runs it under setpriv), prints the relay's JSON log lines, then one line describing the result.
import { readdirSync, readFileSync } from 'node:fs';
import { createRelay } from '../../dist/index.js';
import pino from 'pino';

const log = pino({ level: 'info' }, pino.destination({ dest: 1, sync: true }));
const relay = createRelay({ port: 0, host: '127.0.0.1', workers: 2, workerRealtimePriority: 7, rtcBindAddress: '127.0.0.1', metrics: false }, log);
const { port } = await relay.listen();
let fifoThreads = 0;
for (const tid of readdirSync('/proc/self/task')) {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]) === 1) fifoThreads++;
}
const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
process.stdout.write(JSON.stringify({ event: 'started', fifoThreads, answered: res !== undefined && res.status === 200 }) + '\n');
await relay.close();
process.exit(0);
