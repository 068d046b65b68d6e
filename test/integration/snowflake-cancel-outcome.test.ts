/**
 * What the editor is told about a write whose outcome the hub cannot know: a statement Snowflake took (it
 * has a query id) whose session was lost before its answer came back. The hub does not send it again and
 * says to check its outcome by that query id — and nothing in the message says to run it again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SnowmuxError } from '../../src/errors.js';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type QueryLogEntry, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { doubleProfile, queryOptions, waitForEvent } from '../doubles/snowflake/fixtures.js';

let double: SnowflakeDouble;
let w: SnowflakeWarehouse;

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }], syncWaitMs: 50 });
  w = new SnowflakeWarehouse(doubleProfile(double, { name: 'outcome', pool: { max: 1 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
});

after(async () => {
  double.clearFaults();
  await w.close();
  await double.close();
});

describe('a write that may have run', () => {
  it('a session lost while a write ran: check its outcome by query id, never "run the call again"', async () => {
    await w.query('create table ANALYTICS.PUBLIC.MAYBE_RAN (X INT)', queryOptions({ repeatable: false }));
    // The statement outlives the first answer (its query id comes back); the session is lost while the driver waits for the result.
    double.setQueryLatency(200);
    double.inject({ kind: 'error', endpoint: 'result', code: '390111', message: 'Session no longer exists.', times: 1 });
    let queryId: unknown;
    try {
      await assert.rejects(w.query('insert into ANALYTICS.PUBLIC.MAYBE_RAN values (7)', queryOptions({ repeatable: false })), (err: SnowmuxError) => {
        assert.equal(err.code, 'CONNECTION_LOST');
        queryId = err.details?.['queryId'];
        assert.equal(typeof queryId, 'string');
        assert.ok(err.message.includes(`(query id ${String(queryId)}, Snowflake code `), err.message);
        assert.match(err.message, /Check its outcome first \(query_history/);
        // Before, the lost session's own advice followed: "The hub reconnects; run the call again."
        assert.doesNotMatch(err.message, /run the call again|retry/i);
        return true;
      });
    } finally {
      double.setQueryLatency(0);
    }
    // It did run: the advice to check first was the right one.
    const entry = double.queries.find((q) => q.queryId === queryId)!;
    if (entry.status === 'RUNNING') await waitForEvent<QueryLogEntry>(double.events, 'queryFinished', (q) => q.queryId === queryId);
    assert.equal(entry.status, 'SUCCESS');
    assert.deepEqual((await w.query('select count(*) from ANALYTICS.PUBLIC.MAYBE_RAN', queryOptions())).rows, [[1]]);
  });
});
