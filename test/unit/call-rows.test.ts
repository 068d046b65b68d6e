/**
 * A call's `rows` (status, audit, metrics, the `rows` quota) are what the caller receives: a tool's own
 * look-ups — the schemas list_tables walks, the catalog search_objects reads, the listing a completion filters —
 * are not counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectKind, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

/** Two schemas (and the INFORMATION_SCHEMA every database has), three tables in one, one in the other. */
class Catalog implements Warehouse {
  readonly kind = 'duckdb' as const;
  readonly tables: Record<string, string[]> = { SHOWCASE: ['ORDERS', 'ORDER_LINES', 'CUSTOMERS'], TPCH: ['NATION'], INFORMATION_SCHEMA: ['TABLES'] };
  info() {
    return { kind: 'duckdb' as const, name: 'catalog', detail: {}, defaultDatabase: 'DB', defaultSchema: 'SHOWCASE', capacity: 2 };
  }
  async query(): Promise<QueryResult> {
    return { columns: [], rows: [], rowCount: 0, truncated: false, elapsedMs: 0 };
  }
  async listDatabases() {
    return [{ name: 'DB' }];
  }
  async listSchemas(database: string) {
    return Object.keys(this.tables).map((name) => ({ database, name }));
  }
  async listObjects(database: string, schema: string, kind: ObjectKind) {
    return kind === 'table' ? (this.tables[schema] ?? []).map((name) => ({ database, schema, name, kind })) : [];
  }
  async describeObject() {
    return [{ name: 'ID', type: 'INTEGER', nullable: false }];
  }
  async close() {}
}

async function connected(t: { after(fn: () => unknown): void }) {
  const core = coreOver(t, new Catalog(), { name: 'catalog', defaultSchema: 'SHOWCASE' });
  const client = await localClient(t, core);
  /** The rows the hub recorded for its latest call of `tool`. */
  const recordedRows = (tool: string) => core.status().recent.find((c) => c.tool === tool)?.rows;
  return { client, recordedRows };
}

test('list_tables over every schema counts the tables it returns, not the schemas it walked to find them', async (t) => {
  const { client, recordedRows } = await connected(t);
  const all = await client.callTool({ name: 'list_tables', arguments: {} });
  assert.equal((all.structuredContent as { tables: unknown[] }).tables.length, 4);
  assert.equal(recordedRows('list_tables'), 4);
  const one = await client.callTool({ name: 'list_tables', arguments: { schema: 'TPCH' } });
  assert.equal((one.structuredContent as { tables: unknown[] }).tables.length, 1);
  assert.equal(recordedRows('list_tables'), 1);
});

test('search_objects counts the matches it returns, not every listing and description of its walk', async (t) => {
  const { client, recordedRows } = await connected(t);
  const found = await client.callTool({ name: 'search_objects', arguments: { query: 'order', include_columns: true } });
  const matches = (found.structuredContent as { matches: unknown[] }).matches;
  assert.equal(matches.length, 2, JSON.stringify(found.content));
  assert.equal(recordedRows('search_objects'), 2);
});

test('a completion counts the names it offers, not the whole listing it filtered', async (t) => {
  const { client, recordedRows } = await connected(t);
  const completed = await client.complete({ ref: { type: 'ref/resource', uri: 'snowflake://{database}/{schema}/{object}' }, argument: { name: 'schema', value: 'T' }, context: { arguments: { database: 'DB' } } });
  assert.deepEqual(completed.completion.values, ['TPCH']);
  assert.equal(recordedRows('describe_table'), 1);
});
