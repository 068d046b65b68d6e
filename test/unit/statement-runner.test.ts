/**
 * How a Snowflake statement settles when a cancel (the call's timeout, a client cancel, a session that
 * ended) meets its completion, against a scripted driver whose every callback the test fires in the order
 * it wants: a statement Snowflake completed ran, so it settles as a success with its query id — whether
 * the completion came before the cancel or after an abort that found nothing to stop. Only a statement
 * Snowflake stopped settles with the cancel's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import type { SnowflakeProfile } from '../../src/hub/config/profile-types.js';
import type { SfConnection } from '../../src/hub/warehouse/snowflake/sdk-types.js';
import { runStatement, type StatementOutcome, type StatementRequest } from '../../src/hub/warehouse/snowflake/statement-runner.js';

const QUERY_ID = '01b2c3d4-0000-4000-8000-000000000001';

/** A driver statement whose completion, abort acknowledgement and rows the test releases by hand. */
class ScriptedStatement {
  complete: ((err: unknown, stmt: unknown) => void) | undefined;
  cancelAck: ((err: unknown) => void) | undefined;
  cancels = 0;
  readonly rows = new PassThrough({ objectMode: true });
  constructor(private readonly total: number) {}
  getQueryId(): string {
    return QUERY_ID;
  }
  getColumns() {
    return [{ getName: () => 'X', getType: () => 'fixed', getScale: () => 0, getPrecision: () => 38, isNullable: () => true }];
  }
  getNumRows(): number {
    return this.total;
  }
  streamRows(): PassThrough {
    return this.rows;
  }
  getSessionState(): undefined {
    return undefined;
  }
  cancel(callback: (err: unknown) => void): void {
    this.cancels++;
    this.cancelAck = callback;
  }
}

function start(opts: { total?: number; cancelGraceMs?: number } = {}) {
  const stmt = new ScriptedStatement(opts.total ?? 1);
  const connection = {
    execute: (o: { complete: (err: unknown, s: unknown) => void }) => {
      stmt.complete = o.complete;
      return stmt;
    },
    getQueryStatus: async () => 'RUNNING',
  } as unknown as SfConnection;
  const controller = new AbortController();
  const req: StatementRequest = {
    connection,
    sqlText: 'INSERT INTO T VALUES (1)',
    parameters: {},
    signal: controller.signal,
    cancelled: () => controller.signal.reason as SnowmuxError,
    progressIntervalMs: 60_000,
    pollStatus: false,
    cancelGraceMs: opts.cancelGraceMs ?? 60_000,
    rows: { start: 0, maxRows: 10 },
    errors: { profile: { name: 'sf' } as SnowflakeProfile, phase: 'statement' },
  };
  const outcome = runStatement(req);
  let settled = false;
  void outcome.then(() => (settled = true));
  const cancel = () => controller.abort(new SnowmuxError('QUERY_TIMEOUT', 'The call did not finish within the hub timeout and was cancelled.'));
  return { stmt, outcome, cancel, settled: () => settled };
}

const turn = () => new Promise((r) => setImmediate(r));

function assertRan(outcome: StatementOutcome, rows: unknown[][], truncated = false): void {
  assert.ok(outcome.ok, `settled as ${outcome.ok ? 'success' : `${outcome.error.code}: ${outcome.error.message}`}`);
  assert.equal(outcome.queryId, QUERY_ID);
  assert.deepEqual(outcome.rows, rows);
  assert.equal(outcome.truncated, truncated);
}

test('an abort that came too late: the statement completes after the cancel (ack first) and settles as the success it was', async () => {
  const { stmt, outcome, cancel } = start();
  cancel();
  assert.equal(stmt.cancels, 1, 'the abort is sent to Snowflake');
  stmt.cancelAck!(undefined);
  stmt.complete!(undefined, stmt);
  stmt.rows.end(['1']);
  assertRan(await outcome, [[1]]);
});

test('an abort that came too late: completion first, then the acknowledgement — still a success', async () => {
  const { stmt, outcome, cancel } = start();
  cancel();
  stmt.complete!(undefined, stmt);
  stmt.cancelAck!(undefined);
  stmt.rows.end(['1']);
  assertRan(await outcome, [[1]]);
});

test('a cancel after Snowflake completed the statement lets its rows be read: a success with its query id', async () => {
  const { stmt, outcome, cancel, settled } = start();
  stmt.complete!(undefined, stmt);
  cancel();
  await turn();
  assert.equal(settled(), false, 'the result is still being read');
  assert.equal(stmt.cancels, 0, 'nothing to abort: the statement has ended');
  stmt.rows.end(['1']);
  assertRan(await outcome, [[1]]);
});

test('a completed statement whose rows do not come within the grace period settles with the rows read, truncated', async () => {
  const { stmt, outcome, cancel } = start({ total: 5, cancelGraceMs: 20 });
  stmt.complete!(undefined, stmt);
  stmt.rows.write(['1']);
  await turn();
  cancel();
  // The rest never arrives: the grace period ends the reading, not the call's outcome.
  assertRan(await outcome, [[1]], true);
});

test('a statement Snowflake stopped settles with the cancel reason', async () => {
  const { stmt, outcome, cancel } = start();
  cancel();
  stmt.complete!(Object.assign(new Error('SQL execution canceled'), { code: '000604' }), stmt);
  stmt.cancelAck!(undefined);
  const settled = await outcome;
  assert.equal(settled.ok, false);
  assert.equal(!settled.ok && settled.error.code, 'QUERY_TIMEOUT');
  assert.equal(!settled.ok && settled.healthy, true);
});

test('a cancel Snowflake never confirms, of a statement that never ends, costs the connection after the grace period', async () => {
  const { outcome, cancel } = start({ cancelGraceMs: 20 });
  cancel();
  const settled = await outcome;
  assert.equal(settled.ok, false);
  assert.equal(!settled.ok && settled.healthy, false);
});
