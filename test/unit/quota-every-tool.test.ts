/**
 * No tool can hand a caller more than is left of its `rows` or `bytes` quota: every tool the hub lists (all of
 * them, on a Snowflake target) is called under a role whose budget is far below what the warehouse would answer,
 * and after each call the budget's usage is at most its limit. The warehouse here answers generously to every
 * operation, counts bytes its own way (as the Snowflake reader does, a byte more a row), and its search service
 * has no byte cap at all: what holds the answer to the budget is the hub. A tool the hub lists without an entry
 * here fails the file, so a new tool that returns warehouse data cannot go past a budget unseen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/client';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import type {
  AnalystReply,
  ColumnDescription,
  DatabaseInfo,
  JsonValue,
  ObjectInfo,
  ObjectKind,
  ObjectRef,
  QueryOptions,
  QueryResult,
  SchemaInfo,
  SearchReply,
  SearchRequest,
  Warehouse,
} from '../../src/hub/warehouse/types.js';
import { defer, textOf, type Cleanup } from '../helpers/harness.js';
import { localClient } from '../helpers/in-memory-hub.js';

const MANY = 60;

/** A result read as a warehouse reads it: up to maxRows, then up to maxBytes counted as the Snowflake reader counts (JSON + 1 a row). */
function capped(rows: JsonValue[][], maxRows: number, maxBytes: number | undefined, queryId: string): QueryResult {
  const out: JsonValue[][] = [];
  let bytes = 0;
  let truncatedBy: 'rows' | 'bytes' | undefined;
  for (const row of rows) {
    if (out.length >= maxRows) {
      truncatedBy = 'rows';
      break;
    }
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (maxBytes !== undefined && bytes + size > maxBytes) {
      truncatedBy = 'bytes';
      break;
    }
    bytes += size;
    out.push(row);
  }
  return { columns: [{ name: 'N', type: 'NUMBER' }, { name: 'NAME', type: 'TEXT' }], rows: out, rowCount: out.length, truncated: truncatedBy !== undefined, truncatedBy, queryId, totalRows: rows.length, elapsedMs: 1 };
}

class GenerousWarehouse implements Warehouse {
  readonly kind = 'snowflake' as const;
  readonly rows: JsonValue[][] = Array.from({ length: MANY }, (_, i) => [i, `name-${String(i).padStart(3, '0')}`]);
  #queries = 0;
  info() {
    return { kind: 'snowflake' as const, name: 'generous', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 4 };
  }
  async query(_sql: string, o: QueryOptions): Promise<QueryResult> {
    return capped(this.rows, o.maxRows, o.maxBytes, `q-${++this.#queries}`);
  }
  async fetchResults(queryId: string, page: { offset: number; limit: number; maxBytes?: number }): Promise<QueryResult> {
    return capped(this.rows.slice(page.offset), page.limit, page.maxBytes, queryId);
  }
  async listDatabases(): Promise<DatabaseInfo[]> {
    return [{ name: 'DB' }, ...Array.from({ length: MANY }, (_, i) => ({ name: `DB_${i}` }))];
  }
  async listSchemas(database: string): Promise<SchemaInfo[]> {
    return [{ database, name: 'S' }, ...Array.from({ length: MANY }, (_, i) => ({ database, name: `S_${i}` }))];
  }
  async listObjects(database: string, schema: string, kind: ObjectKind): Promise<ObjectInfo[]> {
    const named = kind === 'view' ? 'V' : 'T';
    return [{ database, schema, name: named, kind }, ...Array.from({ length: MANY }, (_, i) => ({ database, schema, name: `${named}_${i}`, kind }))];
  }
  async describeObject(): Promise<ColumnDescription[]> {
    return Array.from({ length: MANY }, (_, i) => ({ name: `C_${i}`, type: 'NUMBER', nullable: true }));
  }
  async explain() {
    return { estimate: { bytes: 1 }, operations: [{ operation: 'TableScan', objects: ['DB.S.T'], estimate: { bytes: 1 } }] };
  }
  async queryProfile(queryId: string) {
    return { queryId, operators: [{ operatorId: 0, parentOperators: [], operatorType: 'TableScan' }] };
  }
  async queryFacts() {
    return [];
  }
  async cortexAnalyst(): Promise<AnalystReply> {
    return { text: 'All of T.', sql: 'SELECT N, NAME FROM DB.S.T', suggestions: [], warnings: [] };
  }
  /** A search service answers up to the limit asked, with no byte cap of its own. */
  async cortexSearch(_service: ObjectRef, request: SearchRequest): Promise<SearchReply> {
    return { results: this.rows.slice(0, request.limit).map(([n, name]) => ({ N: n!, NAME: name!, TEXT: `about ${String(name)}` })) };
  }
  async close() {}
}

const ROWS_LIMIT = 4;
const BYTES_LIMIT = 90;
/** No row or search result here is this large as JSON: a bytes budget cut at the budget leaves less than this unspent. */
const ROW_BYTES_MOST = 50;
const CONFIG = `
[roles.rowq]
identities = ["rowq"]
[roles.rowq.quota]
window = "1h"
rows = ${ROWS_LIMIT}
[roles.byteq]
identities = ["byteq"]
[roles.byteq.quota]
window = "1h"
bytes = ${BYTES_LIMIT}
`;

type Result = Awaited<ReturnType<Client['callTool']>>;
const codeOf = (r: Result) => ((r._meta as Record<string, unknown> | undefined)?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

/** One call per tool; `returns` marks the tools whose answer is warehouse rows (they must answer, cut, not be refused). */
const CALLS: Record<string, { returns?: boolean; call: (c: Client) => Promise<Result> }> = {
  list_databases: { call: (c) => c.callTool({ name: 'list_databases', arguments: {} }) },
  list_schemas: { call: (c) => c.callTool({ name: 'list_schemas', arguments: { database: 'DB' } }) },
  list_tables: { call: (c) => c.callTool({ name: 'list_tables', arguments: { database: 'DB', schema: 'S' } }) },
  list_views: { call: (c) => c.callTool({ name: 'list_views', arguments: { database: 'DB', schema: 'S' } }) },
  describe_table: { call: (c) => c.callTool({ name: 'describe_table', arguments: { table_name: 'T' } }) },
  describe_view: { call: (c) => c.callTool({ name: 'describe_view', arguments: { view_name: 'V' } }) },
  execute_query: { returns: true, call: (c) => c.callTool({ name: 'execute_query', arguments: { query: 'SELECT N, NAME FROM T', limit: 50 } }) },
  fetch_results: {
    returns: true,
    call: async (c) => {
      const first = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT N, NAME FROM T', limit: 1 } });
      const queryId = (first.structuredContent as { query_id: string }).query_id;
      return c.callTool({ name: 'fetch_results', arguments: { query_id: queryId, offset: 1, limit: 50 } });
    },
  },
  query_profile: {
    call: async (c) => {
      const first = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT N, NAME FROM T', limit: 1 } });
      return c.callTool({ name: 'query_profile', arguments: { query_id: (first.structuredContent as { query_id: string }).query_id } });
    },
  },
  explain_query: { call: (c) => c.callTool({ name: 'explain_query', arguments: { query: 'SELECT N FROM T' } }) },
  query_view: { returns: true, call: (c) => c.callTool({ name: 'query_view', arguments: { view_name: 'V', limit: 50 } }) },
  search_objects: { call: (c) => c.callTool({ name: 'search_objects', arguments: { query: 't', limit: 50 } }) },
  query_history: { call: (c) => c.callTool({ name: 'query_history', arguments: {} }) },
  cortex_analyst: { returns: true, call: (c) => c.callTool({ name: 'cortex_analyst', arguments: { question: 'all of T', semantic_view: 'SV', limit: 50 } }) },
  cortex_search: { returns: true, call: (c) => c.callTool({ name: 'cortex_search', arguments: { service: 'SEARCH', query: 'name', limit: 50 } }) },
};

/** A hub core over a fresh GenerousWarehouse under CONFIG's roles, and its governance (whose quotas the calls spend). */
function hub(t: Cleanup): { core: HubCore; governance: Governance } {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText(CONFIG, 'test.toml'), 'test.toml'), logger });
  defer(t, () => governance.close());
  const warehouse = new GenerousWarehouse();
  const target = { kind: 'snowflake' as const, name: 'generous', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const core = new HubCore({ home: '/nonexistent', logger, governance, warehouses: { targetFor: () => target, describe: () => [], close: async () => {} } });
  return { core, governance };
}

async function callUnder(t: Cleanup, identity: string, tool: string): Promise<{ result: Result; used: { rows: number; bytes: number } }> {
  const { core, governance } = hub(t);
  const client = await localClient(t, core, identity);
  const result = await CALLS[tool]!.call(client);
  const quotas = (governance.snapshot() as { quotas: { identity: string; windows: { used: { rows: number; bytes: number } }[] }[] }).quotas;
  return { result, used: quotas.find((q) => q.identity === identity)?.windows[0]?.used ?? { rows: 0, bytes: 0 } };
}

test('every listed tool has a call here', async (t) => {
  const { core } = hub(t);
  const listed = (await (await localClient(t, core, 'rowq')).listTools()).tools.map((x) => x.name).sort();
  assert.deepEqual(listed, Object.keys(CALLS).sort(), 'a tool listed without an entry in CALLS (or an entry for a tool no longer listed)');
});

for (const tool of Object.keys(CALLS)) {
  test(`${tool}: the answer stays within the rows and bytes left of the quota`, async (t) => {
    for (const [identity, metric, limit] of [['rowq', 'rows', ROWS_LIMIT], ['byteq', 'bytes', BYTES_LIMIT]] as const) {
      const { result, used } = await callUnder(t, identity, tool);
      const code = codeOf(result);
      assert.ok(code === undefined || code === 'QUOTA_EXCEEDED', `${tool} under ${identity}: ${textOf(result as never)}`);
      assert.ok(used[metric] <= limit, `${tool} under a ${metric} quota of ${limit}: ${used[metric]} ${metric} charged (${textOf(result as never)})`);
      if (CALLS[tool]!.returns) {
        // Cut at the budget, and said so: not refused, not silently short.
        assert.equal(code, undefined, `${tool} under ${identity}: ${textOf(result as never)}`);
        assert.match(textOf(result as never), /quota had \d+ (rows?|bytes) left/, `${tool} under ${identity}`);
        if (metric === 'rows') assert.equal(used.rows, ROWS_LIMIT, `${tool}: the rows budget is spent exactly`);
        else assert.ok(used.bytes > BYTES_LIMIT - ROW_BYTES_MOST, `${tool}: ${used.bytes} of ${BYTES_LIMIT} bytes used: the next row would have fitted`);
      }
    }
  });
}
