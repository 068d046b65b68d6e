/**
 * Tools that answer about the same object agree on the embedded warehouse: query_view refuses a table as
 * describe_view does; list_schemas lists `main`, which list_tables, describe_table and the SQL reach; a
 * table whose name holds a tab, which list_tables lists, is described when its name is passed.
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
  edited = await editedSample(`CREATE SCHEMA "Mixed"; CREATE TABLE "Mixed"."tab\tname"(i INTEGER); INSERT INTO "Mixed"."tab\tname" VALUES (7)`);
  warehouse = edited.warehouse;
});

after(async () => {
  await edited?.close();
});

async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  return { ...result, text: textOf(result as never), data: result.structuredContent as Record<string, unknown> };
}

function client(t: Parameters<typeof coreOver>[0]): Promise<Client> {
  return localClient(t, coreOver(t, warehouse, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH' }));
}

test('query_view refuses a table the way describe_view does, and still reads a view', async (t) => {
  const c = await client(t);
  for (const name of ['ORDERS', 'orders', 'TPCH.ORDERS']) {
    const refused = await call(c, 'query_view', { view_name: name });
    assert.equal(refused.isError, true, `${name}: ${refused.text}`);
    assert.match(refused.text, /View SNOWMUX_SAMPLE\.TPCH\.ORDERS does not exist: ORDERS is a table\. Use execute_query \(SELECT … FROM "SNOWMUX_SAMPLE"\."TPCH"\."ORDERS"\) or describe_table for it\./);
  }
  assert.match((await call(c, 'describe_view', { view_name: 'ORDERS' })).text, /ORDERS is a table\. Use describe_table/);
  const views = (await call(c, 'list_views', { schema: 'TPCH' })).data.views as { name: string }[];
  const view = await call(c, 'query_view', { view_name: views[0]!.name, limit: 1 });
  assert.ok(!view.isError, view.text);
});

test('list_schemas lists main, which the other tools reach', async (t) => {
  const c = await client(t);
  const schemas = (await call(c, 'list_schemas', {})).data.schemas as { name: string; comment: string | null }[];
  const main = schemas.find((s) => s.name === 'main');
  assert.ok(main, JSON.stringify(schemas));
  assert.match(main.comment ?? '', /SNOWMUX_SAMPLE_INFO/);
  const tables = (await call(c, 'list_tables', {})).data.tables as { schema: string; name: string }[];
  assert.ok(tables.some((r) => r.schema === 'main' && r.name === 'SNOWMUX_SAMPLE_INFO'), 'list_tables of every schema walks it too');
  assert.ok(!(await call(c, 'describe_table', { table_name: '"main".SNOWMUX_SAMPLE_INFO' })).isError);
});

test('a table whose name holds a tab is described as list_tables lists it', async (t) => {
  const c = await client(t);
  const listed = (await call(c, 'list_tables', { schema: '"Mixed"' })).data.tables as { name: string }[];
  assert.deepEqual(listed.map((r) => r.name), ['tab\tname']);
  for (const args of [{ table_name: '"tab\tname"', schema: '"Mixed"' }, { table_name: 'tab\tname', schema: 'Mixed' }, { table_name: '"Mixed"."tab\tname"' }]) {
    const described = await call(c, 'describe_table', args);
    assert.ok(!described.isError, `${JSON.stringify(args)}: ${described.text}`);
    assert.equal(described.data.name, 'tab\tname');
    assert.match(described.text, /tab\\u0009name/, 'the tab is shown escaped, never as a space');
  }
  const read = await call(c, 'query_view', { view_name: '"tab\tname"', schema: 'Mixed' });
  assert.match(read.text, /is a table\. Use execute_query/);
  // Other control characters stay refused.
  assert.equal((await call(c, 'describe_table', { table_name: '"tab\nname"', schema: '"Mixed"' })).isError, true);
});
