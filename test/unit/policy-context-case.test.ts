/**
 * The embedded DuckDB finds a database ignoring the case of ASCII letters, so a call naming "snowmux_sample"
 * runs in the sample database's default schema (TPCH), as the warehouse's USE puts it. The object rules
 * judged such a call as "another database", in its `main`: `SELECT COUNT(*) FROM ORDERS` with database
 * "snowmux_sample" read the TPCH.ORDERS a role denied.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { statementContext } from '../../src/hub/names/statement-context.js';
import { editedSample, type EditedSample } from '../helpers/edited-sample.js';
import { textOf } from '../helpers/harness.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

let edited: EditedSample;

before(async () => {
  edited = await editedSample('CREATE SCHEMA OPEN_DATA; CREATE TABLE OPEN_DATA.FACTS(I INTEGER)');
});

after(async () => {
  await edited?.close();
});

const CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['*.*.*']
deny = ['SNOWMUX_SAMPLE.TPCH.*']
`;

test('a call naming the default database in another case is judged in the schema it runs in', async (t) => {
  const core = coreOver(t, edited.warehouse, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH', config: CONFIG });
  const rita = await localClient(t, core, 'rita');
  for (const database of ['"snowmux_sample"', '"Snowmux_Sample"']) {
    for (const [tool, args] of [
      ['execute_query', { query: 'SELECT COUNT(*) AS N FROM ORDERS', database }],
      ['explain_query', { query: 'SELECT COUNT(*) AS N FROM ORDERS', database }],
      ['describe_table', { table_name: 'ORDERS', database }],
      ['query_view', { view_name: 'CUSTOMER_ORDER_SUMMARY', database }],
    ] as const) {
      const result = await rita.callTool({ name: tool, arguments: args });
      assert.equal(result.isError, true, `${tool} ${JSON.stringify(args)} was answered: ${textOf(result as never)}`);
      assert.match(textOf(result as never), /rule: deny "SNOWMUX_SAMPLE\.TPCH\.\*"/, `${tool} ${JSON.stringify(args)}`);
    }
  }
  // What the role may read there still runs.
  const allowed = await rita.callTool({ name: 'execute_query', arguments: { query: 'SELECT COUNT(*) AS N FROM OPEN_DATA.FACTS', database: '"snowmux_sample"' } });
  assert.ok(!allowed.isError, textOf(allowed as never));
});

test('the default schema belongs to the default database as each engine finds it', () => {
  const duckdb = { kind: 'duckdb' as const, defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH' };
  assert.deepEqual(statementContext(duckdb, 'snowmux_sample', undefined), { database: 'snowmux_sample', schema: 'TPCH' });
  assert.deepEqual(statementContext(duckdb, 'OTHER', undefined), { database: 'OTHER', schema: 'main' });
  // Snowflake: a quoted "snowmux_sample" is another database than SNOWMUX_SAMPLE; its session lands in PUBLIC.
  const snowflake = { ...duckdb, kind: 'snowflake' as const };
  assert.deepEqual(statementContext(snowflake, 'snowmux_sample', undefined), { database: 'snowmux_sample', schema: 'PUBLIC' });
});
