// Random values for session identifiers (ICE credentials, session ids, sess-id), drawn from a
// buffer of the CSPRNG's output filled 4 KiB at a time: a randomBytes() call per value cost
// 5-8 µs on this machine, several times per join. Every byte is handed out once.
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let at = pool.length;

function take(n: number): number {
  if (n > pool.length) throw new RangeError('random-pool: at most 4096 bytes at once');
  if (at + n > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  const start = at;
  at += n;
  return start;
}

/** `bytes` random bytes as lowercase hex (2 × bytes characters). */
export function randomHex(bytes: number): string {
  const i = take(bytes);
  return pool.toString('hex', i, i + bytes);
}

/** A random integer in [0, 2^48). */
export function randomUint48(): number {
  return pool.readUIntBE(take(6), 6);
}
