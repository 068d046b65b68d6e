import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, seededRandom } from '../../src/hub/guard/clock.js';
import { RateLimiter, describeRate, describeWait, rateLimitedError } from '../../src/hub/guard/rate-limit.js';

test('a bucket allows a burst of `capacity`, then refuses with the exact time until the next token', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ limit: { capacity: 5, refillPerSecond: 2 }, clock });
  for (let i = 0; i < 5; i++) assert.deepEqual(limiter.tryTake('alice'), { ok: true, remaining: 4 - i });
  assert.deepEqual(limiter.tryTake('alice'), { ok: false, retryAfterMs: 500 });
  clock.advance(499);
  assert.deepEqual(limiter.tryTake('alice'), { ok: false, retryAfterMs: 1 });
  clock.advance(1);
  assert.deepEqual(limiter.tryTake('alice'), { ok: true, remaining: 0 });
});

test('refill is proportional to elapsed time and never exceeds capacity', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ limit: { capacity: 10, refillPerSecond: 4 }, clock });
  for (let i = 0; i < 10; i++) assert.equal(limiter.tryTake('a').ok, true);
  clock.advance(750); // 3 tokens
  assert.deepEqual(limiter.snapshot(), [{ identity: 'a', tokens: 3, capacity: 10, refillPerSecond: 4 }]);
  assert.deepEqual(limiter.tryTake('a', 3), { ok: true, remaining: 0 });
  clock.advance(3_600_000);
  assert.deepEqual(limiter.tryTake('a'), { ok: true, remaining: 9 }, 'an hour of refill still caps at capacity');
});

test('taking several tokens at once: retryAfter covers the whole shortfall', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ limit: { capacity: 4, refillPerSecond: 2 }, clock });
  assert.equal(limiter.tryTake('a', 3).ok, true);
  assert.deepEqual(limiter.tryTake('a', 3), { ok: false, retryAfterMs: 1000 });
  clock.advance(1000);
  assert.deepEqual(limiter.tryTake('a', 3), { ok: true, remaining: 0 });
  assert.throws(() => limiter.tryTake('a', 5), RangeError, 'more than capacity can never succeed');
  assert.throws(() => limiter.tryTake('a', 0), RangeError);
});

test('identities have independent buckets; per-identity limits apply and a lowered capacity clamps', () => {
  const clock = new ManualClock();
  let bobCapacity = 10;
  const limiter = new RateLimiter({
    limit: { capacity: 1, refillPerSecond: 1 },
    limitFor: (id) => (id === 'bob' ? { capacity: bobCapacity, refillPerSecond: 1 } : undefined),
    clock,
  });
  assert.equal(limiter.tryTake('alice').ok, true);
  assert.equal(limiter.tryTake('alice').ok, false);
  for (let i = 0; i < 10; i++) assert.equal(limiter.tryTake('bob').ok, true, `bob #${i}`);
  clock.advance(5000); // bob back to 5
  bobCapacity = 2; // config reload lowers bob's burst
  assert.deepEqual(limiter.tryTake('bob'), { ok: true, remaining: 1 });
});

test('memory stays bounded: fully refilled buckets are forgotten, and maxIdentities caps a flood', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ limit: { capacity: 2, refillPerSecond: 1 }, clock, maxIdentities: 1000 });
  for (let i = 0; i < 500; i++) limiter.tryTake(`user-${i}`);
  assert.equal(limiter.size, 500);
  clock.advance(1000); // every bucket is full again
  limiter.tryTake('late');
  assert.equal(limiter.size, 1, 'refilled buckets are identical to fresh ones, so they are dropped');

  const tiny = new RateLimiter({ limit: { capacity: 2, refillPerSecond: 1 }, clock, maxIdentities: 3 });
  for (let i = 0; i < 10; i++) tiny.tryTake(`flood-${i}`);
  assert.equal(tiny.size, 3);
  assert.deepEqual(tiny.snapshot().map((e) => e.identity), ['flood-7', 'flood-8', 'flood-9']);
});

test('property: grants never exceed capacity + refill·elapsed, and a retry at retryAfterMs succeeds (seeded)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = seededRandom(seed);
    const clock = new ManualClock();
    const start = clock.now();
    const limit = { capacity: 1 + Math.floor(random() * 10), refillPerSecond: 0.5 + random() * 5 };
    const limiter = new RateLimiter({ limit, clock });
    let granted = 0;
    for (let step = 0; step < 2000; step++) {
      clock.advance(Math.floor(random() * 300));
      const n = 1 + Math.floor(random() * Math.min(3, limit.capacity));
      const result = limiter.tryTake('x', n);
      if (result.ok) {
        granted += n;
      } else if (random() < 0.5) {
        clock.advance(result.retryAfterMs);
        const again = limiter.tryTake('x', n);
        assert.equal(again.ok, true, `seed ${seed} step ${step}: retry at the promised time must succeed`);
        granted += n;
      }
      const elapsedS = (clock.now() - start) / 1000;
      assert.ok(granted <= limit.capacity + limit.refillPerSecond * elapsedS + 1e-6, `seed ${seed} step ${step}: over-granted`);
    }
  }
});

test('rateLimitedError names the identity, the limit and the retry time', () => {
  const err = rateLimitedError('alice', { capacity: 10, refillPerSecond: 0.5 }, 1200);
  assert.equal(err.code, 'RATE_LIMITED');
  assert.equal(err.message, 'Rate limit reached for "alice" (bursts of 10 calls, then 30 per minute). Retry after ~1200 ms.');
  assert.equal(err.details?.['retryAfterMs'], 1200);
});

test('invalid limits are rejected at construction', () => {
  assert.throws(() => new RateLimiter({ limit: { capacity: 0, refillPerSecond: 1 } }), RangeError);
  assert.throws(() => new RateLimiter({ limit: { capacity: 1, refillPerSecond: 0 } }), RangeError);
  assert.throws(() => new RateLimiter({ limit: { capacity: 1, refillPerSecond: Number.POSITIVE_INFINITY } }), RangeError);
});

test('a wall clock stepped back (NTP, a restored VM) does not freeze refill until it catches up', () => {
  let now = Date.UTC(2026, 10, 21, 14, 0, 0);
  const clock = { now: () => now, setTimeout: () => undefined, clearTimeout: () => {} };
  const limiter = new RateLimiter({ limit: { capacity: 2, refillPerSecond: 1 }, clock });
  assert.equal(limiter.tryTake('alice').ok, true);
  assert.equal(limiter.tryTake('alice').ok, true);
  assert.equal(limiter.tryTake('alice').ok, false);
  now -= 3_600_000; // the clock steps back an hour
  assert.equal(limiter.tryTake('alice').ok, false, 'still empty');
  now += 1_000; // one real second later
  // Before, the bucket kept its last time (an hour ahead) and refilled nothing for an hour: alice locked out.
  const after = limiter.tryTake('alice');
  assert.equal(after.ok, true, JSON.stringify(after));
});

test('refill is measured on the monotonic clock: a wall clock stepped forward an hour does not refill an emptied bucket', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ limit: { capacity: 3, refillPerSecond: 1 }, clock });
  for (let i = 0; i < 3; i++) assert.equal(limiter.tryTake('alice').ok, true);
  clock.stepWall(3_600_000);
  const refused = limiter.tryTake('alice');
  assert.equal(refused.ok, false, 'a forward step handed out a fresh burst');
  clock.advance(1_000);
  assert.equal(limiter.tryTake('alice').ok, true, 'a second of elapsed time refills one token');
});

test('a slow rate is told in the unit that keeps it whole, and a long wait in minutes, hours or days', () => {
  // per_second = 1/86400 used to read "0 per hour" and "Retry after ~86400000 ms".
  const daily = rateLimitedError('bot', { capacity: 1, refillPerSecond: 1 / 86400 }, 86_400_000);
  assert.equal(daily.message, 'Rate limit reached for "bot" (bursts of 1 call, then 1 per day). Retry after ~24 h.');
  assert.equal(daily.details?.['retryAfterMs'], 86_400_000);
  assert.equal(describeRate(2.5), '2.5 per second');
  assert.equal(describeRate(0.5), '30 per minute');
  assert.equal(describeRate(1 / 600), '6 per hour');
  assert.equal(describeRate(1 / 7200), '12 per day');
  assert.equal(describeRate(1 / (86400 * 7)), '1 every 7 days');
  assert.doesNotMatch(describeRate(1e-9), /\b0 per/);
  assert.equal(describeWait(250), '250 ms');
  assert.equal(describeWait(9_999), '9999 ms');
  assert.equal(describeWait(45_000), '45 s');
  assert.equal(describeWait(600_000), '10 min');
  assert.equal(describeWait(5 * 3_600_000), '5 h');
  assert.equal(describeWait(10 * 86_400_000), '10 days');
});
