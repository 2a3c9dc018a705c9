// Starts a relay asking for workerRealtimePriority 7 in a process without CAP_SYS_NICE (the test
// runs it under setpriv), prints the relay's JSON log lines, then one line describing the result.
import { createRelay } from '../../dist/index.js';
import pino from 'pino';
import { SCHED_FIFO, threadPolicies } from '../thread-policy.mjs';

const log = pino({ level: 'info' }, pino.destination({ dest: 1, sync: true }));
const relay = createRelay({ port: 0, host: '127.0.0.1', workers: 2, workerRealtimePriority: 7, rtcBindAddress: '127.0.0.1', metrics: false }, log);
const { port } = await relay.listen();
const fifoThreads = [...threadPolicies().values()].filter((p) => p.policy === SCHED_FIFO).length;
const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
process.stdout.write(JSON.stringify({ event: 'started', fifoThreads, answered: res !== undefined && res.status === 200 }) + '\n');
await relay.close();
process.exit(0);
