/**
 * The per-profile pool: logins bounded by pool.max, one pool per profile, a clear POOL_EXHAUSTED instead
 * of a hang, idle validation, retirement of old connections, and logins visible in info().
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SnowmuxError } from '../../src/errors.js';
import { SnowflakeWarehouse, type SnowflakeWarehouseOptions } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { callContext, doubleProfile, queryOptions, until, waitForEvent } from '../doubles/snowflake/fixtures.js';

let double: SnowflakeDouble;
/** A user whose password is changed in Snowflake by a test (the double keeps this object). */
const carol = { name: 'carol', password: 'carol-pw-1', roles: ['ANALYST', 'PUBLIC'] };
const open: SnowflakeWarehouse[] = [];

function warehouse(profile: Parameters<typeof doubleProfile>[1] = {}, options: SnowflakeWarehouseOptions = {}): SnowflakeWarehouse {
  const w = new SnowflakeWarehouse(doubleProfile(double, profile), { driverOptions: { sfRetryMaxLoginRetries: 0 }, ...options });
  open.push(w);
  return w;
}

function poolDetail(w: SnowflakeWarehouse): Record<string, number> {
  return w.info().detail['pool'] as Record<string, number>;
}

before(async () => {
  double = await startSnowflakeDouble({
    users: [
      { name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] },
      { name: 'bob', password: 'bob-secret-pw', roles: ['PUBLIC'] },
      carol,
    ],
  });
});

after(async () => {
  await Promise.all(open.map((w) => w.close()));
  await double.close();
});

describe('Snowflake pool', () => {
  it('N concurrent calls on one profile cause at most pool.max logins, and info() shows them', async () => {
    const w = warehouse({ name: 'shared', pool: { max: 3 } });
    const before = double.counters.logins;
    // Each call waits 50 ms in Snowflake, so the 12 calls really overlap.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => w.query(`select ${i} as n, system$wait(50, 'MILLISECONDS') as w`, queryOptions())),
    );
    assert.deepEqual(results.map((r) => r.rows[0]?.[0]), Array.from({ length: 12 }, (_, i) => i));
    const logins = double.counters.logins - before;
    assert.ok(logins >= 1 && logins <= 3, `logins: ${logins}`);
    const pool = poolDetail(w);
    assert.equal(pool['logins'], logins);
    assert.equal(pool['max'], 3);
    assert.equal(pool['borrowed'], 0);
    assert.ok((pool['size'] ?? 0) <= 3);
    // Sequential calls afterwards reuse the warm connections: no new login.
    await w.query('select 1', queryOptions());
    await w.query('select 2', queryOptions());
    assert.equal(double.counters.logins - before, logins);
  });

  it('a failed login fails the calls that waited for it, with its code, and is not retried in a loop', async () => {
    const w = warehouse({ name: 'wrong-pw', auth: { method: 'password', password: 'not-the-password' }, pool: { max: 2, acquireTimeoutMs: 5_000 } });
    const attempts = double.loginLog.length;
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => w.query('select 1', queryOptions())));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.equal((o.reason as SnowmuxError).code, 'AUTH_FAILED', String(o.reason));
    }
    // Each waiting call caused at most one login attempt (generic-pool alone would re-create at once, for as long as calls wait).
    const failed = double.loginLog.slice(attempts);
    assert.ok(failed.length >= 1 && failed.length <= 6, `login attempts: ${failed.length}`);
    assert.ok(failed.every((l) => !l.ok));
    assert.equal(poolDetail(w)['borrowed'], 0);
    // Nothing keeps trying once the calls have their answer.
    const settled = double.loginLog.length;
    await w.query('select 1', queryOptions()).catch(() => {});
    assert.ok(double.loginLog.length - settled <= 2, `attempts for one more call: ${double.loginLog.length - settled}`);
  });

  it('a password changed in Snowflake while the pool is open: six calls needing new sessions cost one failed login, later calls none', async () => {
    const w = warehouse({ name: 'rotated', user: 'carol', auth: { method: 'password', password: 'carol-pw-1' }, pool: { max: 4 } });
    await Promise.all(Array.from({ length: 4 }, () => w.query(`SELECT SYSTEM$WAIT(20, 'MILLISECONDS')`, queryOptions())));
    // The service user's password is rotated in Snowflake, and the pool's sessions end (master tokens expire).
    carol.password = 'carol-pw-2';
    double.expireMasterTokens();
    const failedLogins = () => double.loginLog.filter((l) => l.user === 'CAROL' && !l.ok).length;
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => w.query('SELECT 1', queryOptions())));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.equal((o.reason as SnowmuxError).code, 'AUTH_FAILED', String(o.reason));
      assert.match((o.reason as SnowmuxError).message, /Incorrect username or password.*password \(set by env SNOWFLAKE_PASSWORD\)/);
    }
    assert.equal(failedLogins(), 1, 'one refused login answered all six calls (Snowflake locks the user after five)');
    for (let i = 0; i < 5; i++) await assert.rejects(w.query('SELECT 1', queryOptions()), { code: 'AUTH_FAILED' });
    assert.equal(failedLogins(), 1, 'calls during the back-off make no login');
  });

  it('two profiles get two pools with their own logins', async () => {
    const a = warehouse({ name: 'team-a', user: 'alice', pool: { max: 2 } });
    const b = warehouse({ name: 'team-b', user: 'bob', role: 'PUBLIC', auth: { method: 'password', password: 'bob-secret-pw' }, pool: { max: 2 } });
    const [ra, rb] = await Promise.all([a.query('select current_user()', queryOptions()), b.query('select current_user()', queryOptions())]);
    assert.equal(ra.rows[0]?.[0], 'ALICE');
    assert.equal(rb.rows[0]?.[0], 'BOB');
    assert.equal(poolDetail(a)['logins'], 1);
    assert.equal(poolDetail(b)['logins'], 1);
    assert.equal(a.info().name, 'team-a');
    assert.equal(b.info().name, 'team-b');
  });

  it('reports POOL_EXHAUSTED within the acquire timeout when every connection is busy', async () => {
    const w = warehouse({ name: 'tiny', pool: { max: 1, acquireTimeoutMs: 300 } });
    const holder = new AbortController();
    const started = waitForEvent(double.events, 'queryStarted', (q: { sql: string }) => q.sql.toUpperCase().includes('SYSTEM$WAIT(30'));
    const busy = w.query("select system$wait(30, 'SECONDS')", queryOptions({ signal: holder.signal }));
    busy.catch(() => {});
    await started;
    const t0 = performance.now();
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'POOL_EXHAUSTED');
      assert.match(err.message, /All 1 connections of profile "tiny" are busy/);
      assert.match(err.message, /pool\.max \(set by test fixture\)/);
      assert.equal(err.details?.['infrastructure'], false);
      return true;
    });
    const waited = performance.now() - t0;
    assert.ok(waited >= 250, `waited ${waited} ms`);
    holder.abort();
    await assert.rejects(busy, { code: 'QUERY_CANCELLED' });
    // The connection came back healthy: the next call runs on it without a new login.
    const logins = poolDetail(w)['logins'];
    assert.deepEqual((await w.query('select 7', queryOptions())).rows, [[7]]);
    assert.equal(poolDetail(w)['logins'], logins);
  });

  it('an aborted signal while waiting for a connection rejects at once with QUERY_CANCELLED', async () => {
    const w = warehouse({ name: 'tiny2', pool: { max: 1, acquireTimeoutMs: 5_000 } });
    const holder = new AbortController();
    const started = waitForEvent(double.events, 'queryStarted', (q: { sql: string }) => q.sql.toUpperCase().includes('SYSTEM$WAIT(31'));
    const busy = w.query("select system$wait(31, 'SECONDS')", queryOptions({ signal: holder.signal }));
    busy.catch(() => {});
    await started;
    const waiter = new AbortController();
    const waiting = w.query('select 1', queryOptions({ signal: waiter.signal }));
    const t0 = performance.now();
    waiter.abort();
    await assert.rejects(waiting, { code: 'QUERY_CANCELLED' });
    assert.ok(performance.now() - t0 < 1_000);
    holder.abort();
    await assert.rejects(busy, { code: 'QUERY_CANCELLED' });
    assert.equal(poolDetail(w)['pending'], 0);
  });

  it('validates connections that sat idle (heartbeat) before handing them out', async () => {
    const w = warehouse({ name: 'validated', pool: { max: 1, validateOnBorrow: true } }, { validateIdleAfterMs: 0 });
    await w.query('select 1', queryOptions());
    const heartbeats = double.counters.heartbeats;
    await w.query('select 2', queryOptions());
    assert.equal(double.counters.heartbeats, heartbeats + 1);
    assert.equal(poolDetail(w)['validations'], 1);
  });

  it('replaces a connection whose heartbeat fails, transparently', async () => {
    const w = warehouse({ name: 'revalidated', pool: { max: 1, validateOnBorrow: true } }, { validateIdleAfterMs: 0 });
    await w.query('select 1', queryOptions());
    const logins = double.counters.logins;
    double.inject({ kind: 'error', endpoint: 'heartbeat', code: '390111', message: 'Session no longer exists.', times: 1 });
    assert.deepEqual((await w.query('select 2', queryOptions())).rows, [[2]]);
    assert.equal(double.counters.logins, logins + 1);
    assert.equal(poolDetail(w)['discarded'], 1);
  });

  it('retires connections older than maxConnectionAgeMs', async () => {
    const w = warehouse({ name: 'aged', pool: { max: 1, maxConnectionAgeMs: 1 } });
    await w.query('select 1', queryOptions());
    const logins = double.counters.logins;
    const logouts = double.counters.logouts;
    // The first call's round trip already took more than 1 ms: the next borrow retires the connection.
    await w.query('select 2', queryOptions());
    assert.equal(double.counters.logins, logins + 1);
    await until(double.events, 'logout', () => double.counters.logouts >= logouts + 1);
  });

  it('warmUp() logs in ahead of the first call; close() logs every session out', async () => {
    const w = new SnowflakeWarehouse(doubleProfile(double, { name: 'warm' }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
    const open0 = double.openSessions();
    await w.warmUp();
    assert.equal(poolDetail(w)['logins'], 1);
    assert.equal(double.openSessions(), open0 + 1);
    const t0 = performance.now();
    await w.query('select 1', queryOptions());
    assert.ok(performance.now() - t0 < 1_000);
    await w.close();
    assert.equal(double.openSessions(), open0);
    await assert.rejects(w.listDatabases(callContext()), { code: 'WAREHOUSE_CLOSED' });
  });

  it('a refused login shows as the warehouse problem (code, message, never the password) until a login succeeds; closed is one too', async () => {
    const w = warehouse({ name: 'refused', user: 'bob', auth: { method: 'password', password: 'not-bobs-password' } });
    assert.equal(w.info().problem, undefined, 'no login tried yet');
    await assert.rejects(w.listDatabases(callContext()), { code: 'AUTH_FAILED' });
    // The next call is refused without a login (see the test above); the problem counts real logins.
    await assert.rejects(w.listDatabases(callContext()), /does not log in with these credentials again before/);
    const problem = w.info().problem!;
    assert.equal(problem.code, 'AUTH_FAILED');
    assert.equal(problem.snowflakeCode, '390100');
    assert.equal(problem.failures, 1);
    assert.equal(problem.transient, false);
    assert.match(problem.message, /Incorrect username or password.*password \(set by env SNOWFLAKE_PASSWORD\)/);
    assert.ok(!JSON.stringify(w.info()).includes('not-bobs-password'));

    // With a connection logged in, a failed login of another does not stop the warehouse serving.
    const ok = warehouse({ name: 'recovers', pool: { min: 0, max: 2 } });
    await ok.listDatabases(callContext());
    double.inject({ kind: 'error', endpoint: 'login', code: '390100', message: 'Incorrect username or password was specified.', times: 1 } as never);
    const [first, second] = await Promise.allSettled([ok.query('SELECT SYSTEM$WAIT(1)', queryOptions()), ok.query('SELECT 1', queryOptions())]);
    assert.ok([first, second].some((r) => r.status === 'fulfilled'));
    assert.equal(ok.info().problem, undefined, 'a connection is still logged in');
    // A login that succeeds clears it: a fresh warehouse whose first login is refused, then accepted.
    // Other credentials than the pool above's, whose refusal would hold this one back (they are the same login).
    const later = warehouse({ name: 'later', user: 'bob', role: 'PUBLIC', auth: { method: 'password', password: 'bob-secret-pw' } }, { refusedRetryAfterMs: 0 });
    double.inject({ kind: 'error', endpoint: 'login', code: '390100', message: 'Incorrect username or password was specified.', times: 1 } as never);
    await assert.rejects(later.listDatabases(callContext()), { code: 'AUTH_FAILED' });
    assert.equal(later.info().problem?.snowflakeCode, '390100');
    await later.listDatabases(callContext());
    assert.equal(later.info().problem, undefined, 'cleared by the login that succeeded');
    await later.close();
    assert.equal(later.info().problem?.code, 'WAREHOUSE_CLOSED');
  });
});
