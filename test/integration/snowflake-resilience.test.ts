/**
 * Faults between the hub and Snowflake: expired tokens are renewed or reconnected without the caller
 * noticing; slow, refused, hung and failing servers produce bounded, typed errors (the backend's own
 * timeouts win over the driver's minutes of retries) marked as infrastructure for the circuit breaker.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { SnowmuxError } from '../../src/errors.js';
import { WarehouseBreaker } from '../../src/hub/guard/breaker.js';
import { SnowflakeWarehouse, type SnowflakeWarehouseOptions } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { doubleProfile, queryOptions, until, waitForEvent } from '../doubles/snowflake/fixtures.js';
import { freePort } from '../helpers/harness.js';

let double: SnowflakeDouble;
const open: SnowflakeWarehouse[] = [];

function warehouse(name: string, profile: Parameters<typeof doubleProfile>[1] = {}, options: SnowflakeWarehouseOptions = {}): SnowflakeWarehouse {
  const w = new SnowflakeWarehouse(doubleProfile(double, { name, pool: { max: 1 }, ...profile }), {
    driverOptions: { sfRetryMaxLoginRetries: 0 },
    ...options,
  });
  open.push(w);
  return w;
}

/** Runs `fn` while every statement outlives the double's first answer (333333 with its query id): the driver then polls for its result. */
async function withQueryLatency(ms: number, fn: () => Promise<void>): Promise<void> {
  double.setQueryLatency(ms);
  try {
    await fn();
  } finally {
    double.setQueryLatency(0);
  }
}

/** A warehouse with the product's own driver options (the hub's login retries, the driver's statement retries). */
function productWarehouse(name: string): SnowflakeWarehouse {
  const w = new SnowflakeWarehouse(doubleProfile(double, { name, pool: { max: 1, acquireTimeoutMs: 10_000 } }));
  open.push(w);
  return w;
}

/**
 * The driver goes on retrying an abandoned statement's request in the background; once the double answers
 * again it reaches the double, and only then can the double close without leaving the driver retrying.
 */
async function abandonedStatementArrives(sql: string): Promise<void> {
  double.clearFaults();
  await until(double.events, 'queryFinished', () => double.queries.some((q) => q.sql === sql), 30_000);
}

function poolDetail(w: SnowflakeWarehouse): Record<string, number> {
  return w.info().detail['pool'] as Record<string, number>;
}

before(async () => {
  double = await startSnowflakeDouble({
    users: [
      { name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] },
      { name: 'oauth_user', oauthTokens: ['oauth-token-r1'], roles: ['ANALYST', 'PUBLIC'] },
    ],
  });
});

afterEach(() => double.clearFaults());

after(async () => {
  double.clearFaults();
  await Promise.all(open.map((w) => w.close()));
  await double.close();
});

describe('Snowflake resilience', () => {
  it('an expired session token is renewed by the driver without the caller noticing (no new login)', async () => {
    const w = warehouse('renew');
    await w.query('select 1', queryOptions());
    const renewals = double.counters.renewals;
    double.expireSessionTokens();
    assert.deepEqual((await w.query('select 2', queryOptions())).rows, [[2]]);
    assert.equal(double.counters.renewals, renewals + 1);
    assert.equal(poolDetail(w)['logins'], 1);
  });

  it('an expired master token (renewal refused, 390114) is replaced by a fresh login, and the call retried once', async () => {
    const w = warehouse('relogin');
    await w.query('select 1', queryOptions());
    double.expireMasterTokens();
    assert.deepEqual((await w.query('select 3', queryOptions())).rows, [[3]]);
    assert.equal(poolDetail(w)['logins'], 2);
    assert.equal(poolDetail(w)['discarded'], 1);
  });

  it('a session deleted on the server (390111) is replaced transparently', async () => {
    const w = warehouse('gone');
    await w.query('select 1', queryOptions());
    double.inject({ kind: 'error', endpoint: 'query', code: '390111', message: 'Session no longer exists.', times: 1 });
    assert.deepEqual((await w.query('select 4', queryOptions())).rows, [[4]]);
    assert.equal(poolDetail(w)['logins'], 2);
  });

  it('a statement that may write is not sent again when its session is lost after Snowflake took it (it may have run); a read is', async () => {
    const w = warehouse('lost-after-submit');
    await w.query('select 1', queryOptions());
    // The statement outlives the first answer (333333 with its query id); the session is then lost while the driver waits for the result.
    await withQueryLatency(400, async () => {
      double.inject({ kind: 'error', endpoint: 'result', code: '390111', message: 'Session no longer exists.', times: 1 });
      const submitted = double.queries.length;
      await assert.rejects(w.query('select 7', queryOptions({ repeatable: false })), (err: SnowmuxError) => {
        assert.equal(err.code, 'CONNECTION_LOST');
        assert.match(err.message, /may or may not have completed, so the hub did not send it again/);
        return true;
      });
      // Before, it was sent again on a new session: an INSERT ran twice.
      assert.equal(double.queries.length, submitted + 1);
      // A session for the read first: a fresh one's USE SECONDARY ROLES NONE (once per login, the profile names
      // a role) would meet the fault instead of the read.
      await w.query('select 0', queryOptions());
      const before = double.queries.length;
      double.inject({ kind: 'error', endpoint: 'result', code: '390111', message: 'Session no longer exists.', times: 1 });
      assert.deepEqual((await w.query('select 8', queryOptions())).rows, [[8]]);
      const sent = double.queries.slice(before).map((q) => q.sql);
      assert.equal(sent.filter((q) => q === 'select 8').length, 2, `a read is sent again on a fresh session: ${JSON.stringify(sent)}`);
    });
  });

  it("a session lost during the hub's own USE is not a write that may have run: the statement was never sent, so it goes to a fresh session", async () => {
    const w = warehouse('lost-on-use');
    await w.query('select 1', queryOptions());
    // Every statement, the hub's USE included, outlives the first answer (it has a query id); the session is
    // lost while the driver waits for the USE's result.
    await withQueryLatency(400, async () => {
      double.inject({ kind: 'error', endpoint: 'result', code: '390111', message: 'Session no longer exists.', times: 1 });
      const submitted = double.queries.length;
      const result = await w.query('select 9', queryOptions({ repeatable: false, database: 'ANALYTICS' }));
      assert.deepEqual(result.rows, [[9]]);
      const sent = double.queries.slice(submitted).map((q) => q.sql);
      // The USE lost with its session, then the USE and the statement, once, on a fresh session.
      assert.equal(sent.filter((q) => /^select 9$/i.test(q)).length, 1, JSON.stringify(sent));
      assert.equal(sent.filter((q) => /^use /i.test(q) && !/^USE SECONDARY ROLES/.test(q)).length, 2, JSON.stringify(sent));
    });
  });

  it('a login to a host that does not answer at all ends in seconds naming the host, with the product\'s driver settings; a slow login to a live host does not', async () => {
    // Refused: the driver alone retried the login for ~4 s (sfRetryMaxLoginRetries 2); a silent host held it
    // until the hub's 30 s login timeout (the driver's request timeout is 90 s).
    const refusedUrl = `http://127.0.0.1:${await freePort()}`;
    const silent = createServer(() => undefined); // accepts, never answers (as a blackholed address looks to a request with a timeout)
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      for (const [url, reason, boundMs] of [
        [refusedUrl, /connection refused/, 3_000],
        [silentUrl, /no answer within 2000 ms/, 6_500],
      ] as const) {
        const w = new SnowflakeWarehouse(doubleProfile(double, { name: 'dead-host', accessUrl: url, pool: { max: 1, acquireTimeoutMs: 60_000 } }));
        open.push(w);
        await w.warmUp().catch(() => undefined); // loads the driver: the measured login is the next one
        const t0 = performance.now();
        await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
          assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
          assert.equal(err.details?.['infrastructure'], true);
          assert.equal(err.details?.['transient'], true);
          assert.equal(err.details?.['host'], new URL(url).host);
          assert.match(err.message, new RegExp(`the host ${new URL(url).host.replace(/\./g, '\\.')} does not answer`));
          assert.match(err.message, reason);
          assert.match(err.message, /Check access_url \(set by test fixture\)|Check access_url, the network/);
          return true;
        });
        assert.ok(performance.now() - t0 < boundMs, `${url}: ${Math.round(performance.now() - t0)} ms`);
      }
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
    // A login slower than the checks, to a host that answers them: it completes.
    const w = productWarehouse('slow-login-alive');
    double.setLoginLatency(3_500);
    try {
      assert.deepEqual((await w.query('select 3', queryOptions())).rows, [[3]]);
    } finally {
      double.setLoginLatency(0);
    }
  });

  it('a login that hangs fails the call within the acquire timeout (WAREHOUSE_UNAVAILABLE), then recovers', async () => {
    const w = warehouse('login-hang', { pool: { max: 1, acquireTimeoutMs: 300 } });
    double.inject({ kind: 'hang', endpoint: 'login' });
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
      assert.equal(err.details?.['infrastructure'], true);
      assert.match(err.message, /login has not finished/);
      return true;
    });
    // The login hangs forever: only the 300 ms acquire timeout can have produced this error (its message
    // says the login has not finished), so no wall-clock bound is asserted.
    double.clearFaults();
    assert.deepEqual((await w.query('select 5', queryOptions())).rows, [[5]]);
  });

  it('a slow login (injected latency) is waited for when within the acquire timeout', async () => {
    const w = warehouse('login-slow', { pool: { max: 1, acquireTimeoutMs: 3_000 } });
    double.setLoginLatency(200);
    try {
      const t0 = performance.now();
      assert.deepEqual((await w.query('select 6', queryOptions())).rows, [[6]]);
      assert.ok(performance.now() - t0 >= 190);
    } finally {
      double.setLoginLatency(0);
    }
  });

  it('refused connections fail the login of a cold pool as WAREHOUSE_UNAVAILABLE (transient infrastructure)', async () => {
    const w = warehouse('refused');
    double.inject({ kind: 'refuse' });
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
      assert.equal(err.details?.['infrastructure'], true);
      return true;
    });
    double.clearFaults();
    assert.deepEqual((await w.query('select 7', queryOptions())).rows, [[7]]);
  });

  // The driver re-sends a failed statement request for minutes; these run its own settings on a warm pool.
  for (const [label, fault, reason] of [
    ['refuses connections', { kind: 'refuse' }, /connection (reset|refused)/],
    ['answers HTTP 503 to every request', { kind: 'httpStatus', endpoint: 'any', status: 503 }, /HTTP 503/],
    // Logins and the front page answer; only statements get the gateway's 503 (the query service is down).
    ['answers HTTP 503 to every statement while its front page and logins answer', { kind: 'httpStatus', endpoint: 'query', status: 503 }, /HTTP 503 from the statement endpoint/],
  ] as const) {
    it(`a warm pool's call to a Snowflake that ${label} fails within seconds as WAREHOUSE_UNAVAILABLE naming it; the connection is discarded and the breaker counts it`, async () => {
      const w = productWarehouse(`outage-${fault.kind}`);
      const breaker = new WarehouseBreaker({ profile: 'outage', volumeThreshold: 2 });
      await breaker.run(() => w.query('select 1', queryOptions()));
      double.inject(fault);
      const t0 = performance.now();
      await assert.rejects(
        breaker.run(() => w.query('select 41', queryOptions())),
        (err: SnowmuxError) => {
          assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
          assert.equal(err.details?.['infrastructure'], true);
          assert.equal(err.details?.['unreachable'], true);
          assert.match(err.message, reason);
          assert.match(err.message, /^Snowflake at \S+ is unavailable \(/);
          assert.ok(err.message.includes(new URL(double.url).origin), err.message);
          assert.doesNotMatch(err.message, /pool\.max/);
          return true;
        },
      );
      // Generous: the driver alone took 35–85 s; the probes take about 5 s.
      assert.ok(performance.now() - t0 < 20_000, `took ${Math.round(performance.now() - t0)} ms`);
      assert.equal(poolDetail(w)['discarded'], 1, 'the connection the driver still retries on is not reused');
      assert.equal(breaker.snapshot().totalFailures, 1);
      // Status shows the outage while it lasts, and nothing once a statement is answered again.
      const problem = w.info().problem;
      assert.equal(problem?.code, 'WAREHOUSE_UNAVAILABLE', JSON.stringify(problem));
      assert.equal(problem?.transient, true);
      assert.match(problem?.message ?? '', reason);
      assert.ok(problem?.message.includes(new URL(double.url).origin), problem?.message);
      assert.match(String((w.info().detail['outage'] as { reason?: unknown } | undefined)?.reason), reason);
      await abandonedStatementArrives('select 41');
      assert.deepEqual((await w.query('select 42', queryOptions())).rows, [[42]]);
      assert.equal(w.info().problem, undefined);
      assert.equal(w.info().detail['outage'], undefined);
      assert.equal(poolDetail(w)['logins'], 2);
    });
  }

  it('a call queued behind a statement stuck on an outage gets the outage, not "raise pool.max"', async () => {
    const w = productWarehouse('outage-queued');
    await w.query('select 1', queryOptions());
    double.inject({ kind: 'refuse' });
    const first = w.query('select 43', queryOptions());
    const second = w.query('select 44', queryOptions());
    for (const call of [first, second]) {
      await assert.rejects(call, (err: SnowmuxError) => {
        assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
        assert.doesNotMatch(err.message, /pool\.max/);
        return true;
      });
    }
    await abandonedStatementArrives('select 43');
  });

  it('a long statement on a Snowflake that answers is not cut short by the reachability probes', async () => {
    const w = productWarehouse('long-healthy');
    await w.query('select 1', queryOptions());
    let probes = 0;
    const count = (endpoint: string): void => {
      if (endpoint === 'root') probes++;
    };
    double.events.on('request', count);
    double.setQueryLatency(6_500);
    try {
      assert.deepEqual((await w.query('select 45', queryOptions())).rows, [[45]]);
    } finally {
      double.setQueryLatency(0);
      double.events.off('request', count);
    }
    assert.ok(probes >= 2, `probed ${probes} times`);
    assert.equal(poolDetail(w)['discarded'], 0);
  });

  it('an HTTP 503 at login fails fast when login retries are off', async () => {
    const w = warehouse('login-503');
    double.inject({ kind: 'httpStatus', endpoint: 'login', status: 503 });
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
      assert.equal(err.details?.['infrastructure'], true);
      return true;
    });
  });

  it('a login the host answers with HTTP 403 or 513 (an account identifier naming no account) says so, not "could not be reached, retry"', async () => {
    // What Snowflake answers for a legacy locator without its region and cloud, or a mistyped account.
    for (const status of [403, 513]) {
      const w = warehouse(`login-${status}`, { accessUrl: undefined, host: new URL(double.url).host, sources: { host: 'env SNOWFLAKE_HOST' } }, { driverOptions: { sfRetryMaxLoginRetries: 0, accessUrl: double.url } });
      double.inject({ kind: 'httpStatus', endpoint: 'login', status, times: 1 });
      await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
        assert.equal(err.code, 'WAREHOUSE_UNAVAILABLE');
        assert.match(err.message, new RegExp(`answered the login .* with HTTP ${status}`));
        assert.match(err.message, /host \(set by env SNOWFLAKE_HOST\)/);
        assert.match(err.message, /<organization>-<account>/);
        assert.doesNotMatch(err.message, /could not be reached|can be retried/);
        assert.equal(err.details?.['transient'], false);
        assert.equal(err.details?.['httpStatus'], status);
        return true;
      });
    }
    // Another HTTP answer is said as one, with its status.
    const w = warehouse('login-400');
    double.inject({ kind: 'httpStatus', endpoint: 'login', status: 400, times: 1 });
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.match(err.message, /answered HTTP 400/);
      assert.doesNotMatch(err.message, /could not be reached/);
      return true;
    });
  });

  it('a session whose OAuth token ended (390318 on a statement) serves nothing more: a fresh login, and the call retried once', async () => {
    // Sessions that logged in with an OAuth token get 390318 on every statement once the token expires; kept
    // in the pool, the connection failed each later call with "Snowflake failed … The call can be retried".
    const w = warehouse('oauth-ended', { user: 'oauth_user', auth: { method: 'oauth', token: 'oauth-token-r1' } });
    await w.query('select 1', queryOptions());
    double.inject({ kind: 'error', endpoint: 'query', code: '390318', sqlState: '08004', message: 'OAuth access token expired. [1234]', times: 1 });
    assert.deepEqual((await w.query('select 5', queryOptions())).rows, [[5]]);
    assert.equal(poolDetail(w)['logins'], 2);
    assert.equal(poolDetail(w)['discarded'], 1);
    // Twice in a row (the fresh session too): the call fails naming the token, and neither session is kept.
    double.inject({ kind: 'error', endpoint: 'query', code: '390318', sqlState: '08004', message: 'OAuth access token expired.', times: 2 });
    await assert.rejects(w.query('select 6', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'CONNECTION_LOST');
      assert.match(err.message, /OAuth access token expired, code 390318/);
      assert.match(err.message, /the OAuth token \(token \(set by env SNOWFLAKE_TOKEN\)\); it may have expired — get a fresh one/);
      assert.doesNotMatch(err.message, /oauth-token-r1/);
      return true;
    });
    assert.equal(poolDetail(w)['discarded'], 3);
  });

  it('a hung query is cut off by the backend timeout even though the server never answers', async () => {
    const w = warehouse('query-hang', {}, { cancelGraceMs: 200 });
    await w.query('select 1', queryOptions());
    double.inject({ kind: 'hang', endpoint: 'query' });
    await assert.rejects(w.query('select 8', queryOptions({ timeoutMs: 300 })), { code: 'QUERY_TIMEOUT' });
    // The server never answers: only the 300 ms statement timeout can have produced QUERY_TIMEOUT.
    // The connection may still have the statement in flight: it was discarded, not reused.
    assert.equal(poolDetail(w)['discarded'], 1);
    double.clearFaults();
    assert.deepEqual((await w.query('select 9', queryOptions())).rows, [[9]]);
    assert.equal(poolDetail(w)['logins'], 2);
  });

  it('a server-side internal error is WAREHOUSE_ERROR (infrastructure); a SQL error is SQL_ERROR (user) with code and query id', async () => {
    const w = warehouse('errors');
    double.inject({ kind: 'error', endpoint: 'query', code: '000603', sqlState: 'XX000', message: 'SQL execution internal error', times: 1 });
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'WAREHOUSE_ERROR');
      assert.equal(err.details?.['infrastructure'], true);
      return true;
    });
    await assert.rejects(w.query('selec 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'SQL_ERROR');
      assert.equal(err.details?.['infrastructure'], false);
      assert.equal(err.details?.['snowflakeCode'], '001003');
      assert.match(String(err.details?.['queryId']), /^[0-9a-f-]{36}$/);
      assert.match(err.message, /001003/);
      return true;
    });
  });

  it('a slow statement (query latency) reports its result after the latency, through result polling', async () => {
    const w = warehouse('slow-query');
    await w.query('select 1', queryOptions());
    await withQueryLatency(400, async () => {
      const polled = waitForEvent(double.events, 'resultPoll');
      const result = await w.query('select 10', queryOptions());
      assert.deepEqual(result.rows, [[10]]);
      await polled;
    });
  });

  it('close() does not wait for a hung server', async () => {
    const w = new SnowflakeWarehouse(doubleProfile(double, { name: 'close-hung', pool: { max: 1 } }), {
      driverOptions: { sfRetryMaxLoginRetries: 0 },
      closeWaitMs: 300,
      cancelGraceMs: 100,
    });
    await w.query('select 1', queryOptions());
    double.inject({ kind: 'hang', endpoint: 'query' });
    const arrived = waitForEvent(double.events, 'request', (endpoint: string) => endpoint === 'query');
    const running = w.query('select 11', queryOptions());
    await arrived;
    const rejected = assert.rejects(running, { code: 'WAREHOUSE_CLOSED' });
    await w.close();
    await rejected;
  });
});
