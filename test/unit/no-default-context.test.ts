/**
 * A Snowflake profile may set no default database (SNOWFLAKE_DATABASE unset), or a database without a
 * default schema. A catalog tool called without the one it needs was sent to Snowflake as `IN DATABASE ""`
 * or `DB..NAME`, and answered "Database '' does not exist or not authorized … Check the name": about a name
 * the caller never gave, with advice that cannot help. Each is now told, before anything is sent, what is
 * missing and what to pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { textOf } from '../helpers/harness.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';

/** A Snowflake-kind warehouse that records what reaches it and knows one table, ANALYTICS.PUBLIC.EVENTS. */
function recording(defaultDatabase: string, defaultSchema: string): { warehouse: Warehouse; seen: string[] } {
  const seen: string[] = [];
  const warehouse = {
    kind: 'snowflake',
    info: () => ({ kind: 'snowflake', name: 'dev', detail: {}, defaultDatabase, defaultSchema, capacity: 4 }),
    query: async (sql: string) => (seen.push(`query ${sql}`), { columns: [], rows: [], rowCount: 0, truncated: false, elapsedMs: 1 }),
    listDatabases: async () => (seen.push('databases'), [{ name: 'ANALYTICS' }]),
    listSchemas: async (database: string) => (seen.push(`schemas ${JSON.stringify(database)}`), [{ name: 'PUBLIC' }]),
    listObjects: async (database: string, schema: string, kind: string) => {
      seen.push(`objects ${JSON.stringify(database)}.${JSON.stringify(schema)} ${kind}`);
      return kind === 'table' ? [{ database, schema, name: 'EVENTS', kind: 'table' }] : [];
    },
    describeObject: async (ref: unknown) => (seen.push(`describe ${JSON.stringify(ref)}`), [{ name: 'ID', type: 'NUMBER(38,0)', nullable: false }]),
    close: async () => {},
  } as unknown as Warehouse;
  return { warehouse, seen };
}

test('a profile without a default database: every catalog tool that names none is told to pass database, and nothing is sent', async (t) => {
  const { warehouse, seen } = recording('', '');
  const client = await localClient(t, coreOver(t, warehouse, { kind: 'snowflake', name: 'dev', defaultDatabase: '', defaultSchema: '' }));
  const calls: [string, Record<string, unknown>, boolean][] = [
    ['list_schemas', {}, false],
    ['list_tables', {}, false],
    ['list_views', { schema: 'PUBLIC' }, false],
    ['describe_table', { table_name: 'EVENTS' }, true],
    ['describe_view', { view_name: 'PUBLIC.V' }, true],
    ['query_view', { view_name: 'V', schema: 'PUBLIC' }, true],
  ];
  for (const [tool, args, takesName] of calls) {
    const result = await client.callTool({ name: tool, arguments: args });
    const text = textOf(result as never);
    assert.equal(result.isError, true, `${tool}: ${text}`);
    assert.equal((result._meta as Record<string, { code: string }>)['dev.snowmux/error']!.code, 'INVALID_ARGUMENT', `${tool}: ${text}`);
    assert.match(text, /^No database was given, and profile "dev" sets no default database/, tool);
    assert.match(text, /Pass database \(list_databases shows the ones you can use\)/, tool);
    assert.equal(/qualify the name \(DATABASE\.SCHEMA\.NAME\)/.test(text), takesName, `${tool}: ${text}`);
    assert.doesNotMatch(text, /''|""\.|\.\./, `${tool} names no empty database: ${text}`);
  }
  assert.deepEqual(seen, [], 'nothing was sent for a database the caller never named');
  // Naming the database (or a fully qualified name) works as before.
  const listed = await client.callTool({ name: 'list_schemas', arguments: { database: 'analytics' } });
  assert.notEqual(listed.isError, true, textOf(listed as never));
  const described = await client.callTool({ name: 'describe_table', arguments: { table_name: 'ANALYTICS.PUBLIC.EVENTS' } });
  assert.notEqual(described.isError, true, textOf(described as never));
  assert.deepEqual((seen as string[]).filter((s) => s.startsWith('describe')), ['describe {"database":"ANALYTICS","schema":"PUBLIC","name":"EVENTS"}']);
});

test('a profile with a default database but no default schema: a name without its schema is told to pass schema, not sent as DB..NAME', async (t) => {
  const { warehouse, seen } = recording('ANALYTICS', '');
  const client = await localClient(t, coreOver(t, warehouse, { kind: 'snowflake', name: 'dev', defaultDatabase: 'ANALYTICS', defaultSchema: '' }));
  for (const [tool, args] of [['describe_table', { table_name: 'EVENTS' }], ['describe_view', { view_name: 'V' }], ['query_view', { view_name: 'V' }]] as const) {
    const result = await client.callTool({ name: tool, arguments: args });
    const text = textOf(result as never);
    assert.equal(result.isError, true, `${tool}: ${text}`);
    assert.match(text, /^No schema was given, and profile "dev" sets no default schema for database ANALYTICS\. Pass schema \(list_schemas shows the schemas of ANALYTICS\), or qualify the name \(SCHEMA\.NAME\)/, tool);
  }
  assert.deepEqual(seen, []);
  // list_tables without a schema lists every schema of the default database, as before.
  const listed = await client.callTool({ name: 'list_tables', arguments: {} });
  assert.notEqual(listed.isError, true, textOf(listed as never));
  const described = await client.callTool({ name: 'describe_table', arguments: { table_name: 'PUBLIC.EVENTS' } });
  assert.notEqual(described.isError, true, textOf(described as never));
});
