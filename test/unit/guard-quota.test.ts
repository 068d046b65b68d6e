import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSnowmuxError } from '../../src/errors.js';
import { ManualClock } from '../../src/hub/guard/clock.js';
import { QuotaTracker } from '../../src/hub/guard/quota.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);

function refusal(fn: () => void): { code: string; message: string; details: Record<string, unknown> | undefined } {
  try {
    fn();
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'QUOTA_EXCEEDED'), `expected QUOTA_EXCEEDED, got ${String(err)}`);
    return { code: err.code, message: err.message, details: err.details };
  }
  assert.fail('expected a QUOTA_EXCEEDED refusal');
}

test('queries per hour: refused once used up, with the window reset time; allowed again in the next window', () => {
  const clock = new ManualClock(at('2026-11-21T14:37:12Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 1000 }], clock });
  for (let i = 0; i < 1000; i++) {
    quotas.check('alice');
    quotas.record('alice', { queries: 1 });
  }
  const err = refusal(() => quotas.check('alice'));
  assert.equal(err.message, 'Quota exceeded for "alice": 1000 queries per hour. The window resets at 2026-11-21T15:00:00Z.');
  assert.equal(err.details?.['resetAt'], '2026-11-21T15:00:00Z');
  assert.equal(err.details?.['retryAfterMs'], at('2026-11-21T15:00:00Z') - clock.now());
  quotas.check('bob'); // other identities are unaffected

  clock.advance(at('2026-11-21T14:59:59.999Z') - clock.now());
  refusal(() => quotas.check('alice'));
  clock.advance(1);
  quotas.check('alice');
  assert.equal(quotas.entry('alice').windows[0]!.used.queries, 0);
});

test('usage recorded just before a boundary does not count after it', () => {
  const clock = new ManualClock(at('2026-11-21T14:59:59Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 2 }], clock });
  quotas.record('alice', { queries: 2 });
  refusal(() => quotas.check('alice'));
  clock.advance(1000);
  quotas.check('alice');
  quotas.record('alice', { queries: 1 });
  const [window] = quotas.entry('alice').windows;
  assert.equal(window!.windowStart, '2026-11-21T15:00:00Z');
  assert.equal(window!.resetsAt, '2026-11-21T16:00:00Z');
  assert.deepEqual(window!.remaining, { queries: 1, rows: null, bytes: null });
});

test('rows and bytes per day: the call that crosses finishes, the next one is refused until UTC midnight', () => {
  const clock = new ManualClock(at('2026-11-21T09:00:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: DAY, rows: 1000, bytes: 1024 * 1024 }], clock });
  quotas.record('alice', { queries: 1, rows: 999, bytes: 1000 });
  quotas.check('alice');
  quotas.record('alice', { queries: 1, rows: 5, bytes: 1000 });
  const rows = refusal(() => quotas.check('alice'));
  assert.equal(rows.message, 'Quota exceeded for "alice": 1000 rows returned per day. The window resets at 2026-11-22T00:00:00Z.');
  assert.equal(rows.details?.['metric'], 'rows');
  assert.equal(rows.details?.['used'], 1004);

  quotas.record('carol', { queries: 1, rows: 1, bytes: 2 * 1024 * 1024 });
  const bytes = refusal(() => quotas.check('carol'));
  assert.equal(bytes.message, 'Quota exceeded for "carol": 1 MiB returned per day. The window resets at 2026-11-22T00:00:00Z.');

  clock.advance(at('2026-11-22T00:00:00Z') - clock.now());
  quotas.check('alice');
  quotas.check('carol');
});

test('with hourly and daily budgets both spent, the refusal names the one that resets last', () => {
  const clock = new ManualClock(at('2026-11-21T14:10:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 5 }, { windowMs: DAY, queries: 5 }], clock });
  quotas.record('alice', { queries: 5 });
  const both = refusal(() => quotas.check('alice'));
  assert.match(both.message, /5 queries per day\. The window resets at 2026-11-22T00:00:00Z\.$/);
  clock.advance(HOUR); // new hour, same day: the daily budget still refuses
  const daily = refusal(() => quotas.check('alice'));
  assert.match(daily.message, /per day/);
});

test('a 15-minute window is aligned to the quarter hour and described as such', () => {
  const clock = new ManualClock(at('2026-11-21T14:20:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: 15 * 60_000, queries: 1 }], clock });
  quotas.record('alice', { queries: 1 });
  assert.equal(
    refusal(() => quotas.check('alice')).message,
    'Quota exceeded for "alice": 1 query per 15 minutes. The window resets at 2026-11-21T14:30:00Z.',
  );
});

test('per-identity rules override the default; no rules means no quota', () => {
  const clock = new ManualClock();
  const quotas = new QuotaTracker({
    rules: [{ windowMs: HOUR, queries: 1 }],
    rulesFor: (id) => (id === 'admin' ? [] : id === 'heavy' ? [{ windowMs: HOUR, queries: 3 }] : undefined),
    clock,
  });
  quotas.record('admin', { queries: 10_000 });
  quotas.check('admin');
  quotas.record('heavy', { queries: 2 });
  quotas.check('heavy');
  quotas.record('heavy', { queries: 1 });
  refusal(() => quotas.check('heavy'));
  quotas.record('default-user', { queries: 1 });
  refusal(() => quotas.check('default-user'));
});

test('snapshot shows used, limits, remaining budget and reset time per identity', () => {
  const clock = new ManualClock(at('2026-11-21T14:00:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 100, rows: 10_000 }], clock });
  quotas.record('bob', { queries: 3, rows: 250, bytes: 4096 });
  quotas.record('alice', { queries: 1, rows: 10, bytes: 100 });
  assert.deepEqual(quotas.snapshot(), [
    {
      identity: 'alice',
      windows: [
        {
          windowMs: HOUR,
          windowStart: '2026-11-21T14:00:00Z',
          resetsAt: '2026-11-21T15:00:00Z',
          used: { queries: 1, rows: 10, bytes: 100 },
          limits: { queries: 100, rows: 10_000, bytes: null },
          remaining: { queries: 99, rows: 9990, bytes: null },
        },
      ],
    },
    {
      identity: 'bob',
      windows: [
        {
          windowMs: HOUR,
          windowStart: '2026-11-21T14:00:00Z',
          resetsAt: '2026-11-21T15:00:00Z',
          used: { queries: 3, rows: 250, bytes: 4096 },
          limits: { queries: 100, rows: 10_000, bytes: null },
          remaining: { queries: 97, rows: 9750, bytes: null },
        },
      ],
    },
  ]);
  assert.deepEqual(quotas.entry('nobody').windows[0]!.remaining, { queries: 100, rows: 10_000, bytes: null });
});

test('identities whose windows have all ended are forgotten once many accumulate', () => {
  const clock = new ManualClock();
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 10 }], clock });
  for (let i = 0; i < 1000; i++) quotas.record(`user-${i}`, { queries: 1 });
  assert.equal(quotas.snapshot().length, 1000);
  clock.advance(HOUR);
  quotas.record('fresh', { queries: 1 });
  quotas.record('fresh2', { queries: 1 });
  assert.deepEqual(quotas.snapshot().map((e) => e.identity), ['fresh', 'fresh2']);
});

test('nonsense usage values are ignored and invalid rules are rejected', () => {
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 1 }], clock: new ManualClock() });
  quotas.record('alice', { queries: Number.NaN, rows: -5 });
  quotas.check('alice');
  assert.throws(() => new QuotaTracker({ rules: [{ windowMs: 0, queries: 1 }] }), RangeError);
  assert.throws(() => new QuotaTracker({ rules: [{ windowMs: HOUR, queries: -1 }] }), RangeError);
});

test("a team hub without Redis counts what the other replicas had used when Redis last answered: an outage gives nobody a fresh budget per replica", () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 25 }], clock });
  quotas.record('gina', { queries: 5 });
  // Redis said the team had used 25 (5 of them here): the other replicas spent 20.
  quotas.noteTeamUsage('gina', HOUR, { queries: 25, rows: 0, bytes: 0 });
  assert.equal(quotas.exceeded('gina')?.code, 'QUOTA_EXCEEDED', 'before, this replica alone allowed 20 more');
  const other = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 25 }], clock });
  other.record('gina', { queries: 5 });
  other.noteTeamUsage('gina', HOUR, { queries: 10, rows: 0, bytes: 0 });
  for (let i = 0; i < 14; i++) other.record('gina', { queries: 1 });
  assert.equal(other.exceeded('gina'), undefined, '5 + 14 here, 5 elsewhere: 24 of 25');
  other.record('gina', { queries: 1 });
  assert.equal(other.exceeded('gina')?.code, 'QUOTA_EXCEEDED');
  // A new window forgets the others' usage with its own.
  clock.advance(HOUR);
  assert.equal(other.exceeded('gina'), undefined);
});

test('usage under a role counts against that role\'s budget only: one identity\'s roles have a budget each', () => {
  const clock = new ManualClock(at('2026-11-21T14:37:12Z'));
  const quotas = new QuotaTracker({ rules: [], rulesFor: (_identity, role) => (role === 'capped' ? [{ windowMs: HOUR, queries: 2 }] : undefined), clock });
  quotas.record('erin', { queries: 1 }, 'capped');
  quotas.record('erin', { queries: 5 }, 'wide'); // no rules: nothing kept, nothing spent of the capped budget
  quotas.check('erin', 'capped');
  quotas.record('erin', { queries: 1 }, 'capped');
  const err = refusal(() => quotas.check('erin', 'capped'));
  assert.match(err.message, /^Quota exceeded for "erin" under role "capped": 2 queries per hour\./);
  assert.equal(err.details?.['role'], 'capped');
  quotas.check('erin', 'wide');
  quotas.check('erin');
  assert.deepEqual(quotas.snapshot().map((e) => [e.identity, e.role, e.windows[0]?.used.queries]), [['erin', 'capped', 2]]);
});

test('reserve counts the query in the same step as the check; refund gives it back only in the window it was counted in', () => {
  const clock = new ManualClock(at('2026-11-21T14:59:58Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 2 }], clock });
  const first = quotas.reserve('alice');
  const second = quotas.reserve('alice');
  const third = quotas.reserve('alice');
  assert.ok('at' in first && 'at' in second);
  assert.ok('refusal' in third && isSnowmuxError(third.refusal, 'QUOTA_EXCEEDED'), 'the third is refused before either of the others settled');
  quotas.refund('alice', first.at); // its statement never ran
  assert.equal(quotas.entry('alice').windows[0]!.used.queries, 1);
  assert.ok('at' in quotas.reserve('alice'));
  // A reservation of the hour that ended is not taken out of the new hour's count.
  clock.advance(3000);
  assert.ok('at' in quotas.reserve('alice'));
  quotas.refund('alice', second.at);
  assert.equal(quotas.entry('alice').windows[0]!.used.queries, 1);
  quotas.refund('alice', clock.now());
  quotas.refund('alice', clock.now());
  assert.equal(quotas.entry('alice').windows[0]!.used.queries, 0, 'never below zero');
});

test("a reload that changes a quota's window carries the usage over: a longer window starts from the kept one it contains, and going back finds every call counted", () => {
  const clock = new ManualClock(at('2026-11-21T05:30:00Z'));
  let rule = { windowMs: HOUR, queries: 10 };
  const quotas = new QuotaTracker({ rules: [], rulesFor: () => [rule], clock });
  for (let i = 0; i < 13; i++) quotas.record('q1', { queries: 1 });
  rule = { windowMs: 2 * HOUR, queries: 10 }; // stricter: 10 per two hours
  assert.equal(quotas.entry('q1').windows[0]!.used.queries, 13, 'the hour used so far lies within the new two-hour window');
  refusal(() => quotas.check('q1'));
  rule = { windowMs: 2 * HOUR, queries: 20 };
  for (let i = 0; i < 4; i++) quotas.record('q1', { queries: 1 });
  rule = { windowMs: HOUR, queries: 100 };
  assert.equal(quotas.entry('q1').windows[0]!.used.queries, 17, 'the hour kept counted the calls made under the two-hour rule');
  // A shorter window is not seeded from a longer one: what fell inside it is not known.
  rule = { windowMs: 15 * 60_000, queries: 100 };
  assert.equal(quotas.entry('q1').windows[0]!.used.queries, 0);
});

/** A room's data, without its retryAfterMs countdown (a function), for deepEqual. */
function plain<T extends { retryAfterMs?: unknown } | undefined>(room: T): Omit<NonNullable<T>, 'retryAfterMs'> | undefined {
  if (room === undefined) return undefined;
  const { retryAfterMs: _countdown, ...data } = room;
  return data;
}

function plainRoom(room: Partial<Record<'rows' | 'bytes', { retryAfterMs?: unknown }>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(room).map(([metric, r]) => [metric, plain(r)]));
}

test('room: the rows and bytes left, the least over every window, with when that window refills', () => {
  const clock = new ManualClock(at('2026-11-21T14:37:12Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, rows: 10, bytes: 5000 }, { windowMs: DAY, rows: 12, queries: 5 }], clock });
  assert.deepEqual(plainRoom(quotas.room('alice')), {
    rows: { left: 10, limit: 10, windowMs: HOUR, resetsAt: at('2026-11-21T15:00:00Z') },
    bytes: { left: 5000, limit: 5000, windowMs: HOUR, resetsAt: at('2026-11-21T15:00:00Z') },
  });
  quotas.record('alice', { rows: 4, bytes: 100 });
  clock.advance(at('2026-11-21T15:05:00Z') - at('2026-11-21T14:37:12Z'));
  // The hour refilled; the day has 8 left, fewer than the hour's 10.
  assert.deepEqual(plain(quotas.room('alice').rows), { left: 8, limit: 12, windowMs: DAY, resetsAt: at('2026-11-22T00:00:00Z') });
  quotas.record('alice', { rows: 50 });
  assert.equal(quotas.room('alice').rows?.left, 0, 'never below zero');
  assert.deepEqual(new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 3 }], clock }).room('alice'), {}, 'no rows or bytes budget: no room to keep to');
});

test("a room's retryAfterMs counts down on the monotonic clock from when it was read: a long statement or a wall-clock step meanwhile does not skew it", () => {
  const clock = new ManualClock(at('2026-11-21T14:37:12Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, rows: 10 }], clock });
  const room = quotas.room('alice').rows!;
  assert.equal(room.retryAfterMs(), at('2026-11-21T15:00:00Z') - at('2026-11-21T14:37:12Z'));
  clock.advance(60_000); // the statement ran a minute
  clock.stepWall(-3 * HOUR); // and the wall clock was set back meanwhile
  assert.equal(room.retryAfterMs(), at('2026-11-21T15:00:00Z') - at('2026-11-21T14:37:12Z') - 60_000);
  clock.advance(HOUR);
  assert.equal(room.retryAfterMs(), 0, 'never negative');
});

test('a wall clock stepped back after the budget is spent keeps the window (no fresh budget) only for as long as it really had left, and says so', () => {
  const clock = new ManualClock(at('2026-11-21T13:30:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 2 }], clock });
  quotas.reserve('alice');
  quotas.reserve('alice');
  clock.stepWall(-3 * HOUR); // the wall clock reads 10:30; the window counted ends in 30 minutes of real time (and a second's slack)
  const err = refusal(() => quotas.check('alice'));
  assert.match(err.message, /The window resets at 2026-11-21T11:00:01Z\.$/, 'the reset time is now plus what the window really has left');
  assert.equal(err.details?.['retryAfterMs'], 30 * 60_000 + 1000);
  const [window] = quotas.entry('alice').windows;
  assert.deepEqual([window!.windowStart, window!.resetsAt, window!.remaining.queries], ['2026-11-21T13:00:00Z', '2026-11-21T11:00:01Z', 0], 'status names the window counted and when it really ends');
  clock.advance(30 * 60_000 + 1000 - 1);
  refusal(() => quotas.check('alice'));
  clock.advance(1); // the announced time: admitted (it was refused until the wall clock read 14:00, three hours on)
  quotas.check('alice');
  assert.equal(quotas.entry('alice').windows[0]!.used.queries, 0);
});

test('a window spent while the wall clock ran ahead does not lock the identity out once the clock is corrected, and every reset time names the window counted', () => {
  const clock = new ManualClock(at('2026-12-06T13:10:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 2 }], clock });
  clock.stepWall(2 * DAY); // a VM resumed with a clock two days ahead
  quotas.reserve('alice');
  quotas.reserve('alice');
  assert.match(refusal(() => quotas.check('alice')).message, /resets at 2026-12-08T14:00:00Z\./);
  clock.stepWall(-2 * DAY); // corrected: 13:10 again
  const err = refusal(() => quotas.check('alice'));
  assert.match(err.message, /resets at 2026-12-06T14:00:01Z\./);
  assert.equal(err.details?.['resetAt'], '2026-12-06T14:00:01Z');
  assert.equal(err.details?.['retryAfterMs'], 50 * 60_000 + 1000);
  const [window] = quotas.entry('alice').windows;
  assert.deepEqual([window!.windowStart, window!.resetsAt], ['2026-12-08T13:00:00Z', '2026-12-06T14:00:01Z']);
  clock.advance(50 * 60_000 + 999);
  refusal(() => quotas.check('alice'));
  clock.advance(1); // at the time given, not two days later
  quotas.check('alice');
});

test('a wall clock that jumps ahead while the monotonic one stands still (a laptop asleep) ends the window at its wall-clock end', () => {
  const clock = new ManualClock(at('2026-11-21T14:50:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 1 }], clock });
  quotas.reserve('alice');
  refusal(() => quotas.check('alice'));
  clock.stepWall(2 * HOUR);
  quotas.check('alice');
});

test('refund finds the window a reservation was counted in across a step of the wall clock', () => {
  const clock = new ManualClock(at('2026-11-21T14:10:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 2 }], clock });
  const reserved = quotas.reserve('alice');
  assert.ok('at' in reserved);
  clock.stepWall(-HOUR);
  quotas.refund('alice', reserved.at);
  assert.equal(quotas.entry('alice').windows[0]!.used.queries, 0);
});

test('the wall and monotonic clocks a little apart (read at different moments) never end a window before its wall-clock end', () => {
  const clock = new ManualClock(at('2026-11-21T14:59:00Z'));
  const quotas = new QuotaTracker({ rules: [{ windowMs: HOUR, queries: 1 }], clock });
  quotas.reserve('alice');
  clock.stepWall(-5); // the wall clock a few ms behind the monotonic one
  clock.advance(60_000); // the monotonic end has passed, the wall clock reads 14:59:59.995
  const err = refusal(() => quotas.check('alice'));
  assert.equal(err.details?.['resetAt'], '2026-11-21T15:00:00Z');
  clock.advance(5);
  quotas.check('alice');
});
