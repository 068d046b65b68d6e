/**
 * What the tools say when a call is not what they do, or asks past what there is: explain_query given an
 * EXPLAIN statement, search_objects paged past its last match, query_history filtered to nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { createMcpServer } from '../../src/hub/core/mcp-server.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import type { ObjectKind, QueryPlan, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';

/** One schema with three tables; records what reached it. */
class Small implements Warehouse {
  readonly kind = 'duckdb' as const;
  readonly explained: string[] = [];
  info() {
    return { kind: 'duckdb' as const, name: 'small', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 };
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
    return kind === 'table' ? ['ORDERS', 'ORDER_LINES', 'OTHER'].map((name) => ({ database, schema, name, kind })) : [];
  }
  async describeObject() {
    return [{ name: 'ID', type: 'INTEGER', nullable: false }];
  }
  async close() {}
}

async function connected(t: { after(fn: () => unknown): void }) {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  const warehouse = new Small();
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'small', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  const server = createMcpServer(attached.env);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(b);
  t.after(async () => {
    await client.close();
    await server.close();
    attached.detach('test over');
    governance.close();
  });
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
