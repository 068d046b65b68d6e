/**
 * A call's record (audit, query_history, status) carries the query id of its statement whatever the
 * outcome: a statement that failed, timed out or may have run is exactly the one an editor is told to
 * look up by its query id, so the record must name it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline, type ToolBody } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import type { QueryOptions, QueryResult } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from '../helpers/empty-catalog-warehouse.js';
import type { WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';

const QUERY_ID = '01b2c3d4-0000-4000-8000-0000000000aa';

const config = parseConfigText(`
[roles.writer]
identities = ["writer"]
write = true
`, 'test.toml');

/** Fails each statement with the error its SQL names, carrying the query id Snowflake gave it. */
class FailingWarehouse extends EmptyCatalogWarehouse {
  readonly kind = 'snowflake' as const;
  info() {
    return { kind: 'snowflake' as const, name: 'sf', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 };
  }
  async query(sql: string, _o: QueryOptions): Promise<QueryResult> {
    if (sql.includes('LOST')) {
      throw new SnowmuxError('CONNECTION_LOST', 'The Snowflake session was lost while the statement ran; check its outcome first.', { details: { queryId: QUERY_ID, mayHaveRun: true } });
    }
    if (sql.includes('SLOW')) throw new SnowmuxError('QUERY_TIMEOUT', 'The statement ran longer than 1000 ms and was cancelled in Snowflake.', { details: { queryId: QUERY_ID } });
    if (sql.includes('BAD')) throw new SnowmuxError('SQL_ERROR', 'Division by zero', { details: { queryId: QUERY_ID } });
    throw new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'Snowflake could not be reached.');
  }
}

function setup() {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger });
  const warehouse = new FailingWarehouse();
  const target: WarehouseTarget = { kind: 'snowflake', name: 'sf', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const records: CallRecord[] = [];
  const sink = { record: (r: CallRecord) => void records.push(r), recordStarted: async () => {} };
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: DEFAULT_LIMITS, logger, sink });
  let n = 0;
  const run = (sql: string) => {
    const body: ToolBody = async ({ warehouse: w, ctx, noteSql }) => {
      noteSql(sql);
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [] };
    };
    const session = new Session({ id: 's-writer', identity: { kind: 'local-user', name: 'writer' }, transport: 'stdio' });
    return pipeline.run(session, 'execute_query', { id: String(++n), signal: new AbortController().signal }, {}, body);
  };
  return { governance, records, run };
}

test("a failed, timed-out or may-have-run statement's query id is in its call's record", async () => {
  const { governance, records, run } = setup();
  await run('INSERT INTO T SELECT LOST FROM U');
  await run('SELECT SLOW FROM T');
  await run('SELECT BAD FROM T');
  await run('SELECT 1 FROM T');
  assert.deepEqual(
    records.map((r) => [r.errorCode, r.queryId, r.mayHaveRun]),
    [
      // A write lost with its session: the record says it may have run (audit detail, query_history).
      ['CONNECTION_LOST', QUERY_ID, true],
      ['QUERY_TIMEOUT', QUERY_ID, undefined],
      ['SQL_ERROR', QUERY_ID, undefined],
      // Nothing reached Snowflake: no query id to name.
      ['WAREHOUSE_UNAVAILABLE', null, undefined],
    ],
  );
  governance.close();
});
