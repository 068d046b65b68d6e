/**
 * What the tools echo on the embedded warehouse is the catalog's own spelling of a name: DuckDB resolves
 * `Mixed` (normalized to MIXED, as Snowflake would read it) to the schema "Mixed", and an answer naming
 * MIXED next to rows that say "Mixed" names a schema that does not exist as spelled. A role that grants
 * "Mixed" and is refused MIXED is told how to write the name.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/client';
import type { DuckDbWarehouse } from '../../src/hub/warehouse/duckdb/duckdb-warehouse.js';
import { editedSample, type EditedSample } from '../helpers/edited-sample.js';
import { textOf } from '../helpers/harness.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

let edited: EditedSample;
let warehouse: DuckDbWarehouse;

before(async () => {
  // The generated sample has only upper-case names; a copy with mixed-case ones, its stamp kept.
  edited = await editedSample(`CREATE SCHEMA "Mixed"; CREATE TABLE "Mixed"."MyTable"(i INTEGER); CREATE TABLE "Mixed"."a.b"(i INTEGER);
    CREATE TABLE "Mixed"."ORDERS"(i INTEGER); CREATE VIEW "Mixed"."lowerView" AS SELECT 1 AS one; CREATE SCHEMA "Empty"`);
  warehouse = edited.warehouse;
});

after(async () => {
  await edited?.close();
});

const CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['SNOWMUX_SAMPLE.TPCH.*', 'SNOWMUX_SAMPLE."Mixed"."a.b"']
`;

async function answer(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name, arguments: args });
  assert.ok(!result.isError, `${name} ${JSON.stringify(args)}: ${textOf(result as never)}`);
  return result.structuredContent as Record<string, unknown>;
}

async function refusal(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  assert.ok(result.isError, `${name} ${JSON.stringify(args)} was answered`);
  return textOf(result as never);
}

function sample(t: Parameters<typeof coreOver>[0]) {
  return coreOver(t, warehouse, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH', config: CONFIG });
}

test('list, describe and search echo the names the catalog resolved, whatever case they were asked in', async (t) => {
  const client = await localClient(t, sample(t));
  const listed = await answer(client, 'list_tables', { schema: 'Mixed' });
  assert.equal(listed.schema, 'Mixed');
  assert.deepEqual([...new Set((listed.tables as { schema: string }[]).map((r) => r.schema))], ['Mixed']);
  assert.equal((await answer(client, 'list_tables', { schema: 'empty' })).schema, 'Empty', 'an empty schema too');
  assert.equal((await answer(client, 'list_views', { schema: 'MIXED', database: '"snowmux_sample"' })).database, 'SNOWMUX_SAMPLE');
  assert.equal((await answer(client, 'list_schemas', { database: '"snowmux_sample"' })).database, 'SNOWMUX_SAMPLE');

  const described = await answer(client, 'describe_table', { table_name: 'Mixed.MyTable' });
  assert.deepEqual([described.database, described.schema, described.name], ['SNOWMUX_SAMPLE', 'Mixed', 'MyTable']);
  const view = await answer(client, 'describe_view', { view_name: 'lowerview', schema: 'mixed' });
  assert.deepEqual([view.schema, view.name], ['Mixed', 'lowerView']);
  const text = textOf((await client.callTool({ name: 'describe_table', arguments: { table_name: 'Mixed.MyTable' } })) as never);
  assert.match(text, /^SNOWMUX_SAMPLE\.Mixed\.MyTable/);

  const scoped = await answer(client, 'search_objects', { query: 'orders', database: 'SNOWMUX_SAMPLE', schema: 'Mixed' });
  const unscoped = await answer(client, 'search_objects', { query: 'orders' });
  const inMixed = (matches: unknown) => (matches as { schema: string | null }[]).filter((m) => m.schema?.toUpperCase() === 'MIXED').map((m) => m.schema);
  assert.deepEqual(inMixed(scoped.matches), ['Mixed']);
  assert.deepEqual(inMixed(scoped.matches), inMixed(unscoped.matches));
});

test('a refusal of a name the role grants in another case says how to write it', async (t) => {
  const rita = await localClient(t, sample(t), 'rita');
  for (const [tool, args] of [
    ['list_tables', { schema: 'Mixed' }],
    ['describe_table', { table_name: 'Mixed."a.b"' }],
    ['execute_query', { query: 'SELECT * FROM Mixed."a.b"' }],
  ] as const) {
    const text = await refusal(rita, tool, args);
    assert.match(text, /Access denied/, tool);
    assert.match(text, /The role allows SNOWMUX_SAMPLE\."Mixed"(\."a\.b")?, which differs only in case: write the name exactly so, quotes included/, `${tool}: ${text}`);
  }
  // Written so, it is served; a name no rule spells in another case gets no such advice.
  assert.equal((await answer(rita, 'describe_table', { table_name: '"Mixed"."a.b"' })).name, 'a.b');
  assert.doesNotMatch(await refusal(rita, 'describe_table', { table_name: 'Mixed.MyTable' }), /differs only in case/);
});
