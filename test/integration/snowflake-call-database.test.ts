/**
 * A call that names a database but no schema runs where Snowflake's USE DATABASE lands (PUBLIC), which is
 * where the object rules judge its unqualified names, whatever schema of that database an earlier call on
 * the same pooled connection chose.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { doubleProfile } from '../doubles/snowflake/fixtures.js';
import { textOf } from '../helpers/harness.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

let double: SnowflakeDouble;
let warehouse: SnowflakeWarehouse;

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }] });
  // One connection: every call of the test reuses the session the one before it left.
  warehouse = new SnowflakeWarehouse(doubleProfile(double, { pool: { max: 1 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
});

after(async () => {
  await warehouse?.close();
  await double?.close();
});

test("a call in another database without a schema does not run in the schema an earlier call chose there: its names are read where the rules judged them (PUBLIC)", async (t) => {
  // The role may read ANALYTICS.PUBLIC and one table of "Odd Schema" (not "Mixed Case").
  const config = `[roles.analyst]\nidentities = ["alice"]\nallow = ["ANALYTICS.PUBLIC.*", 'ANALYTICS."Odd Schema".ALLOWED']\n`;
  const c = await localClient(t, coreOver(t, warehouse, { kind: 'snowflake', name: 'sf', defaultDatabase: 'SNOWFLAKE_SAMPLE_DATA', defaultSchema: 'TPCH_SF1', config }));
  const first = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1 AS ONE', database: 'ANALYTICS', schema: '"Odd Schema"' } });
  assert.ok(!first.isError, textOf(first as never));
  // Judged as ANALYTICS.PUBLIC."Mixed Case" (allowed); run in "Odd Schema" it read ANALYTICS."Odd Schema"."Mixed Case".
  const second = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT * FROM "Mixed Case"', database: 'ANALYTICS' } });
  assert.equal(second.isError, true, `read a table the role may not read: ${textOf(second as never)}`);
  assert.doesNotMatch(textOf(second as never), /\bone\b/);
  const last = double.queries.filter((q) => q.sql === 'SELECT * FROM "Mixed Case"').at(-1);
  assert.deepEqual([last?.database, last?.schema], ['ANALYTICS', 'PUBLIC']);
  const where = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT CURRENT_SCHEMA() AS S', database: 'ANALYTICS' } });
  assert.ok(!where.isError, textOf(where as never));
  assert.deepEqual((where.structuredContent as { rows: unknown[][] }).rows, [['PUBLIC']]);
});
