/**
 * What the editor is told, and the call's record says, about a write whose cancel and completion crossed:
 * - a write Snowflake completed before the abort reached it ran: its call is recorded `ok` with its query
 *   id, never `cancelled` (whoever reads query_history would run it again);
 * - a statement Snowflake took (it has a query id) whose session was lost before its answer came back: the
 *   hub does not send it again and says to check its outcome by that query id — and nothing in the message
 *   says to run it again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type { SnowmuxError } from '../../src/errors.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import type { WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type AbortLogEntry, type QueryLogEntry, type SnowflakeDouble } from '../doubles/snowflake/index.js';
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
  it('a client cancel that reaches Snowflake after the INSERT completed: the call is recorded ok, with its query id', async () => {
    await w.query('create table ANALYTICS.PUBLIC.CANCELLED_LATE (X INT)', queryOptions({ repeatable: false }));
    const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
    const policy = Policy.fromConfig(parseConfigText('[roles.writer]\nidentities = ["writer"]\nwrite = true\n', 'test.toml'), 'test.toml');
    const governance = new Governance({ policy, logger });
    const target: WarehouseTarget = { kind: 'snowflake', name: 'outcome', defaultDatabase: 'ANALYTICS', defaultSchema: 'PUBLIC', open: async () => w };
    const records: CallRecord[] = [];
    const sink = { record: (r: CallRecord) => void records.push(r), recordStarted: async () => {} };
    const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: DEFAULT_LIMITS, logger, sink });
    const session = new Session({ id: 's-writer', identity: { kind: 'local-user', name: 'writer' }, transport: 'stdio' });
    const client = new AbortController();
    // The driver's wait for the result hangs after Snowflake has run the INSERT; then the editor cancels.
    double.setQueryLatency(150);
    double.inject({ kind: 'hang', endpoint: 'result', times: 1 });
    const finished = waitForEvent<QueryLogEntry>(double.events, 'queryFinished', (q) => q.sql.toUpperCase().includes('CANCELLED_LATE VALUES'));
    const sql = 'insert into ANALYTICS.PUBLIC.CANCELLED_LATE values (1)';
    const call = pipeline.run(session, 'execute_query', { id: '1', signal: client.signal }, { query: sql }, async ({ warehouse, ctx, noteSql }) => {
      noteSql(sql);
      await warehouse.query(sql, { ...ctx, maxRows: 10 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
    let queryId: string;
    try {
      queryId = (await finished).queryId;
      const aborted = waitForEvent<AbortLogEntry>(double.events, 'abort');
      client.abort();
      assert.equal((await aborted).matched, false, 'the abort found nothing to stop');
    } finally {
      double.setQueryLatency(0);
      double.clearFaults();
    }
    await call;
    // Before, the record said cancelled (QUERY_CANCELLED) with no query id: "it did not run".
    assert.deepEqual(records.map((r) => [r.outcome, r.errorCode, r.queryId]), [['ok', null, queryId]]);
    governance.close();
  });

  it('a write cancelled while Snowflake never answers the abort: recorded cancelled, and as possibly applied', async () => {
    const quick = new SnowflakeWarehouse(doubleProfile(double, { name: 'unconfirmed', pool: { max: 1 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 }, cancelGraceMs: 100 });
    try {
      await quick.query('create table ANALYTICS.PUBLIC.UNCONFIRMED (X INT)', queryOptions({ repeatable: false }));
      const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
      const policy = Policy.fromConfig(parseConfigText('[roles.writer]\nidentities = ["writer"]\nwrite = true\n', 'test.toml'), 'test.toml');
      const governance = new Governance({ policy, logger });
      const target: WarehouseTarget = { kind: 'snowflake', name: 'unconfirmed', defaultDatabase: 'ANALYTICS', defaultSchema: 'PUBLIC', open: async () => quick };
      const records: CallRecord[] = [];
      const sink = { record: (r: CallRecord) => void records.push(r), recordStarted: async () => {} };
      const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: DEFAULT_LIMITS, logger, sink });
      const session = new Session({ id: 's-writer', identity: { kind: 'local-user', name: 'writer' }, transport: 'stdio' });
      const client = new AbortController();
      // The INSERT runs for a while, and the abort request hangs: nothing ever says whether it ran.
      double.setQueryLatency(5_000);
      double.inject({ kind: 'hang', endpoint: 'abort', times: 1 });
      const started = waitForEvent<QueryLogEntry>(double.events, 'queryStarted', (q) => q.sql.toUpperCase().includes('UNCONFIRMED VALUES'));
      const sql = 'insert into ANALYTICS.PUBLIC.UNCONFIRMED values (1)';
      const call = pipeline.run(session, 'execute_query', { id: '1', signal: client.signal }, { query: sql }, async ({ warehouse, ctx, noteSql }) => {
        noteSql(sql);
        await warehouse.query(sql, { ...ctx, maxRows: 10 });
        return { content: [{ type: 'text', text: 'done' }] };
      });
      try {
        await started;
        client.abort();
        const answer = await call;
        assert.equal(answer.isError, true);
        assert.match((answer.content[0] as { text: string }).text, /a change that completed before the cancel reached the warehouse stays/);
      } finally {
        double.setQueryLatency(0);
        double.clearFaults();
      }
      assert.deepEqual(records.map((r) => [r.outcome, r.errorCode, r.mayHaveRun]), [['cancelled', 'QUERY_CANCELLED', true]]);
      governance.close();
    } finally {
      await quick.close();
    }
  });

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

describe('a statement cancelled after Snowflake took it keeps its query id', () => {
  // Before, only a timeout kept it: a client's cancel or a closed session recorded `queryId: null`, and a
  // write's "may have run" advice said to check query_history with nothing to look up.
  const cases = [
    { what: 'a read', table: 'KEPT_ID_READ', sql: 'select count(*) from ANALYTICS.PUBLIC.KEPT_ID_READ', write: false },
    { what: 'a write', table: 'KEPT_ID_WRITE', sql: 'insert into ANALYTICS.PUBLIC.KEPT_ID_WRITE values (1)', write: true },
  ];
  for (const { what, table, sql, write } of cases) {
    for (const by of ['the client', 'its session closing'] as const) {
      it(`${what} cancelled by ${by}: the record, query_history's source and the answer carry the aborted query id`, async () => {
        const name = `kept-${table}-${by === 'the client' ? 'client' : 'session'}`.toLowerCase();
        const own = new SnowflakeWarehouse(doubleProfile(double, { name, pool: { max: 1 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
        const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
        const policy = Policy.fromConfig(parseConfigText('[roles.writer]\nidentities = ["writer"]\nwrite = true\n', 'test.toml'), 'test.toml');
        const governance = new Governance({ policy, logger });
        try {
          await own.query(`create or replace table ANALYTICS.PUBLIC.${table} (X INT)`, queryOptions({ repeatable: false }));
          const target: WarehouseTarget = { kind: 'snowflake', name, defaultDatabase: 'ANALYTICS', defaultSchema: 'PUBLIC', open: async () => own };
          const records: CallRecord[] = [];
          const sink = { record: (r: CallRecord) => void records.push(r), recordStarted: async () => {} };
          const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: DEFAULT_LIMITS, logger, sink });
          const session = new Session({ id: 's-kept', identity: { kind: 'local-user', name: 'writer' }, transport: 'stdio' });
          const client = new AbortController();
          // The statement runs for long; the hub knows its query id once it polls for the result.
          double.setQueryLatency(5_000);
          const polled = waitForEvent<string>(double.events, 'resultPoll');
          const call = pipeline.run(session, 'execute_query', { id: '1', signal: client.signal }, { query: sql }, async ({ warehouse, ctx, noteSql }) => {
            noteSql(sql);
            await warehouse.query(sql, { ...ctx, maxRows: 10 });
            return { content: [{ type: 'text', text: 'done' }] };
          });
          let queryId: string;
          let answer: Awaited<typeof call>;
          try {
            queryId = await polled;
            const aborted = waitForEvent<AbortLogEntry>(double.events, 'abort');
            if (by === 'the client') client.abort();
            else session.close('the shim went away');
            answer = await call;
            assert.deepEqual(await aborted, { form: 'queryId', queryId, requestId: (await aborted).requestId, matched: true });
          } finally {
            double.setQueryLatency(0);
          }
          assert.equal(double.queries.find((q) => q.queryId === queryId)?.status, 'ABORTED');
          assert.equal(answer.isError, true);
          assert.equal(records.length, 1);
          const [record] = records;
          assert.equal(record!.errorCode, 'QUERY_CANCELLED');
          assert.equal(record!.queryId, queryId);
          if (write) {
            assert.equal(record!.mayHaveRun, true);
            assert.match((answer.content[0] as { text: string }).text, new RegExp(`Check query_history \\(query id ${queryId}\\) before running it again`));
          }
        } finally {
          governance.close();
          await own.close();
        }
      });
    }
  }
});
