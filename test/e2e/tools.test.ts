/**
 * Every tool, through the real CLI: `snowmux shim` (auto-starting a hub), `snowmux stdio`, and straight to
 * the hub's HTTP face (`/mcp`, with an API key), with the v2 client in both protocol eras and the v1 client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_TOOL_NAMES } from '../../src/hub/tools/team-tools.js';
import { connectClient, runCli, startHub, tempHome, textOf, type AnyClient, type ClientKind } from '../helpers/harness.js';

const KINDS: ClientKind[] = ['v2-legacy', 'v2-modern', 'v1'];
// The hub's own list of its tools (team tools may not take these names; roles' `tools` are checked against
// it) must be exactly what a session lists — less those the embedded warehouse these sessions use cannot serve.
const SNOWFLAKE_ONLY = ['cortex_analyst', 'cortex_search', 'query_profile'];
const TOOLS = [...BUILTIN_TOOL_NAMES].filter((n) => !SNOWFLAKE_ONLY.includes(n)).sort();

for (const command of ['shim', 'stdio', 'http'] as const) {
  for (const kind of KINDS) {
    describe(`${kind} client via snowmux ${command}`, () => {
      let client: AnyClient;
      const cleanups: (() => unknown)[] = [];
      const ctx = { after: (fn: () => unknown) => void cleanups.push(fn) };
      before(async () => {
        const home = tempHome(ctx);
        if (command === 'stdio') {
          client = await connectClient(ctx, { home, kind, command });
          return;
        }
        if (command === 'http') writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\n');
        const hub = await startHub(ctx, home);
        if (command === 'shim') {
          client = await connectClient(ctx, { home, kind, command });
          return;
        }
        const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
        const key = await runCli(['keys', 'create', '--identity', 'tools-http', '--home', home]);
        assert.equal(key.code, 0, key.stderr);
        client = await connectClient(ctx, { home, kind, command, http: { url, key: key.stdout.trim() } });
      });
      after(async () => {
        for (const fn of cleanups.reverse()) await fn();
      });

      test('lists the tools with annotations and output schemas', async () => {
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
        for (const tool of tools) {
          assert.equal(tool.annotations?.readOnlyHint, true, `${tool.name} readOnlyHint`);
          assert.ok(tool.outputSchema, `${tool.name} outputSchema`);
        }
      });

      test('list_databases and list_schemas show the sample', async () => {
        const dbs = await client.callTool('list_databases');
        assert.ok(!dbs.isError, textOf(dbs));
        assert.ok((dbs.structuredContent!.databases as { name: string }[]).some((d) => d.name === 'SNOWMUX_SAMPLE'));
        const schemas = await client.callTool('list_schemas', { database: 'snowmux_sample' });
        const names = (schemas.structuredContent!.schemas as { name: string }[]).map((s) => s.name);
        assert.ok(names.includes('TPCH'), names.join(','));
      });

      test('list_tables, list_views, describe_table, describe_view', async () => {
        const tables = await client.callTool('list_tables', { database: 'SNOWMUX_SAMPLE', schema: 'TPCH' });
        const tableNames = (tables.structuredContent!.tables as { name: string }[]).map((t) => t.name).sort();
        assert.deepEqual(tableNames, ['CUSTOMER', 'LINEITEM', 'NATION', 'ORDERS', 'PART', 'PARTSUPP', 'REGION', 'SUPPLIER']);
        assert.match(textOf(tables), /LINEITEM/);
        const views = await client.callTool('list_views', { database: 'SNOWMUX_SAMPLE' });
        const viewNames = (views.structuredContent!.views as { name: string }[]).map((v) => v.name);
        assert.ok(viewNames.length >= 2, viewNames.join(','));
        const table = await client.callTool('describe_table', { database: 'SNOWMUX_SAMPLE', table_name: 'nation' });
        const cols = (table.structuredContent!.columns as { name: string }[]).map((c) => c.name);
        assert.deepEqual(cols, ['N_NATIONKEY', 'N_NAME', 'N_REGIONKEY', 'N_COMMENT']);
        const view = await client.callTool('describe_view', { database: 'SNOWMUX_SAMPLE', view_name: viewNames[0]!, schema: 'TPCH' });
        assert.ok(!view.isError, textOf(view));
        assert.ok((view.structuredContent!.columns as unknown[]).length > 0);
      });

      test('a qualified object name (DB.SCHEMA.NAME, SCHEMA.NAME, quoted parts) is read as Snowflake reads it', async () => {
        for (const table_name of ['SNOWMUX_SAMPLE.TPCH.nation', 'tpch.NATION', '"SNOWMUX_SAMPLE".TPCH."NATION"']) {
          const r = await client.callTool('describe_table', { table_name });
          assert.ok(!r.isError, `${table_name}: ${textOf(r)}`);
          assert.deepEqual([r.structuredContent!.database, r.structuredContent!.schema, r.structuredContent!.name], ['SNOWMUX_SAMPLE', 'TPCH', 'NATION']);
        }
        const agreeing = await client.callTool('describe_table', { database: 'snowmux_sample', schema: 'TPCH', table_name: 'SNOWMUX_SAMPLE.TPCH.REGION' });
        assert.ok(!agreeing.isError, textOf(agreeing));
        const clash = await client.callTool('describe_table', { schema: 'OTHER', table_name: 'SNOWMUX_SAMPLE.TPCH.REGION' });
        assert.equal(clash.isError, true);
        assert.match(textOf(clash), /names schema TPCH, but schema is OTHER/);
        // A dot inside quotes is part of one name: looked up as such, and said not to exist.
        const literal = await client.callTool('describe_table', { table_name: '"TPCH.NATION"' });
        assert.equal(literal.isError, true);
        assert.match(textOf(literal), /^Table SNOWMUX_SAMPLE\.TPCH\."TPCH\.NATION" does not exist/);
        const views = await client.callTool('list_views', { schema: 'TPCH' });
        const view = (views.structuredContent!.views as { name: string }[])[0]!.name;
        const rows = await client.callTool('query_view', { view_name: `SNOWMUX_SAMPLE.TPCH.${view}`, limit: 2 });
        assert.ok(!rows.isError, textOf(rows));
      });

      test('execute_query returns a text table and structured rows; unqualified names resolve', async () => {
        const r = await client.callTool('execute_query', { query: 'SELECT N_NAME, N_REGIONKEY FROM NATION WHERE N_NATIONKEY < 3 ORDER BY N_NATIONKEY' });
        assert.ok(!r.isError, textOf(r));
        const sc = r.structuredContent as { rows: unknown[][]; columns: { name: string }[]; row_count: number; truncated: boolean };
        assert.deepEqual(sc.rows, [['ALGERIA', 0], ['ARGENTINA', 1], ['BRAZIL', 1]]);
        assert.deepEqual(sc.columns.map((c) => c.name), ['N_NAME', 'N_REGIONKEY']);
        assert.equal(sc.row_count, 3);
        assert.equal(sc.truncated, false);
        assert.match(textOf(r), /\| N_NAME +\| N_REGIONKEY \|/);
        assert.match(textOf(r), /ARGENTINA/);
      });

      test('execute_query truncates at the limit with a notice and fetch_results pages on', async () => {
        const r = await client.callTool('execute_query', { query: 'SELECT N_NATIONKEY FROM NATION ORDER BY 1', limit: 10 });
        const sc = r.structuredContent as { rows: unknown[][]; truncated: boolean; notice: string; query_id: string };
        assert.equal(sc.rows.length, 10);
        assert.equal(sc.truncated, true);
        assert.match(sc.notice, /truncated/i);
        assert.match(textOf(r), /fetch_results/);
        const next = await client.callTool('fetch_results', { query_id: sc.query_id, offset: 10, limit: 10 });
        assert.ok(!next.isError, textOf(next));
        assert.deepEqual((next.structuredContent as { rows: unknown[][] }).rows.map((x) => x[0]), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      });

      test('execute_query with database/schema context for this call only', async () => {
        const r = await client.callTool('execute_query', { query: 'SELECT COUNT(*) AS N FROM REGION', database: 'SNOWMUX_SAMPLE', schema: 'TPCH' });
        assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[5]]);
      });

      test('query_view reads a view with a limit', async () => {
        const views = await client.callTool('list_views', { schema: 'TPCH' });
        const name = (views.structuredContent!.views as { name: string }[])[0]!.name;
        const r = await client.callTool('query_view', { database: 'SNOWMUX_SAMPLE', view_name: name, limit: 3 });
        assert.ok(!r.isError, textOf(r));
        assert.ok((r.structuredContent as { rows: unknown[] }).rows.length <= 3);
      });

      test('query_view, capped in its SQL, gives no total it does not know, and pages stop at the cap', async () => {
        // CUSTOMER_ORDER_SUMMARY has 150 rows; query_view reads it with LIMIT limit+1, so the result it gets has 6.
        const r = await client.callTool('query_view', { view_name: 'CUSTOMER_ORDER_SUMMARY', limit: 5 });
        const sc = r.structuredContent as { rows: unknown[][]; truncated: boolean; notice: string; query_id: string };
        assert.equal(sc.rows.length, 5);
        assert.equal(sc.truncated, true);
        assert.doesNotMatch(sc.notice, / of \d/, 'the statement had 6 rows, the view 150: no total is known');
        assert.match(sc.notice, /no rows past its first 5/);
        const last = await client.callTool('fetch_results', { query_id: sc.query_id, offset: 3 });
        const page = last.structuredContent as { rows: unknown[][]; truncated: boolean };
        assert.equal(page.rows.length, 2, 'the row that only told more rows exist is not a row of the view\'s first 5');
        assert.equal(page.truncated, true, 'the page at the cap is not the end of the view');
        const past = await client.callTool('fetch_results', { query_id: sc.query_id, offset: 5 });
        assert.equal(past.isError, true);
        assert.match(textOf(past), /RESULT_ROWS_NOT_KEPT|no rows past its first 5/);
        // A view smaller than the cap is read whole, its total known.
        const whole = await client.callTool('query_view', { view_name: 'REVENUE_BY_NATION', limit: 50 });
        assert.equal((whole.structuredContent as { truncated: boolean; rows: unknown[] }).truncated, false);
        assert.equal((whole.structuredContent as { rows: unknown[] }).rows.length, 25);
      });

      test('a write is refused with the statement type and what to do', async () => {
        const r = await client.callTool('execute_query', { query: 'DELETE FROM ORDERS WHERE 1=1' });
        assert.equal(r.isError, true);
        assert.match(textOf(r), /DELETE/);
        assert.match(textOf(r), /read-only/i);
        const multi = await client.callTool('execute_query', { query: 'SELECT 1; DROP TABLE NATION' });
        assert.equal(multi.isError, true);
        assert.match(textOf(multi), /statement/i);
      });

      test('a SQL error and an unknown object are tool errors that say what happened', async () => {
        const bad = await client.callTool('execute_query', { query: 'SELECT NO_SUCH_COLUMN FROM NATION' });
        assert.equal(bad.isError, true);
        assert.match(textOf(bad), /NO_SUCH_COLUMN/i);
        const missing = await client.callTool('describe_table', { table_name: 'x"; DROP TABLE y; --' });
        assert.equal(missing.isError, true);
        assert.match(textOf(missing), /does not exist|not found/i);
      });

      test('bad arguments and unknown tools are tool errors, not protocol failures', async () => {
        const r = await client.callTool('execute_query', { limit: 'lots' });
        assert.equal(r.isError, true);
        let unknown;
        try {
          unknown = await client.callTool('no_such_tool', {});
        } catch (err) {
          unknown = { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
        }
        assert.equal(unknown.isError, true);
        assert.match(textOf(unknown), /no_such_tool/);
      });

      test('query_history lists this caller\'s SQL calls, newest first, with outcomes and query ids', async () => {
        const marker = `SELECT ${Date.now() % 100000} AS MARK_${kind.replace('-', '_')}`;
        const ran = await client.callTool('execute_query', { query: marker });
        assert.ok(!ran.isError, textOf(ran));
        await client.callTool('execute_query', { query: 'DROP TABLE NATION' });
        const h = await client.callTool('query_history', { limit: 2 });
        assert.ok(!h.isError, textOf(h));
        const q = (h.structuredContent as { queries: { sql: string; outcome: string; error_code: string | null; query_id: string | null }[] }).queries;
        assert.equal(q.length, 2);
        assert.deepEqual([q[0]!.sql, q[0]!.outcome, q[0]!.error_code], ['DROP TABLE NATION', 'refused', 'SQL_REFUSED']);
        assert.deepEqual([q[1]!.sql, q[1]!.outcome], [marker, 'ok']);
        assert.ok(q[1]!.query_id);
        const refusedOnly = await client.callTool('query_history', { outcome: 'refused', limit: 200 });
        assert.ok((refusedOnly.structuredContent as { queries: { outcome: string }[] }).queries.every((c) => c.outcome === 'refused'));
      });
    });
  }
}
