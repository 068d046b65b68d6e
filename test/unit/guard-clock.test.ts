import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, seededRandom, systemClock } from '../../src/hub/guard/clock.js';
import { MAX_TIMER_MS, timerDelay } from '../../src/timer-delay.js';

test('ManualClock fires timers in due order, each at its own due time', () => {
  const clock = new ManualClock(1000);
  const fired: Array<[string, number]> = [];
  clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
  clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
  clock.setTimeout(() => fired.push(['a2', clock.now()]), 10);
  clock.setTimeout(() => fired.push(['late', clock.now()]), 100);
  clock.advance(50);
  assert.deepEqual(fired, [['a', 1010], ['a2', 1010], ['b', 1020]]);
  assert.equal(clock.now(), 1050);
  assert.equal(clock.pendingTimers(), 1);
  assert.equal(clock.nextTimerAt(), 1100);
});

test('ManualClock fires timers scheduled by timers within the same advance, and honours clearTimeout', () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  const cancelled = clock.setTimeout(() => fired.push(-1), 5);
  clock.setTimeout(() => {
    fired.push(clock.now());
    clock.setTimeout(() => fired.push(clock.now()), 10);
  }, 10);
  clock.clearTimeout(cancelled);
  clock.advance(25);
  assert.deepEqual(fired, [10, 20]);
  assert.equal(clock.pendingTimers(), 0);
});

test('ManualClock.advanceAsync lets promise chains schedule further timers inside the span', async () => {
  const clock = new ManualClock(0);
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
  const seen: number[] = [];
  const chain = (async () => {
    await sleep(10);
    seen.push(clock.now());
    await sleep(10);
    seen.push(clock.now());
  })();
  await clock.advanceAsync(30);
  await chain;
  assert.deepEqual(seen, [10, 20]);
  assert.equal(clock.now(), 30);
});

test('seededRandom is reproducible and within [0, 1)', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const c = seededRandom(43);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean > 0.45 && mean < 0.55, `mean ${mean}`);
});

test('systemClock reads real time and its timers can be cleared', () => {
  const before = Date.now();
  assert.ok(systemClock.now() >= before);
  const handle = systemClock.setTimeout(() => assert.fail('cleared timer fired'), 1);
  systemClock.clearTimeout(handle);
});

test('a delay longer than a timer holds waits the longest it can, not 1 ms; a negative or NaN one is 0', async () => {
  assert.equal(timerDelay(3_000_000_000), MAX_TIMER_MS);
  assert.equal(timerDelay(Number.POSITIVE_INFINITY), MAX_TIMER_MS);
  assert.equal(timerDelay(-5), 0);
  assert.equal(timerDelay(Number.NaN), 0);
  assert.equal(timerDelay(1_500), 1_500);
  // The system clock arms through it: a 25-day timer has not fired after the next turn of the event loop.
  let fired = false;
  const handle = systemClock.setTimeout(() => (fired = true), 25 * 86_400_000);
  await new Promise((resolve) => setTimeout(resolve, 20));
  systemClock.clearTimeout(handle);
  assert.equal(fired, false);
});

test('ManualClock.stepWall moves the wall clock only: monotonic time and timers go on as before', () => {
  const clock = new ManualClock(1_000_000);
  const fired: number[] = [];
  clock.setTimeout(() => fired.push(clock.monotonic()), 100);
  clock.stepWall(-3_600_000);
  assert.equal(clock.now(), 1_000_000 - 3_600_000);
  assert.equal(clock.monotonic(), 1_000_000);
  assert.equal(clock.nextTimerAt(), 1_000_100 - 3_600_000);
  clock.advance(100);
  assert.deepEqual(fired, [1_000_100]);
  assert.equal(clock.now(), 1_000_100 - 3_600_000);
});
