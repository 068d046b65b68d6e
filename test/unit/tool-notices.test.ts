/**
 * What the tools say when a call is not what they do, or asks past what there is: explain_query given an
 * EXPLAIN statement, search_objects paged past its last match, query_history filtered to nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectKind, QueryPlan, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';
import { checkSql } from '../../src/hub/guard/sql/policy.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

/** One schema with three tables; records what reached it. */
class Small implements Warehouse {
  kind: 'duckdb' | 'snowflake' = 'duckdb';
  readonly explained: string[] = [];
  /** The schema's tables: three, or as many as a test sets. */
  tables = ['ORDERS', 'ORDER_LINES', 'OTHER'];
  info() {
    return { kind: this.kind, name: 'small', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 };
  }
  async query(): Promise<QueryResult> {
    return { columns: [{ name: 'N', type: 'INTEGER' }], rows: [[1]], rowCount: 1, truncated: false, elapsedMs: 0 };
  }
  async explain(sql: string): Promise<QueryPlan> {
    this.explained.push(sql);
    return { estimate: { rows: 1 }, operations: [] };
  }
  async listDatabases() {
    return [{ name: 'DB' }];
  }
  async listSchemas(database: string) {
    return [{ database, name: 'S' }];
  }
  async listObjects(database: string, schema: string, kind: ObjectKind) {
    return kind === 'table' ? this.tables.map((name) => ({ database, schema, name, kind })) : [];
  }
  async describeObject() {
    return [{ name: 'ID', type: 'INTEGER', nullable: false }];
  }
  async close() {}
}

async function connected(t: { after(fn: () => unknown): void }) {
  const warehouse = new Small();
  const client = await localClient(t, coreOver(t, warehouse, { name: 'small' }));
  return { client, warehouse };
}

const text = (result: { content?: unknown }) => (result.content as { text: string }[])[0]!.text;

test('explain_query given an EXPLAIN statement says to pass the query itself; nothing reaches the warehouse', async (t) => {
  const { client, warehouse } = await connected(t);
  for (const query of ['explain select 1', '  -- why\n/* plan */ EXPLAIN USING TABULAR select 1', 'Explain analyze select 1']) {
    const result = await client.callTool({ name: 'explain_query', arguments: { query } });
    assert.equal(result.isError, true, query);
    assert.match(text(result), /pass the query itself; explain_query adds EXPLAIN/, query);
    assert.doesNotMatch(text(result), /FORMAT json|USING TABULAR select/, query);
  }
  assert.deepEqual(warehouse.explained, []);
  const plain = await client.callTool({ name: 'explain_query', arguments: { query: 'select explain from t' } });
  assert.ok(!plain.isError, JSON.stringify(plain));
  assert.equal(warehouse.explained.length, 1);
});

test('search_objects: an offset past the last match says so; a query of only spaces is refused', async (t) => {
  const { client } = await connected(t);
  const all = await client.callTool({ name: 'search_objects', arguments: { query: 'order' } });
  assert.match(text(all), /2 matches\./);
  for (const offset of [2, 100000]) {
    const past = await client.callTool({ name: 'search_objects', arguments: { query: 'order', offset } });
    assert.ok(!past.isError);
    assert.match(text(past), new RegExp(`Offset ${offset} is past the last of 2 matches: call again with an offset below 2\\.`));
    assert.doesNotMatch(text(past), /showing/);
  }
  const blank = await client.callTool({ name: 'search_objects', arguments: { query: '   ' } });
  assert.equal(blank.isError, true);
  assert.match(text(blank), /no words to look for/);
});

test('search_objects with include_columns, narrowed to one schema of more objects than it describes: says how many were not searched and the query that searches them', async (t) => {
  const { client, warehouse } = await connected(t);
  warehouse.tables = Array.from({ length: 300 }, (_, i) => `T${String(i).padStart(3, '0')}`);
  const narrowed = await client.callTool({ name: 'search_objects', arguments: { query: "needle o'k", include_columns: true, database: 'DB', schema: 'S' } });
  assert.equal((narrowed.structuredContent as { partial: boolean }).partial, true);
  assert.match(text(narrowed), /The columns of 100 objects were not searched \(one call describes at most 200\)\./);
  assert.match(text(narrowed), /run execute_query with database="DB" and: SELECT table_name, column_name FROM INFORMATION_SCHEMA\.COLUMNS WHERE table_catalog = 'DB' AND table_schema = 'S' AND column_name ILIKE '%needle%' ESCAPE '\\' AND column_name ILIKE '%o''k%' ESCAPE '\\'$/);
  assert.doesNotMatch(text(narrowed), /narrow it with database and schema/i);
  const wide = await client.callTool({ name: 'search_objects', arguments: { query: 'needle', include_columns: true } });
  assert.match(text(wide), /Narrow it with database and schema/);
});

test('search_objects: the query it gives for the columns it did not search looks for each word as written (`_`, `%` and a backslash are no wildcards or escapes), in the engine\'s own string syntax', async (t) => {
  const advice = async (kind: 'duckdb' | 'snowflake') => {
    const warehouse = new Small();
    warehouse.kind = kind;
    warehouse.tables = Array.from({ length: 300 }, (_, i) => `T${String(i).padStart(3, '0')}`);
    const client = await localClient(t, coreOver(t, warehouse, { kind, name: 'small', defaultDatabase: 'DB', defaultSchema: 'S' }));
    const result = await client.callTool({ name: 'search_objects', arguments: { query: "a_b 100% x\\'y", include_columns: true, database: 'DB', schema: 'S' } });
    return /and: (SELECT .*)$/.exec(text(result))![1]!;
  };
  // DuckDB: a backslash is an ordinary character in a string, so the escape is written once.
  const duck = await advice('duckdb');
  assert.equal(
    duck,
    "SELECT table_name, column_name FROM INFORMATION_SCHEMA.COLUMNS WHERE table_catalog = 'DB' AND table_schema = 'S'" +
      String.raw` AND column_name ILIKE '%a\_b%' ESCAPE '\' AND column_name ILIKE '%100\%%' ESCAPE '\' AND column_name ILIKE '%x\\''y%' ESCAPE '\'`,
  );
  // Snowflake: its strings read `\\` as one backslash (and `\'` as a quote that does not end the string), so each is doubled.
  const sf = await advice('snowflake');
  assert.equal(
    sf,
    "SELECT table_name, column_name FROM INFORMATION_SCHEMA.COLUMNS WHERE table_catalog = 'DB' AND table_schema = 'S'" +
      String.raw` AND column_name ILIKE '%a\\_b%' ESCAPE '\\' AND column_name ILIKE '%100\\%%' ESCAPE '\\' AND column_name ILIKE '%x\\\\''y%' ESCAPE '\\'`,
  );
  // Each reads as one statement that runs on its engine.
  for (const [sql, dialect] of [[duck, 'duckdb'], [sf, 'snowflake']] as const) {
    const verdict = checkSql(sql, { allowWrite: false, dialect });
    assert.ok(verdict.allowed, `${dialect}: ${verdict.allowed ? '' : verdict.message}`);
  }
});

test('query_history: a filter that matches none of the recent calls says so (not "no calls yet"); the table names each call\'s tool', async (t) => {
  const { client } = await connected(t);
  const empty = await client.callTool({ name: 'query_history', arguments: { outcome: 'error' } });
  assert.match(text(empty), /No SQL calls of yours through this hub yet\./);
  await client.callTool({ name: 'execute_query', arguments: { query: 'select 1' } });
  await client.callTool({ name: 'explain_query', arguments: { query: 'select 2' } });
  const none = await client.callTool({ name: 'query_history', arguments: { outcome: 'error' } });
  assert.match(text(none), /None of the last 2 SQL call\(s\) of yours through this hub ended "error"\. Leave out outcome to see them\./);
  const all = text(await client.callTool({ name: 'query_history', arguments: {} }));
  assert.match(all, /\| tool +\|/);
  assert.match(all, /\| explain_query +\|/);
  assert.match(all, /\| execute_query +\|/);
});
