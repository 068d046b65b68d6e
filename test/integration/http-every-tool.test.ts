/**
 * Every tool a hub lists over `/mcp` is called there, by every kind of real client (SDK v2 pinned to
 * 2026-07-28, SDK v2 in the 2025 era, SDK v1), with valid arguments, and answers a real result: on a hub
 * whose warehouse is the Snowflake double (all tools, Cortex and a team-defined tool included), and on the
 * embedded DuckDB warehouse (which lists only what it can serve). The set of tools called must equal the set
 * listed, so a tool added later without a call here fails this file.
 *
 * One hub per warehouse and engine, shared by the three client kinds. Both engines (uWebSockets.js and
 * node:http), like http-face-cases.ts: the whole file takes a few seconds per engine, and the answers here
 * (a 25 KB listing, 2025-era SSE answers, Cortex round trips) are the sizes and shapes an engine can mangle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileEnv, startSnowflakeDouble, type DoubleCortexOptions } from '../doubles/snowflake/index.js';
import { connectClient, defer, runCli, startHub, tempHome, textOf, type AnyClient, type ClientKind, type ToolResult } from '../helpers/harness.js';
import { BUILTIN_TOOL_NAMES } from '../../src/hub/tools/team-tools.js';

const KINDS: ClientKind[] = ['v2-modern', 'v2-legacy', 'v1'];
const PASSWORD = 'every-tool-pw';
const IDENTITY = 'every-tool';

const CORTEX: DoubleCortexOptions = {
  analyst: {
    'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SALES_SV': [
      { when: 'customers per nation', text: 'Customers per nation, the three largest.', sql: 'SELECT NATION, CUSTOMERS FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER_BY_NATION ORDER BY CUSTOMERS DESC, NATION LIMIT 3' },
    ],
  },
  searchServices: {
    'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH': { table: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION', searchColumn: 'R_COMMENT', attributes: ['R_NAME'] },
  },
};

/** A team-defined tool: unqualified names resolve in the warehouse's default schema (TPC-H on both). */
const TEAM_TOOL = `
[tools.nations_in_region]
description = "Nations of one region, by region name"
sql = "SELECT n.N_NAME FROM NATION n JOIN REGION r ON n.N_REGIONKEY = r.R_REGIONKEY WHERE r.R_NAME = ? ORDER BY 1"

[[tools.nations_in_region.params]]
name = "region"
type = "string"
description = "Region name, e.g. ASIA"
`;

interface Warehouse {
  engine: 'snowflake' | 'duckdb';
  database: string;
  schema: string;
}

/** What one client learnt from earlier calls (a query id to page and profile). */
interface Memory {
  queryId?: string;
}

type Call = (c: AnyClient, w: Warehouse, m: Memory) => Promise<void>;

const rows = (r: ToolResult) => (r.structuredContent as { rows: unknown[][] }).rows;
function ok(r: ToolResult, what: string): ToolResult {
  assert.notEqual(r.isError, true, `${what}: ${textOf(r)}`);
  assert.ok(r.content.length > 0 && textOf(r).length > 0, `${what}: no text content`);
  assert.ok(r.structuredContent, `${what}: no structured content`);
  return r;
}

/**
 * One call per tool, in this order (later calls use what earlier ones ran). A tool the hub lists without an
 * entry here fails the test: give it one.
 */
const CALLS: [string, Call][] = [
  ['list_databases', async (c, w) => {
    const r = ok(await c.callTool('list_databases'), 'list_databases');
    assert.ok((r.structuredContent!.databases as { name: string }[]).some((d) => d.name === w.database), textOf(r));
  }],
  ['list_schemas', async (c, w) => {
    const r = ok(await c.callTool('list_schemas', { database: w.database }), 'list_schemas');
    assert.ok((r.structuredContent!.schemas as { name: string }[]).some((s) => s.name === w.schema), textOf(r));
  }],
  ['list_tables', async (c, w) => {
    const r = ok(await c.callTool('list_tables', { database: w.database, schema: w.schema }), 'list_tables');
    const names = (r.structuredContent!.tables as { name: string }[]).map((x) => x.name);
    for (const t of ['NATION', 'REGION', 'CUSTOMER', 'ORDERS']) assert.ok(names.includes(t), names.join(','));
  }],
  ['list_views', async (c, w) => {
    const r = ok(await c.callTool('list_views', { database: w.database, schema: w.schema }), 'list_views');
    assert.ok((r.structuredContent!.views as unknown[]).length > 0, textOf(r));
  }],
  ['describe_table', async (c, w) => {
    const r = ok(await c.callTool('describe_table', { database: w.database, schema: w.schema, table_name: 'nation' }), 'describe_table');
    assert.deepEqual((r.structuredContent!.columns as { name: string }[]).map((x) => x.name), ['N_NATIONKEY', 'N_NAME', 'N_REGIONKEY', 'N_COMMENT']);
  }],
  ['describe_view', async (c, w) => {
    const views = (await c.callTool('list_views', { database: w.database, schema: w.schema })).structuredContent!.views as { name: string }[];
    const r = ok(await c.callTool('describe_view', { database: w.database, schema: w.schema, view_name: views[0]!.name }), 'describe_view');
    assert.equal(r.structuredContent!.name, views[0]!.name);
    assert.ok((r.structuredContent!.columns as unknown[]).length > 0, textOf(r));
  }],
  ['execute_query', async (c, _w, m) => {
    // Truncated at 2 of 25 rows: the query id pages on with fetch_results and is profiled by query_profile.
    const r = ok(await c.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION ORDER BY N_NATIONKEY', limit: 2 }), 'execute_query');
    assert.deepEqual(rows(r), [['ALGERIA'], ['ARGENTINA']]);
    assert.equal(r.structuredContent!.truncated, true, textOf(r));
    m.queryId = r.structuredContent!.query_id as string;
    assert.ok(m.queryId, 'execute_query names its query id');
  }],
  ['fetch_results', async (c, _w, m) => {
    const r = ok(await c.callTool('fetch_results', { query_id: m.queryId!, offset: 2, limit: 2 }), 'fetch_results');
    assert.deepEqual(rows(r), [['BRAZIL'], ['CANADA']]);
  }],
  ['query_profile', async (c, _w, m) => {
    const r = ok(await c.callTool('query_profile', { query_id: m.queryId! }), 'query_profile');
    assert.ok((r.structuredContent!.operators as { operator_type: string }[]).some((o) => o.operator_type === 'TableScan'), textOf(r));
  }],
  ['explain_query', async (c) => {
    const r = ok(await c.callTool('explain_query', { query: 'SELECT COUNT(*) FROM ORDERS' }), 'explain_query');
    assert.ok((r.structuredContent!.operations as unknown[]).length > 0, textOf(r));
  }],
  ['query_view', async (c, w) => {
    const views = (await c.callTool('list_views', { database: w.database, schema: w.schema })).structuredContent!.views as { name: string }[];
    const r = ok(await c.callTool('query_view', { database: w.database, schema: w.schema, view_name: views[0]!.name, limit: 1 }), 'query_view');
    assert.equal(rows(r).length, 1, textOf(r));
  }],
  ['search_objects', async (c, w) => {
    const r = ok(await c.callTool('search_objects', { query: 'nation', database: w.database, include_columns: true }), 'search_objects');
    const matches = r.structuredContent!.matches as { kind: string; object: string | null; column: string | null }[];
    assert.ok(matches.some((x) => x.kind === 'table' && x.object === 'NATION'), textOf(r));
    assert.ok(matches.some((x) => x.kind === 'column' && x.column === 'N_NATIONKEY'), textOf(r));
  }],
  ['query_history', async (c, w, m) => {
    const r = ok(await c.callTool('query_history', { limit: 50, include_snowflake: w.engine === 'snowflake' }), 'query_history');
    const mine = (r.structuredContent!.queries as { query_id: string | null; identity: string; snowflake: unknown }[]).find((q) => q.query_id === m.queryId);
    assert.ok(mine, `query_history shows the query this client ran: ${textOf(r)}`);
    assert.equal(mine.identity, IDENTITY);
    if (w.engine === 'snowflake') assert.ok(mine.snowflake, `Snowflake's own record joined: ${textOf(r)}`);
  }],
  ['cortex_analyst', async (c) => {
    const r = ok(await c.callTool('cortex_analyst', { question: 'How many customers per nation?', semantic_view: 'sales_sv' }), 'cortex_analyst');
    const a = r.structuredContent as { answer: string; sql: string; result: { rows: unknown[][] } };
    assert.match(a.answer, /per nation/);
    assert.match(a.sql, /CUSTOMER_BY_NATION/);
    assert.equal(a.result.rows.length, 3);
  }],
  ['cortex_search', async (c) => {
    const r = ok(await c.callTool('cortex_search', { service: 'region_search', query: 'deposits', columns: ['R_NAME'], filter: { '@eq': { R_NAME: 'ASIA' } } }), 'cortex_search');
    assert.deepEqual((r.structuredContent!.results as Record<string, unknown>[]).map((x) => x.R_NAME), ['ASIA']);
  }],
  ['nations_in_region', async (c) => {
    const r = ok(await c.callTool('nations_in_region', { region: 'ASIA' }), 'nations_in_region');
    // The double's NATION holds the first 15 TPC-H nations, DuckDB's all 25.
    const names = rows(r).map((x) => x[0]);
    for (const n of ['INDIA', 'INDONESIA', 'JAPAN']) assert.ok(names.includes(n), names.join(','));
    assert.ok(names.every((n) => ['CHINA', 'INDIA', 'INDONESIA', 'JAPAN', 'VIETNAM'].includes(n as string)), names.join(','));
  }],
];

/** Tools the embedded warehouse cannot serve: a DuckDB hub does not list them. */
const SNOWFLAKE_ONLY = ['cortex_analyst', 'cortex_search', 'query_profile'];

const ENGINES = ['uws', 'node'] as const;
type Engine = (typeof ENGINES)[number];

interface Rig {
  url: string;
  key: string;
  home: string;
}

async function httpHub(t: Parameters<typeof tempHome>[0], engine: Engine, env: Record<string, string>): Promise<Rig> {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_engine = "${engine}"\n${TEAM_TOOL}`);
  const hub = await startHub(t, home, [], env);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  assert.ok(url, hub.stderr());
  assert.match(hub.stderr(), engine === 'uws' ? /uWebSockets\.js/ : /node:http/);
  const key = await runCli(['keys', 'create', '--identity', IDENTITY, '--home', home]);
  assert.equal(key.code, 0, key.stderr);
  return { url, key: key.stdout.trim(), home };
}

function everyToolSuite(name: string, w: Warehouse, expected: string[], start: (t: Parameters<typeof tempHome>[0]) => Promise<Rig>): void {
  describe(name, () => {
    const cleanups: (() => unknown)[] = [];
    const ctx = { after: (fn: () => unknown) => void cleanups.push(fn) };
    let rig: Rig;
    before(async () => {
      rig = await start(ctx);
    });
    after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });

    for (const kind of KINDS) {
      test(`${kind}: lists ${expected.length} tools over /mcp and every one answers a real result`, async (t) => {
        const c = await connectClient(t, { home: rig.home, kind, command: 'http', http: { url: rig.url, key: rig.key }, name: `every-${kind}` });
        const listed = (await c.listTools()).tools.map((x) => x.name).sort();
        assert.deepEqual(listed, [...expected].sort());
        const known = new Map(CALLS);
        const missing = listed.filter((n) => !known.has(n));
        assert.deepEqual(missing, [], 'a listed tool has no call in this test: add one to CALLS');
        const memory: Memory = {};
        const called: string[] = [];
        for (const [tool, call] of CALLS) {
          if (!listed.includes(tool)) continue;
          await call(c, w, memory);
          called.push(tool);
        }
        assert.deepEqual(called.sort(), listed);
      });
    }
  });
}

const SNOWFLAKE: Warehouse = { engine: 'snowflake', database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1' };
const DUCKDB: Warehouse = { engine: 'duckdb', database: 'SNOWMUX_SAMPLE', schema: 'TPCH' };
const ALL = [...BUILTIN_TOOL_NAMES, 'nations_in_region'];

for (const engine of ENGINES) {
  everyToolSuite(`[${engine}] every tool over /mcp, Snowflake double`, SNOWFLAKE, ALL, async (t) => {
    const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }], cortex: CORTEX });
    defer(t, () => d.close());
    return httpHub(t, engine, profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: SNOWFLAKE.database, SNOWFLAKE_SCHEMA: SNOWFLAKE.schema }));
  });

  everyToolSuite(`[${engine}] every tool over /mcp, embedded DuckDB`, DUCKDB, ALL.filter((n) => !SNOWFLAKE_ONLY.includes(n)), (t) => httpHub(t, engine, {}));
}
