// Rate and size limits (ts/access/limits.ts) on an injected clock.
import test from 'ava';
import { HttpError } from '../dist/ops/errors.js';
import { RateLimitError, assertBodySize, clientKey, createConcurrencyLimiter, createRateLimiter } from '../dist/access/limits.js';

function clock(start = 1000) {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('token bucket: a burst, then the sustained rate, per key', (t) => {
  const c = clock();
  const rl = createRateLimiter({ ratePerSec: 2, burst: 5, now: c.now });
  for (let i = 0; i < 5; i++) t.true(rl.take('1.2.3.4').allowed, `burst ${i}`);
  const refused = rl.take('1.2.3.4');
  t.false(refused.allowed);
  t.is(refused.retryAfterMs, 500); // one token at 2/s
  t.true(rl.take('5.6.7.8').allowed, 'another address has its own bucket');
  c.advance(499);
  t.false(rl.take('1.2.3.4').allowed);
  c.advance(1);
  t.true(rl.take('1.2.3.4').allowed);
  t.false(rl.take('1.2.3.4').allowed);
  // Over 10 s at 2/s: 20 more, never more than the burst at once.
  let allowed = 0;
  for (let ms = 0; ms < 10000; ms += 50) {
    c.advance(50);
    if (rl.take('1.2.3.4').allowed) allowed++;
  }
  t.true(allowed >= 19 && allowed <= 20, `allowed ${allowed}`);
});

test('a quiet key refills to the burst, not beyond', (t) => {
  const c = clock();
  const rl = createRateLimiter({ ratePerSec: 10, burst: 3, now: c.now });
  rl.take('a', 3);
  c.advance(3600_000);
  const d = rl.take('a');
  t.true(d.allowed);
  t.is(d.remaining, 2);
});

test('cost above the tokens held is refused with the wait for all of them', (t) => {
  const c = clock();
  const rl = createRateLimiter({ ratePerSec: 4, burst: 4, now: c.now });
  t.true(rl.take('a', 3).allowed);
  const d = rl.take('a', 3);
  t.false(d.allowed);
  t.is(d.retryAfterMs, 500); // 1 left, 2 more at 4/s
  t.is(d.remaining, 1, 'a refused take does not spend tokens');
});

test('consume throws a 429 with Retry-After seconds and a message naming the limit', (t) => {
  const c = clock();
  const rl = createRateLimiter({ ratePerSec: 0.5, burst: 1, now: c.now });
  rl.consume('9.9.9.9', 'new sessions');
  const err = t.throws(() => rl.consume('9.9.9.9', 'new sessions'), { instanceOf: RateLimitError });
  t.true(err instanceof HttpError);
  t.is(err.status, 429);
  t.is(err.retryAfterSec, 2);
  t.regex(err.message, /too many new sessions from 9\.9\.9\.9: at most 0\.5\/s \(burst 1\); retry in 2 s/);
});

test('memory is bounded: the least recently seen key is forgotten first', (t) => {
  const c = clock();
  const rl = createRateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 3, now: c.now });
  rl.take('a');
  rl.take('b');
  rl.take('c');
  t.false(rl.take('a').allowed); // touches a: b is now the oldest
  rl.take('d'); // evicts b
  t.is(rl.size, 3);
  t.false(rl.take('a').allowed, 'a was kept (recently used) and is still empty');
  t.true(rl.take('b').allowed, 'b was forgotten and starts full');
  for (let i = 0; i < 10000; i++) rl.take(`spray-${i}`);
  t.is(rl.size, 3);
});

test('bad options are refused', (t) => {
  t.throws(() => createRateLimiter({ ratePerSec: 0 }));
  t.throws(() => createRateLimiter({ ratePerSec: Number.NaN }));
  t.throws(() => createRateLimiter({ ratePerSec: 1, burst: 0.5 }));
  t.throws(() => createRateLimiter({ ratePerSec: 1, maxKeys: 0 }));
});

test('concurrency limiter: at most max per key; release is idempotent', (t) => {
  const cl = createConcurrencyLimiter(2);
  const r1 = cl.acquire('k', 'sessions');
  const r2 = cl.acquire('k', 'sessions');
  const err = t.throws(() => cl.acquire('k', 'sessions'), { instanceOf: RateLimitError });
  t.regex(err.message, /at most 2 at a time/);
  cl.acquire('other', 'sessions');
  r1();
  r1();
  t.is(cl.count('k'), 1, 'double release freed one slot only');
  const r3 = cl.acquire('k', 'sessions');
  t.throws(() => cl.acquire('k', 'sessions'));
  r2();
  r3();
  t.is(cl.count('k'), 0);
});

test('clientKey: IPv4 as is, mapped IPv4 unwrapped, IPv6 by /64', (t) => {
  t.is(clientKey('203.0.113.7'), '203.0.113.7');
  t.is(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
  t.is(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.is(clientKey('2001:0DB8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  t.is(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.is(clientKey('::1'), '0:0:0:0::/64');
  t.is(clientKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64');
  t.is(clientKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
});

test('assertBodySize: 413 over the limit, 400 for a nonsense length, nothing otherwise', (t) => {
  t.notThrows(() => assertBodySize(65536, 65536));
  t.notThrows(() => assertBodySize(undefined, 10));
  t.notThrows(() => assertBodySize('100', 1000));
  const big = t.throws(() => assertBodySize('65537', 65536), { instanceOf: HttpError });
  t.is(big.status, 413);
  t.regex(big.message, /65537 bytes; at most 65536/);
  t.is(t.throws(() => assertBodySize('12abc', 100)).status, 400);
  t.is(t.throws(() => assertBodySize(-1, 100)).status, 400);
});
