/**
 * Cancellation reaches Snowflake: a client cancel (AbortSignal) and a timeout each send an abort request
 * that the server applies to the running statement, and the pooled connection comes back healthy.
 * Long statements report progress until they end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SnowmuxError } from '../../src/errors.js';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import type { QueryProgress } from '../../src/hub/warehouse/types.js';
import { startSnowflakeDouble, type AbortLogEntry, type QueryLogEntry, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { doubleProfile, queryOptions, waitForEvent } from '../doubles/snowflake/fixtures.js';

let double: SnowflakeDouble;
let slowReply: SnowflakeDouble;
const open: SnowflakeWarehouse[] = [];

function warehouse(target: SnowflakeDouble, name: string, options: ConstructorParameters<typeof SnowflakeWarehouse>[1] = {}): SnowflakeWarehouse {
  const w = new SnowflakeWarehouse(doubleProfile(target, { name, pool: { max: 1 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 }, ...options });
  open.push(w);
  return w;
}

const isWait = (marker: string) => (q: QueryLogEntry) => q.sql.toUpperCase().includes(marker);

function logins(w: SnowflakeWarehouse): number {
  return (w.info().detail['pool'] as Record<string, number>)['logins'] ?? -1;
}

before(async () => {
  const users = [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }];
  double = await startSnowflakeDouble({ users, syncWaitMs: 50 });
  // A server that holds the query request for long, so the client cancels before it knows the query id.
  slowReply = await startSnowflakeDouble({ users, syncWaitMs: 30_000 });
});

after(async () => {
  await Promise.all(open.map((w) => w.close()));
  await Promise.all([double.close(), slowReply.close()]);
});

describe('Snowflake cancellation', () => {
  it('a client cancel of a running statement aborts it in Snowflake (by query id); the pool stays healthy', async () => {
    const w = warehouse(double, 'cancel-by-id');
    await w.query('select 1', queryOptions());
    const controller = new AbortController();
    const running = w.query("select system$wait(20, 'SECONDS')", queryOptions({ signal: controller.signal }));
    // The client polls for the result once it holds the query id.
    const queryId = await waitForEvent<string>(double.events, 'resultPoll');
    const aborted = waitForEvent<AbortLogEntry>(double.events, 'abort');
    controller.abort();
    await assert.rejects(running, (err: SnowmuxError) => {
      assert.equal(err.code, 'QUERY_CANCELLED');
      return true;
    });
    const abort = await aborted;
    assert.deepEqual(abort, { form: 'queryId', queryId, requestId: abort.requestId, matched: true });
    const entry = double.queries.find((q) => q.queryId === queryId);
    assert.equal(entry?.status, 'ABORTED');
    // Same connection, no new login, works.
    const before = logins(w);
    assert.deepEqual((await w.query('select 42', queryOptions())).rows, [[42]]);
    assert.equal(logins(w), before);
  });

  it('the abort reason is kept: a hub timeout (QUERY_TIMEOUT as the signal reason) stays QUERY_TIMEOUT', async () => {
    const w = warehouse(double, 'cancel-reason');
    const controller = new AbortController();
    const running = w.query("select system$wait(21, 'SECONDS')", queryOptions({ signal: controller.signal }));
    await waitForEvent(double.events, 'queryStarted', isWait('SYSTEM$WAIT(21'));
    controller.abort(new SnowmuxError('QUERY_TIMEOUT', 'The call exceeded the hub timeout.'));
    await assert.rejects(running, { code: 'QUERY_TIMEOUT', message: 'The call exceeded the hub timeout.' });
  });

  it('a write Snowflake completed before the abort reached it is answered as run (result, query id), not as cancelled', async () => {
    const w = warehouse(double, 'abort-too-late');
    await w.query('create table ANALYTICS.PUBLIC.LATE_ABORT (X INT)', queryOptions({ repeatable: false }));
    // The statement outlives the first answer (its query id comes back); the driver's wait for the result
    // hangs, so the hub cancels — as the call timeout does after a laptop slept — once Snowflake has finished it.
    double.setQueryLatency(150);
    double.inject({ kind: 'hang', endpoint: 'result', times: 1 });
    const finished = waitForEvent<QueryLogEntry>(double.events, 'queryFinished', isWait('LATE_ABORT VALUES'));
    const controller = new AbortController();
    const running = w.query('insert into ANALYTICS.PUBLIC.LATE_ABORT values (1)', queryOptions({ signal: controller.signal, repeatable: false }));
    try {
      const entry = await finished;
      assert.equal(entry.status, 'SUCCESS');
      const aborted = waitForEvent<AbortLogEntry>(double.events, 'abort');
      controller.abort(new SnowmuxError('QUERY_TIMEOUT', 'The call exceeded the hub timeout.'));
      assert.equal((await aborted).matched, false, 'the abort found nothing to stop');
    } finally {
      double.setQueryLatency(0);
      double.clearFaults();
    }
    // Before, this was QUERY_TIMEOUT "was cancelled" without a query id, and the editor ran the INSERT again.
    const result = await running;
    assert.equal(result.queryId, (await finished).queryId);
    assert.deepEqual((await w.query('select count(*) from ANALYTICS.PUBLIC.LATE_ABORT', queryOptions())).rows, [[1]]);
  });

  it('cancelling before the query id is known aborts by request id', async () => {
    const w = warehouse(slowReply, 'cancel-by-request');
    await w.query('select 1', queryOptions());
    const controller = new AbortController();
    const running = w.query("select system$wait(22, 'SECONDS')", queryOptions({ signal: controller.signal }));
    const started = await waitForEvent<QueryLogEntry>(slowReply.events, 'queryStarted', isWait('SYSTEM$WAIT(22'));
    const aborted = waitForEvent(slowReply.events, 'abort');
    controller.abort();
    await assert.rejects(running, { code: 'QUERY_CANCELLED' });
    assert.deepEqual(await aborted, { form: 'requestId', requestId: started.requestId, queryId: started.queryId, matched: true });
    assert.equal(started.status, 'ABORTED');
    const before = logins(w);
    assert.deepEqual((await w.query('select 43', queryOptions())).rows, [[43]]);
    assert.equal(logins(w), before);
  });

  it('a statement over its timeout is cancelled in Snowflake (QUERY_TIMEOUT) and the server got a statement timeout too', async () => {
    const w = warehouse(double, 'timeout');
    await w.query('select 1', queryOptions());
    const aborts = double.counters.aborts;
    const t0 = performance.now();
    await assert.rejects(w.query("select system$wait(23, 'SECONDS')", queryOptions({ timeoutMs: 300 })), (err: SnowmuxError) => {
      assert.equal(err.code, 'QUERY_TIMEOUT');
      assert.match(err.message, /ran longer than 300 ms/);
      return true;
    });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 250, `elapsed ${elapsed}`);
    assert.equal(double.counters.aborts, aborts + 1);
    const entry = double.queries.find((q) => q.sql.toUpperCase().includes('SYSTEM$WAIT(23'));
    assert.equal(entry?.status, 'ABORTED');
    assert.equal(entry?.parameters['STATEMENT_TIMEOUT_IN_SECONDS'], 1);
    const before = logins(w);
    assert.deepEqual((await w.query('select 44', queryOptions())).rows, [[44]]);
    assert.equal(logins(w), before);
  });

  it('a statement Snowflake never answers times out with both ways forward, not only "narrow the query"', async () => {
    const w = warehouse(double, 'timeout-unanswered');
    await w.query('select 1', queryOptions());
    double.inject({ kind: 'hang', endpoint: 'query', times: 1 });
    try {
      await assert.rejects(w.query('select 46', queryOptions({ timeoutMs: 300 })), (err: SnowmuxError) => {
        assert.equal(err.code, 'QUERY_TIMEOUT');
        assert.match(err.message, /did not finish within 300 ms and was cancelled before Snowflake returned a query id/);
        assert.match(err.message, /Snowflake did not answer[\s\S]*snowmux status[\s\S]*narrow the query/);
        return true;
      });
    } finally {
      double.clearFaults();
    }
  });

  it("Snowflake's own statement timeout (000630) is QUERY_TIMEOUT marked as the user's heavy query, not an outage", async () => {
    const w = warehouse(double, 'server-timeout');
    double.inject({
      kind: 'error',
      endpoint: 'query',
      code: '000630',
      sqlState: '57014',
      message: 'Statement reached its statement or warehouse timeout of 1 second(s) and was canceled.',
      times: 1,
    });
    await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'QUERY_TIMEOUT');
      assert.equal(err.details?.['infrastructure'], false);
      // The call named no setting: the profile's own, by its config key (not the internal field name).
      assert.match(err.message, /raise statement_timeout_s of \[profiles\.server-timeout\]\./);
      assert.doesNotMatch(err.message, /statementTimeoutMs/);
      return true;
    });
    assert.deepEqual((await w.query('select 45', queryOptions())).rows, [[45]]);
  });

  it('reports progress while a long statement runs, until it ends', async () => {
    const w = warehouse(double, 'progress', { progressIntervalMs: 40 });
    const controller = new AbortController();
    const reports: QueryProgress[] = [];
    const done = w.query(
      "select system$wait(25, 'SECONDS')",
      queryOptions({
        signal: controller.signal,
        onProgress: (p) => {
          reports.push(p);
          // Three reports prove it keeps reporting; then stop the statement.
          if (reports.length === 3) controller.abort();
        },
      }),
    );
    await assert.rejects(done, { code: 'QUERY_CANCELLED' });
    const count = reports.length;
    assert.ok(count >= 3);
    assert.ok(reports.every((r) => r.phase === 'running' || r.phase === 'queued'));
    assert.ok(reports[2]!.elapsedMs >= reports[0]!.elapsedMs);
    assert.match(reports[2]!.message, /Snowflake query/);
    // Nothing more after the call ended.
    await w.query('select 1', queryOptions());
    assert.equal(reports.length, count);
  });
});
