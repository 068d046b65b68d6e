/**
 * The Snowflake pool's logins against a scripted driver: refused credentials are not sent again on every
 * call (one lead login, a growing back-off), interactive logins stay one at a time after the first, and a
 * call waiting for a person is told so. Counting the driver's logins is the point of each test.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POOL } from '../../src/hub/config/config-schema.js';
import type { SnowflakeAuth, SnowflakeProfile } from '../../src/hub/config/profile-types.js';
import { SnowmuxError } from '../../src/errors.js';
import { classifyFailure } from '../../src/hub/guard/failure-kind.js';
import { SnowflakePool, type PoolTimings } from '../../src/hub/warehouse/snowflake/snowflake-pool.js';
import { toSnowmuxError } from '../../src/hub/warehouse/snowflake/snowflake-errors.js';
import type { SfConnection, SnowflakeSdk } from '../../src/hub/warehouse/snowflake/sdk-types.js';

type Answer = { code: string; message: string } | undefined;

/** A driver whose logins wait until the test answers them, one by one, in the order they started. */
class ScriptedSdk {
  started = 0;
  loggedOut = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly waiting: ((answer: Answer) => void)[] = [];
  private readonly watchers: (() => void)[] = [];
  /** Answers every later login at once (undefined: wait for answer()). */
  auto: ((n: number) => Answer) | undefined;

  readonly sdk = {
    createConnection: () => {
      const connection = {
        connect: (done: (err: unknown) => void) => {
          const n = ++this.started;
          this.inFlight++;
          this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
          const settle = (answer: Answer): void => {
            this.inFlight--;
            done(answer === undefined ? undefined : Object.assign(new Error(answer.message), { code: answer.code }));
          };
          if (this.auto !== undefined) queueMicrotask(() => settle(this.auto!(n)));
          else this.waiting.push(settle);
          for (const w of this.watchers.splice(0)) w();
        },
        destroy: (done: () => void) => {
          this.loggedOut++;
          done();
        },
        isValidAsync: () => Promise.resolve(true),
      };
      return connection as unknown as SfConnection;
    },
  } as unknown as SnowflakeSdk;

  /** Resolves once `n` logins have started (not a clock: the driver says so). */
  async startedAtLeast(n: number): Promise<void> {
    while (this.started < n) await new Promise<void>((r) => this.watchers.push(r));
  }

  /** Answers the waiting logins and every later one with success. */
  async answerAll(): Promise<void> {
    this.auto = () => undefined;
    while (this.waiting.length > 0) {
      this.answer(undefined);
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  answer(answer: Answer): void {
    const next = this.waiting.shift();
    assert.ok(next, 'no login is waiting for an answer');
    next(answer);
  }
}

const REFUSED = { code: '390100', message: 'Incorrect username or password was specified.' };

function profile(auth: SnowflakeAuth = { method: 'password', password: 'pw' }, pool: Partial<SnowflakeProfile['pool']> = {}): SnowflakeProfile {
  return {
    name: 'pw',
    account: 'acct',
    user: 'alice',
    auth,
    statementTimeoutMs: 30_000,
    sources: { user: '~/.snowflake/connections.toml [pw]', password: '~/.snowflake/connections.toml [pw]' },
    pool: { ...DEFAULT_POOL, max: 4, acquireTimeoutMs: 5_000, ...pool },
  };
}

/** `now` is the monotonic time; `wall`, if set, how far the wall clock was stepped from it (NTP, a resumed VM). */
function pool(driver: ScriptedSdk, p: SnowflakeProfile, interactive: boolean, clock: { now: number; wall?: number }, timings: Partial<PoolTimings> = {}): SnowflakePool {
  return new SnowflakePool(driver.sdk, p, {}, interactive, {
    validateIdleAfterMs: 60_000,
    validateTimeoutMs: 1_000,
    loginTimeoutMs: 10_000,
    destroyTimeoutMs: 1_000,
    destroyDeferMs: 1_000,
    now: () => clock.now + (clock.wall ?? 0),
    monotonic: () => clock.now,
    ...timings,
  });
}

const never = new AbortController().signal;
const cancelled = (): SnowmuxError => new SnowmuxError('QUERY_CANCELLED', 'cancelled');

test('refused credentials: N calls needing connections cost one failed login, then none until a growing back-off passes', async (t) => {
  const driver = new ScriptedSdk();
  const clock = { now: 1_000_000 };
  const p = pool(driver, profile(), false, clock);
  t.after(() => p.close(100));
  driver.auto = () => undefined;
  const first = await p.acquire(never, cancelled);
  assert.equal(driver.started, 1);
  // The password is changed in Snowflake; the session is gone (expired), so every call needs a new login.
  p.discard(first.connection);
  driver.auto = () => REFUSED;
  const calls = await Promise.allSettled(Array.from({ length: 6 }, () => p.acquire(never, cancelled)));
  for (const c of calls) {
    assert.equal(c.status, 'rejected');
    assert.equal((c.reason as SnowmuxError).code, 'AUTH_FAILED');
    assert.match((c.reason as SnowmuxError).message, /Incorrect username or password.*password \(set by ~\/\.snowflake\/connections\.toml \[pw\]\)/);
  }
  assert.equal(driver.started, 2, 'one failed login answered all six calls');

  // The next calls get the refusal at once, with when the hub tries again and what to fix; no login.
  const held = await p.acquire(never, cancelled).catch((e: SnowmuxError) => e);
  assert.ok(held instanceof SnowmuxError);
  assert.equal(held.code, 'AUTH_FAILED');
  assert.match(held.message, /does not log in with these credentials again before \d\d:\d\d:\d\d UTC \(1 refused login in a row/);
  assert.match(held.message, /password \(set by ~\/\.snowflake\/connections\.toml \[pw\]\)/);
  assert.doesNotMatch(held.message, /network/);
  assert.equal(driver.started, 2);
  assert.equal(p.loginFailure()?.failures, 1, 'only real logins count as failures');

  // After 15 s one login is tried; refused again, the next wait is four times as long.
  clock.now += 15_000;
  await assert.rejects(p.acquire(never, cancelled), { code: 'AUTH_FAILED' });
  assert.equal(driver.started, 3);
  clock.now += 15_000;
  await assert.rejects(p.acquire(never, cancelled), /2 refused logins in a row/);
  assert.equal(driver.started, 3);
  clock.now += 45_000;
  driver.auto = () => undefined; // fixed in Snowflake (the old password is valid again, the user unlocked…)
  const back = await p.acquire(never, cancelled);
  assert.equal(driver.started, 4);
  p.release(back.connection);
  assert.equal(p.loginFailure(), null);
});

test('a login leads: calls that need connections at once wait for its answer, then log in side by side', async (t) => {
  const driver = new ScriptedSdk();
  const p = pool(driver, profile(), false, { now: 0 });
  t.after(() => p.close(100));
  const calls = Array.from({ length: 3 }, () => p.acquire(never, cancelled));
  await driver.startedAtLeast(1);
  assert.equal(driver.inFlight, 1, 'the others wait for the first login');
  driver.answer(undefined);
  await driver.startedAtLeast(3);
  assert.equal(driver.inFlight, 2, 'after it worked, the rest log in at once');
  driver.answer(undefined);
  driver.answer(undefined);
  for (const c of await Promise.all(calls)) p.release(c.connection);
});

test('interactive logins stay one at a time after the first succeeded; a waiting call is told a person is asked, and a late sign-in is kept', async (t) => {
  const driver = new ScriptedSdk();
  const auth: SnowflakeAuth = { method: 'mfa', password: 'pw' };
  const p = pool(driver, profile(auth, { acquireTimeoutMs: 20 }), true, { now: 0 }, { interactiveWaitMs: 60 });
  t.after(() => p.close(100));
  driver.auto = () => undefined;
  const first = await p.acquire(never, cancelled);
  assert.equal(driver.started, 1);
  // The cached MFA token expired: the pool's connections need new logins, each of which may push.
  p.discard(first.connection);
  driver.auto = undefined;
  const waiting = Array.from({ length: 3 }, () => p.acquire(never, cancelled).catch((e: SnowmuxError) => e));
  await driver.startedAtLeast(2);
  // Nobody approves in time: every call hears what it waits for (after the longer interactive wait), not "check the network".
  const outcomes = await Promise.all(waiting);
  for (const o of outcomes) {
    assert.ok(o instanceof SnowmuxError, String(o));
    assert.match(o.message, /^Waiting for you to approve the MFA push \(Duo\) for user "alice" on your device \(profile "pw"\)/);
    assert.doesNotMatch(o.message, /network/);
    assert.equal(classifyFailure(o), 'user', 'a person taking their time is no outage');
  }
  assert.equal(driver.started, 2, 'one push, not one per call');
  assert.equal(driver.maxInFlight, 1);
  // Approved late: the login is kept, and the next call gets it without another push.
  driver.answer(undefined);
  const late = await p.acquire(never, cancelled);
  p.release(late.connection);
  assert.ok(driver.started <= 3, `logins: ${driver.started}`);
  // The logins queued behind it run one after another, each after the previous cached its token.
  await driver.answerAll();
  assert.equal(driver.maxInFlight, 1);
});

test('refused credentials are no outage: the breaker does not count them', () => {
  const p = profile();
  for (const code of ['390100', '390144', '390303', '390318', '390422']) {
    const err = toSnowmuxError(Object.assign(new Error('refused'), { code }), { profile: p, phase: 'login' });
    assert.equal(err.code, 'AUTH_FAILED', code);
    assert.equal(classifyFailure(err), 'user', code);
  }
  const locked = toSnowmuxError(Object.assign(new Error('User temporarily locked. Contact your local system administrator.'), { code: '390102' }), { profile: p, phase: 'login' });
  assert.equal(locked.code, 'AUTH_FAILED');
  assert.equal(classifyFailure(locked), 'user');
});

/** Turns of the event loop: a promise that settles without outside help has settled after a few. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

test('close() waits for a login in flight and logs out the session it opens: none is left open after the pool closed', async () => {
  const driver = new ScriptedSdk();
  const p = pool(driver, profile(), false, { now: 1_000_000 });
  const acquiring = p.acquire(never, cancelled).catch((e: unknown) => e);
  await driver.startedAtLeast(1);
  let closed = false;
  const closing = p.close(60_000).then(() => {
    closed = true;
  });
  await turns(20);
  assert.equal(closed, false, 'close() returned while the driver was still logging in');
  // The driver cannot abort a login: it finishes after close() began, and its session is logged out at once.
  driver.answer(undefined);
  await closing;
  assert.equal(driver.loggedOut, 1, 'the late login was logged out before close() returned');
  assert.equal(p.stats().loggedIn, 0);
  const failed = await acquiring;
  assert.ok(failed instanceof SnowmuxError && failed.code === 'WAREHOUSE_CLOSED', String(failed));
  await assert.rejects(p.acquire(never, cancelled), { code: 'WAREHOUSE_CLOSED' });
  assert.equal(driver.started, 1, 'no login after close');
});

/** Steps what Date.now() answers by `stepMs` from now on, as NTP or a resumed VM would; the pool's monotonic clock runs on. */
function stepWallClock(t: TestContext, clock: { wall?: number }, stepMs: number): void {
  const real = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => real() + stepMs);
  clock.wall = stepMs;
}

test('the back-off after refused credentials runs on the monotonic clock: a wall clock stepped back 3 h neither stretches it nor shows a time 3 h away', async (t) => {
  const driver = new ScriptedSdk();
  const clock: { now: number; wall?: number } = { now: Date.UTC(2026, 10, 21, 14, 0, 0) };
  const p = pool(driver, profile(), false, clock);
  t.after(() => p.close(100));
  driver.auto = () => REFUSED;
  await assert.rejects(p.acquire(never, cancelled), { code: 'AUTH_FAILED' });
  assert.equal(driver.started, 1);
  stepWallClock(t, clock, -3 * 3_600_000);
  clock.now += 5_000;
  const held = await p.acquire(never, cancelled).catch((e: SnowmuxError) => e);
  assert.ok(held instanceof SnowmuxError && held.code === 'AUTH_FAILED');
  // 10 s of the 15 s back-off are left: the time shown is 10 s from the (stepped) wall clock.
  assert.equal(held.details?.['retryAt'], new Date(clock.now + clock.wall! + 10_000).toISOString());
  assert.match(held.message, /again before 11:00:15 UTC/);
  clock.now += 10_000;
  await assert.rejects(p.acquire(never, cancelled), { code: 'AUTH_FAILED' });
  assert.equal(driver.started, 2, 'the login was tried again 15 s after the refusal, not 3 h later');
});

test('connection age and idle time run on the monotonic clock: a wall clock stepped forward 2 h does not make a connection look old, nor one stepped back young', async (t) => {
  const driver = new ScriptedSdk();
  const clock: { now: number; wall?: number } = { now: 1_000_000 };
  const p = pool(driver, profile(undefined, { maxConnectionAgeMs: 3_600_000, validateOnBorrow: true }), false, clock);
  t.after(() => p.close(100));
  driver.auto = () => undefined;
  const first = await p.acquire(never, cancelled);
  p.release(first.connection);
  stepWallClock(t, clock, 2 * 3_600_000);
  clock.now += 1_000;
  const again = await p.acquire(never, cancelled);
  assert.equal(again.connection, first.connection, 'the same connection, a second old, is reused');
  assert.equal(driver.started, 1);
  assert.equal(p.stats().validations, 0, 'given back a second ago: no heartbeat before reuse');
  p.release(again.connection);

  // An hour and a minute later on the monotonic clock, with the wall clock stepped back 2 h meanwhile:
  // the connection is past its maximum age, and is replaced.
  t.mock.restoreAll();
  stepWallClock(t, clock, -2 * 3_600_000);
  clock.now += 3_660_000;
  const replaced = await p.acquire(never, cancelled);
  assert.notEqual(replaced.connection, first.connection, 'an hour-old connection was kept because the wall clock went back');
  assert.equal(driver.started, 2);
  p.release(replaced.connection);
});
