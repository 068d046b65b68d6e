/**
 * A spent `queries` budget refuses what it counts: warehouse queries (statements that carry SQL). It refused
 * every governed call instead — a listing answered from the catalog, a page of a result the caller already
 * ran (fetch_results), which the budget never charges — so the caller's last query of the window left it
 * unable to read that query's own rows. A spent `rows` budget still refuses every call (each returns rows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryOptions, QueryResult } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from '../helpers/empty-catalog-warehouse.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';
import { textOf } from '../helpers/harness.js';

class Paged extends EmptyCatalogWarehouse {
  readonly kind = 'duckdb' as const;
  queries = 0;
  info() {
    return { kind: 'duckdb' as const, name: 'paged', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 4 };
  }
  async query(_sql: string, o: QueryOptions): Promise<QueryResult> {
    this.queries += 1;
    const rows = [[1], [2], [3]].slice(0, o.maxRows);
    return { columns: [{ name: 'N', type: 'INTEGER' }], rows, rowCount: rows.length, truncated: rows.length < 3, queryId: `q-${this.queries}`, elapsedMs: 0 };
  }
  async fetchResults(queryId: string, page: { offset: number; limit: number }): Promise<QueryResult> {
    const rows = [[1], [2], [3]].slice(page.offset, page.offset + page.limit);
    return { columns: [{ name: 'N', type: 'INTEGER' }], rows, rowCount: rows.length, truncated: false, queryId, elapsedMs: 0 };
  }
  override async listDatabases() {
    return [{ name: 'DB' }];
  }
}

const CONFIG = (budget: string) => `
[roles.analyst]
identities = ["alice"]
tools = ["*"]
[roles.analyst.quota]
window = "1h"
${budget}
`;

/** 'ok', 'QUOTA_EXCEEDED' (a quota's refusal), or the text of another failure. */
const codeOf = (r: { isError?: boolean; content: { text?: string }[] }) => (r.isError !== true ? 'ok' : /^Quota exceeded/.test(textOf(r as never)) ? 'QUOTA_EXCEEDED' : textOf(r as never));

test('a spent queries budget refuses the next query, not a listing nor a page of the result already run', async (t) => {
  const warehouse = new Paged();
  const core = coreOver(t, warehouse, { config: CONFIG('queries = 1') });
  const client = await localClient(t, core);
  const first = await client.callTool({ name: 'execute_query', arguments: { query: 'select n from t', limit: 1 } });
  assert.equal(first.isError, undefined, textOf(first as never));
  const queryId = (first.structuredContent as { query_id: string }).query_id;
  const again = await client.callTool({ name: 'execute_query', arguments: { query: 'select n from t' } });
  assert.equal(again.isError, true);
  assert.equal(codeOf(again as never), 'QUOTA_EXCEEDED');
  assert.match(textOf(again as never), /1 query per hour/);
  assert.equal(warehouse.queries, 1, 'the refused query never reached the warehouse');
  const page = await client.callTool({ name: 'fetch_results', arguments: { query_id: queryId, offset: 1 } });
  assert.equal(codeOf(page as never), 'ok', 'a page of a result already run is no query');
  assert.deepEqual((page.structuredContent as { rows: unknown[] }).rows, [[2], [3]]);
  const listed = await client.callTool({ name: 'list_databases', arguments: {} });
  assert.equal(codeOf(listed as never), 'ok', 'a listing is no query');
  assert.equal(warehouse.queries, 1);
});

test('a spent rows budget still refuses every call', async (t) => {
  const warehouse = new Paged();
  const core = coreOver(t, warehouse, { config: CONFIG('rows = 1') });
  const client = await localClient(t, core);
  const first = await client.callTool({ name: 'execute_query', arguments: { query: 'select n from t' } });
  assert.equal(first.isError, undefined, textOf(first as never));
  const queryId = (first.structuredContent as { query_id: string }).query_id;
  for (const [name, args] of [['list_databases', {}], ['fetch_results', { query_id: queryId }], ['execute_query', { query: 'select 1' }]] as const) {
    const r = await client.callTool({ name, arguments: args });
    assert.equal(codeOf(r as never), 'QUOTA_EXCEEDED', name);
  }
});
