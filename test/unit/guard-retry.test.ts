import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnowmuxError, isSnowmuxError } from '../../src/errors.js';
import { ManualClock, seededRandom } from '../../src/hub/guard/clock.js';
import { backoffDelay, withRetry, type RetryInfo } from '../../src/hub/guard/retry.js';

const transient = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs a retry loop to completion on a ManualClock, firing backoff timers as they are scheduled. */
async function drive<T>(clock: ManualClock, run: Promise<T>): Promise<T> {
  let settled = false;
  const watched = run.finally(() => {
    settled = true;
  });
  watched.catch(() => {});
  for (let turns = 0; !settled && turns < 10_000; turns++) {
    const next = clock.nextTimerAt();
    if (next === undefined) await flush();
    else await clock.advanceAsync(next - clock.now());
  }
  return watched;
}

test('a success on the first attempt is returned without retrying', async () => {
  let calls = 0;
  const result = await withRetry(async () => ++calls, { readOnly: true, clock: new ManualClock() });
  assert.equal(result, 1);
  assert.equal(calls, 1);
});

test('transient failures are retried with backoff until success', async () => {
  const clock = new ManualClock();
  const attempts: Array<{ attempt: number; at: number }> = [];
  const retries: RetryInfo[] = [];
  const run = withRetry(
    async (attempt) => {
      attempts.push({ attempt, at: clock.now() });
      if (attempt < 3) throw transient();
      return 'rows';
    },
    { readOnly: true, retries: 5, baseMs: 100, maxMs: 1000, clock, random: () => 0.5, onRetry: (info) => retries.push(info) },
  );
  assert.equal(await drive(clock, run), 'rows');
  assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
  assert.deepEqual(retries.map((r) => r.delayMs), [50, 100]); // half of 100, half of 200
  assert.equal(attempts[1]!.at - attempts[0]!.at, 50);
  assert.equal(attempts[2]!.at - attempts[1]!.at, 100);
});

test('the retry count is bounded and the last error is rethrown unchanged', async () => {
  const clock = new ManualClock();
  let calls = 0;
  let last: Error | undefined;
  const run = withRetry(
    async () => {
      calls++;
      last = transient();
      throw last;
    },
    { readOnly: true, retries: 3, clock, random: seededRandom(7) },
  );
  await assert.rejects(drive(clock, run), (err: unknown) => err === last);
  assert.equal(calls, 4);
  assert.equal(clock.pendingTimers(), 0);
});

test('the total time budget bounds retries even when the count would allow more', async () => {
  const clock = new ManualClock();
  const starts: number[] = [];
  const run = withRetry(
    async () => {
      starts.push(clock.now());
      clock.advance(400); // each attempt itself takes 400 ms
      throw transient();
    },
    { readOnly: true, retries: 100, baseMs: 1000, maxMs: 1000, totalBudgetMs: 3000, clock, random: () => 0.999 },
  );
  await assert.rejects(drive(clock, run), (err: unknown) => (err as { code?: string }).code === 'ECONNRESET');
  // Attempts start at 0, 1399, 2798; a 4th would start at 4197 > 3000.
  assert.deepEqual(starts.map((s) => s - starts[0]!), [0, 1399, 2798]);
  assert.ok(clock.now() - starts[0]! <= 3000 + 400, 'no attempt started past the budget');
});

test('non-retryable failures are not retried: SQL errors, auth failures, the hub timeout, cancellation', async () => {
  const errors: unknown[] = [
    new SnowmuxError('SQL_ERROR', 'syntax error'),
    new SnowmuxError('AUTH_FAILED', 'token expired and could not be renewed'),
    new SnowmuxError('QUERY_TIMEOUT', 'took too long'),
    new SnowmuxError('QUERY_CANCELLED', 'cancelled'),
    new SnowmuxError('WAREHOUSE_CIRCUIT_OPEN', 'paused'),
    new TypeError('bug'),
  ];
  for (const error of errors) {
    const clock = new ManualClock();
    let calls = 0;
    const run = withRetry(
      async () => {
        calls++;
        throw error;
      },
      { readOnly: true, retries: 5, clock },
    );
    await assert.rejects(drive(clock, run), (err: unknown) => err === error);
    assert.equal(calls, 1, `${String(error)} must not be retried`);
  }
});

test('a statement not declared read-only is never retried, even on a transient failure', async () => {
  const clock = new ManualClock();
  let calls = 0;
  const run = withRetry(
    async () => {
      calls++;
      throw transient();
    },
    { readOnly: false, retries: 5, clock },
  );
  await assert.rejects(drive(clock, run));
  assert.equal(calls, 1);
});

test('a custom isRetryable decides', async () => {
  const clock = new ManualClock();
  let calls = 0;
  const run = withRetry(
    async () => {
      calls++;
      throw new SnowmuxError('POOL_EXHAUSTED', 'all 4 connections busy');
    },
    { readOnly: true, retries: 2, clock, isRetryable: (err) => isSnowmuxError(err, 'POOL_EXHAUSTED') },
  );
  await assert.rejects(drive(clock, run));
  assert.equal(calls, 3);
});

test('aborting during a backoff stops at once: no further attempt, timer cleared', async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  let calls = 0;
  const run = withRetry(
    async () => {
      calls++;
      throw transient();
    },
    { readOnly: true, retries: 5, baseMs: 10_000, maxMs: 10_000, clock, random: () => 0.9, signal: controller.signal },
  );
  run.catch(() => {});
  await flush();
  assert.equal(calls, 1);
  assert.equal(clock.pendingTimers(), 1, 'waiting in backoff');
  controller.abort();
  await assert.rejects(run, (err: unknown) => isSnowmuxError(err, 'QUERY_CANCELLED'));
  assert.equal(clock.pendingTimers(), 0);
  clock.advance(60_000);
  await flush();
  assert.equal(calls, 1);
});

test('an already-aborted signal runs nothing; an abort during an attempt is not retried', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => ++calls, { readOnly: true, signal: AbortSignal.abort(), clock: new ManualClock() }),
    (err: unknown) => isSnowmuxError(err, 'QUERY_CANCELLED'),
  );
  assert.equal(calls, 0);

  const controller = new AbortController();
  const failure = transient();
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        controller.abort();
        throw failure;
      },
      { readOnly: true, retries: 5, signal: controller.signal, clock: new ManualClock() },
    ),
    (err: unknown) => err === failure,
  );
  assert.equal(calls, 1);
});

test('full jitter: delays stay within [0, min(maxMs, baseMs·2^(n−1))) and spread across the range (seeded)', () => {
  const random = seededRandom(2026);
  for (let attempt = 1; attempt <= 10; attempt++) {
    const cap = Math.min(2000, 100 * 2 ** (attempt - 1));
    const samples = Array.from({ length: 2000 }, () => backoffDelay(attempt, 100, 2000, random));
    for (const d of samples) {
      assert.ok(Number.isInteger(d) && d >= 0 && d < cap, `attempt ${attempt}: ${d} outside [0, ${cap})`);
    }
    const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
    assert.ok(Math.abs(mean - cap / 2) < cap * 0.05, `attempt ${attempt}: mean ${mean} not near ${cap / 2}`);
    assert.ok(Math.min(...samples) < cap * 0.05 && Math.max(...samples) > cap * 0.95, `attempt ${attempt}: jitter not spread`);
  }
  assert.equal(backoffDelay(3, 100, 2000, () => 0), 0);
  assert.equal(backoffDelay(3, 100, 2000, () => 1), 399, 'a random() of exactly 1 stays below the cap');
});

test('invalid options are rejected', async () => {
  await assert.rejects(withRetry(async () => 1, { readOnly: true, retries: -1 }), RangeError);
  await assert.rejects(withRetry(async () => 1, { readOnly: true, totalBudgetMs: Number.NaN }), RangeError);
});

test('the time budget is measured on the monotonic clock: a wall clock stepped forward during an attempt does not spend it', async () => {
  const clock = new ManualClock();
  const run = withRetry(
    async (attempt) => {
      if (attempt === 1) {
        clock.stepWall(3_600_000); // NTP steps the wall clock an hour forward while the first attempt runs
        throw transient();
      }
      return 'rows';
    },
    { readOnly: true, retries: 2, baseMs: 100, maxMs: 1000, totalBudgetMs: 10_000, clock, random: () => 0.5 },
  );
  assert.equal(await drive(clock, run), 'rows', 'the retry was given up as if an hour had passed');
});
