/**
 * The tools on Snowflake (the test double), where the embedded warehouse's fixes of what a tool echoes and
 * of query_view must change nothing they should not: an unquoted name is Snowflake's upper case, echoed so
 * without extra look-ups, and query_view refuses a table (SHOW VIEWS lists no tables) as describe_view does.
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
  warehouse = new SnowflakeWarehouse(doubleProfile(double, { pool: { max: 2 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
});

after(async () => {
  await warehouse?.close();
  await double?.close();
});

function client(t: Parameters<typeof coreOver>[0]) {
  return localClient(t, coreOver(t, warehouse, { kind: 'snowflake', name: 'sf', defaultDatabase: 'ANALYTICS', defaultSchema: 'PUBLIC' }));
}

test('names are echoed as Snowflake reads them, unquoted upper-cased, with no look-up added', async (t) => {
  const c = await client(t);
  const before = double.queries.length;
  const data = async (name: string, args: Record<string, unknown>) => {
    const result = await c.callTool({ name, arguments: args });
    assert.ok(!result.isError, textOf(result as never));
    return result.structuredContent as Record<string, unknown>;
  };
  const listed = await data('list_tables', { database: 'analytics', schema: 'public' });
  assert.deepEqual([listed.database, listed.schema], ['ANALYTICS', 'PUBLIC']);
  const described = await data('describe_table', { table_name: 'analytics.public.events' });
  assert.deepEqual([described.database, described.schema, described.name], ['ANALYTICS', 'PUBLIC', 'EVENTS']);
  const odd = await data('describe_table', { table_name: '"Odd Schema"."Mixed Case"', database: 'ANALYTICS' });
  assert.deepEqual([odd.schema, odd.name], ['Odd Schema', 'Mixed Case']);
  const sent = double.queries.slice(before).map((q) => q.sql);
  assert.deepEqual(sent.filter((sql) => /^SHOW (SCHEMAS|DATABASES)/.test(sql)), [], 'no catalog look-up for the echo on Snowflake');
});

test('query_view refuses a table (SHOW VIEWS does not list it) and reads a view', async (t) => {
  const c = await client(t);
  const refused = await c.callTool({ name: 'query_view', arguments: { view_name: 'EVENTS' } });
  assert.equal(refused.isError, true);
  assert.match(textOf(refused as never), /View ANALYTICS\.PUBLIC\.EVENTS does not exist: EVENTS is a table\. Use execute_query .* or describe_table for it\./);
  assert.ok(!double.queries.some((q) => /FROM "ANALYTICS"\."PUBLIC"\."EVENTS"/.test(q.sql)), 'the table was never read');
  const view = await c.callTool({ name: 'query_view', arguments: { view_name: 'clicks' } });
  assert.ok(!view.isError, textOf(view as never));
  assert.ok(double.queries.some((q) => q.sql === 'SHOW VIEWS IN SCHEMA "ANALYTICS"."PUBLIC"'));
});
