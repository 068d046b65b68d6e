/**
 * Cost guards against the Snowflake double and on the embedded warehouse: a role's per-statement scan
 * limits are checked with the engine's EXPLAIN before the query runs — a query over the limit is refused
 * with the estimate and the limit, and only the EXPLAIN reaches the warehouse; explain_query shows the
 * plan and estimate without running anything; the estimate is in the audit record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { EXPLAIN_BYTES_PER_ROW } from '../doubles/snowflake/sql-engine.js';
import { connectClient, defer, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';

const me = userInfo().username;
const PASSWORD = 'cost-guard-pw';
/** The double's sample schema as the profile's default context. */
const SAMPLE_ENV = (d: { url: string; account: string }) => profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' });
const codeOf = (r: { _meta?: Record<string, unknown> }) => (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

test('Snowflake: a query over max_scan_bytes is refused before it runs; explain_query estimates; the audit keeps the estimate', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  // CUSTOMER holds 1500 rows: 150 000 bytes in the double's model; NATION 25 rows: 2 500 bytes.
  writeFileSync(join(home, 'config.toml'), `
[policy]
default_role = "open"
[roles.capped]
identities = ["${me}"]
clients = ["capped-*"]
deny = ["*.HR.*"]
max_scan_bytes = 10000
[roles.open]

[tools.nation_named]
description = "One nation by name"
sql = "SELECT N_NATIONKEY FROM NATION WHERE N_NAME = ?"
[[tools.nation_named.params]]
name = "name"
type = "string"
description = "nation"

[tools.customers_above]
description = "Customers above a key"
sql = "SELECT C_NAME FROM CUSTOMER WHERE C_CUSTKEY > ?"
[[tools.customers_above.params]]
name = "key"
type = "integer"
description = "key"
`);
  const hub = await startHub(t, home, [], SAMPLE_ENV(d));
  const capped = await connectClient(t, { home, kind: 'v2-legacy', name: 'capped-editor' });
  const open = await connectClient(t, { home, kind: 'v2-legacy', name: 'open-editor' });

  const big = 'SELECT C_NAME FROM CUSTOMER WHERE C_CUSTKEY > 0';
  const refused = await capped.callTool('execute_query', { query: big });
  assert.equal(codeOf(refused), 'SCAN_LIMIT', textOf(refused));
  assert.match(textOf(refused), /146 KB/);
  assert.match(textOf(refused), /9\.8 KB.*max_scan_bytes/);
  const sent = d.queries.map((q) => q.sql);
  assert.ok(sent.some((s) => s.startsWith('EXPLAIN USING TABULAR') && s.includes('CUSTOMER')), sent.join('\n'));
  assert.ok(!sent.some((s) => s.startsWith('SELECT C_NAME')), 'the query itself never reached Snowflake');

  const small = await capped.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION ORDER BY N_NATIONKEY LIMIT 2' });
  assert.ok(!small.isError, textOf(small));
  assert.deepEqual((small.structuredContent as { rows: unknown[][] }).rows, [['ALGERIA'], ['ARGENTINA']]);

  // A team tool's statement is explained with its bind values, as it will run.
  const named = await capped.callTool('nation_named', { name: 'BRAZIL' });
  assert.ok(!named.isError, textOf(named));
  assert.deepEqual((named.structuredContent as { rows: unknown[][] }).rows, [[2]]);
  const above = await capped.callTool('customers_above', { key: 0 });
  assert.equal(codeOf(above), 'SCAN_LIMIT', textOf(above));

  // A role without limits runs the same query with no pre-flight.
  const before = d.queries.length;
  const ran = await open.callTool('execute_query', { query: big, limit: 1 });
  assert.ok(!ran.isError, textOf(ran));
  assert.ok(!d.queries.slice(before).some((q) => q.sql.startsWith('EXPLAIN')), 'no EXPLAIN for a role without scan limits');

  const explained = await open.callTool('explain_query', { query: big });
  assert.ok(!explained.isError, textOf(explained));
  const plan = explained.structuredContent as { estimate: { bytes: number; partitions: number }; operations: { operation: string; objects: string[] }[] };
  assert.equal(plan.estimate.bytes, 1500 * EXPLAIN_BYTES_PER_ROW);
  assert.equal(plan.estimate.partitions, 2);
  assert.ok(plan.operations.some((o) => o.operation === 'TableScan' && o.objects.some((n) => n.endsWith('CUSTOMER'))), JSON.stringify(plan.operations));

  // explain_query goes through the same rules: a write is refused before anything reaches Snowflake.
  const write = await open.callTool('explain_query', { query: 'DELETE FROM CUSTOMER' });
  assert.equal(codeOf(write), 'SQL_REFUSED');
  assert.ok(!d.queries.some((q) => q.sql.includes('DELETE')));

  // query_profile: where the query the open editor ran spent its time; an id the hub never issued is
  // refused for a restricted role (results and profiles belong to whoever ran the query).
  const ranId = (ran.structuredContent as { query_id: string }).query_id;
  const profile = await open.callTool('query_profile', { query_id: ranId });
  assert.ok(!profile.isError, textOf(profile));
  const ops = (profile.structuredContent as { operators: { operator_type: string; percent_of_time: number | null; output_rows: number | null }[] }).operators;
  assert.ok(ops.some((o) => o.operator_type === 'TableScan'), JSON.stringify(ops));
  assert.ok(ops.every((o) => o.percent_of_time !== null));
  assert.ok(d.queries.some((q) => q.sql.includes(`GET_QUERY_OPERATOR_STATS('${ranId}')`)));
  const foreign = await capped.callTool('query_profile', { query_id: '01b2c3d4-0000-4000-8000-000000000000' });
  assert.equal(codeOf(foreign), 'POLICY_DENIED', textOf(foreign));

  // The estimate is in status too, for a person (plain) as for a script (--json).
  const plain = (await runCli(['status', '--home', home])).stdout;
  assert.match(plain, /scan 146 KB in 2 of 2 partitions \| SELECT C_NAME FROM CUSTOMER/, plain);
  const json = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { recent: { errorCode: string | null; scanEstimate?: unknown }[] };
  assert.deepEqual(json.recent.find((c) => c.errorCode === 'SCAN_LIMIT')?.scanEstimate, { bytes: 150000, partitions: 2, partitionsTotal: 2 });

  await capped.close();
  await open.close();
  assert.equal(await hub.stop(), 0);
  const dir = join(home, 'audit');
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  const refusal = records.find((r) => r.errorCode === 'SCAN_LIMIT');
  assert.deepEqual(refusal?.scanEstimate, { bytes: 150000, partitions: 2, partitionsTotal: 2 });
  assert.equal(refusal?.outcome, 'refused');
});

test('embedded warehouse: max_scan_rows refuses from DuckDB\'s estimate; explain_query shows the plan', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.capped]
identities = ["${me}"]
max_scan_rows = 1000
max_scan_bytes = 1
`);
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-modern', name: 'capped' });
  const refused = await c.callTool('execute_query', { query: 'SELECT * FROM LINEITEM' });
  assert.equal(codeOf(refused), 'SCAN_LIMIT', textOf(refused));
  assert.match(textOf(refused), /DuckDB estimates it reads about \d+ rows; role "capped" may read at most 1000 rows per statement \(max_scan_rows\)/);
  // SUMMARIZE (a DESCRIBE to the classifier) reads every row of what it summarizes.
  for (const query of ['SUMMARIZE LINEITEM', '/* stats */ summarize SELECT * FROM LINEITEM']) {
    const summarized = await c.callTool('execute_query', { query });
    assert.equal(codeOf(summarized), 'SCAN_LIMIT', textOf(summarized));
  }
  for (const query of ['SELECT * FROM NATION', 'SUMMARIZE NATION', 'DESCRIBE LINEITEM']) {
    const ok = await c.callTool('execute_query', { query });
    assert.ok(!ok.isError, textOf(ok));
  }
  const explained = await c.callTool('explain_query', { query: 'SELECT COUNT(*) FROM ORDERS WHERE O_TOTALPRICE > 1000' });
  assert.ok(!explained.isError, textOf(explained));
  const plan = explained.structuredContent as { estimate: { rows: number | null; bytes: number | null }; operations: { operation: string }[]; scan_limit: { rows: number; bytes: number | null } };
  assert.ok((plan.estimate.rows ?? 0) > 0);
  assert.equal(plan.estimate.bytes, null, 'DuckDB estimates rows, not bytes');
  assert.equal(plan.scan_limit.rows, 1000);
  // DuckDB estimates no bytes: the role's max_scan_bytes is said to have no effect here, not listed as a limit.
  assert.equal(plan.scan_limit.bytes, null);
  assert.match(textOf(explained), /Your role's per-statement limit: 1000 rows\. Your role's max_scan_bytes does not apply here: the embedded warehouse estimates rows only\./);
  assert.ok(plan.operations.some((o) => /SCAN/.test(o.operation)));
  const run = await c.callTool('execute_query', { query: 'SELECT 1' });
  const noProfile = await c.callTool('query_profile', { query_id: (run.structuredContent as { query_id: string }).query_id });
  assert.equal(codeOf(noProfile), 'UNSUPPORTED');
  assert.match(textOf(noProfile), /Snowflake.*explain_query/);
});

test('Snowflake: a scan budget per window (quota scan_bytes) is spent by the estimates of the queries that ran', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  // CUSTOMER: 150 000 bytes in the double's model. Two scans fit under 200 000 only if the first is
  // checked before it is spent; the third is refused.
  writeFileSync(join(home, 'config.toml'), `
[roles.budgeted]
identities = ["${me}"]
[roles.budgeted.quota]
window = "1h"
scan_bytes = 200000
`);
  await startHub(t, home, [], SAMPLE_ENV(d));
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'budget-editor' });
  const scan = () => c.callTool('execute_query', { query: 'SELECT C_NAME FROM CUSTOMER', limit: 1 });
  assert.ok(!(await scan()).isError);
  assert.ok(!(await scan()).isError, 'the budget is checked before a query, spent after it');
  const refused = await scan();
  assert.equal(codeOf(refused), 'QUOTA_EXCEEDED', textOf(refused));
  assert.match(textOf(refused), /195\.3 KiB scanned \(as estimated before each query ran\) per hour/);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { quotas: { identity: string; windows: { used: { scanBytes?: number }; remaining: { scanBytes?: number } }[] }[] } };
  const mine = status.governance.quotas.find((q) => q.identity === me)!;
  assert.equal(mine.windows[0]!.used.scanBytes, 300000);
  assert.equal(mine.windows[0]!.remaining.scanBytes, 0);
});

test('Snowflake: row_cap_pushdown puts the row cap into the statement; the order holds and paging stops at the cap', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.lean]
identities = ["${me}"]
clients = ["lean-*"]
row_cap_pushdown = true
[roles.plain]
identities = ["${me}"]
`);
  await startHub(t, home, [], SAMPLE_ENV(d));
  const lean = await connectClient(t, { home, kind: 'v2-legacy', name: 'lean-editor' });
  const plain = await connectClient(t, { home, kind: 'v2-legacy', name: 'plain-editor' });
  const sql = 'SELECT C_CUSTKEY FROM CUSTOMER ORDER BY C_ACCTBAL DESC, C_CUSTKEY';

  const full = await plain.callTool('execute_query', { query: sql, limit: 3 });
  const capped = await lean.callTool('execute_query', { query: sql, limit: 3 });
  assert.ok(!capped.isError, textOf(capped));
  const c = capped.structuredContent as { rows: unknown[][]; truncated: boolean; notice: string };
  assert.deepEqual(c.rows, (full.structuredContent as { rows: unknown[][] }).rows, 'the same first rows, in the same order');
  assert.equal(c.truncated, true);
  // The warehouse received the cap (one row more, to know the result was truncated); the plain role's query ran whole.
  const received = d.queries.filter((q) => q.sql.startsWith('SELECT C_CUSTKEY')).map((q) => q.sql);
  assert.deepEqual(received, [sql, `${sql}\nLIMIT 4`]);
  // No page is offered past what the warehouse computed.
  assert.doesNotMatch(c.notice, /fetch_results/);
  assert.match(c.notice, /first 3 rows|first 3:/);
  // Snowflake counts the statement's 4 rows: no total of the query's is known, and pages stop at the cap.
  assert.doesNotMatch(c.notice, / of \d/);
  const queryId = (capped.structuredContent as { query_id: string }).query_id;
  const page = await lean.callTool('fetch_results', { query_id: queryId, offset: 1 });
  assert.ok(!page.isError, textOf(page));
  assert.deepEqual((page.structuredContent as { rows: unknown[][] }).rows, c.rows.slice(1), 'not the fourth row, which only told that more exist');
  assert.equal((page.structuredContent as { truncated: boolean }).truncated, true);
  const past = await lean.callTool('fetch_results', { query_id: queryId, offset: 3 });
  assert.equal(codeOf(past), 'RESULT_ROWS_NOT_KEPT', textOf(past));
  // A query with its own LIMIT runs as written.
  const own = await lean.callTool('execute_query', { query: 'SELECT C_CUSTKEY FROM CUSTOMER ORDER BY 1 LIMIT 2' });
  assert.ok(!own.isError, textOf(own));
  assert.ok(d.queries.some((q) => q.sql === 'SELECT C_CUSTKEY FROM CUSTOMER ORDER BY 1 LIMIT 2'));
});

test('Snowflake: query_history joins Snowflake\'s own record of each call (warehouse, status, bytes scanned) by query id on the hub\'s QUERY_TAG', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  await startHub(t, home, [], SAMPLE_ENV(d));
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'history-editor' });
  assert.ok(!(await c.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION ORDER BY 1 LIMIT 3' })).isError);
  assert.equal(codeOf(await c.callTool('execute_query', { query: 'SELECT * FROM NO_SUCH_TABLE' })), 'OBJECT_NOT_FOUND');

  type Entry = { sql: string; outcome: string; query_id: string | null; snowflake: { warehouse: string | null; status: string; bytes_scanned: number | null } | null };
  const plain = (await c.callTool('query_history', {})).structuredContent as { queries: Entry[] };
  assert.ok(plain.queries.every((q) => q.snowflake === null), 'Snowflake is asked only when include_snowflake is set');
  assert.ok(!d.queries.some((q) => q.sql.includes('QUERY_HISTORY_BY_USER')));

  const joined = await c.callTool('query_history', { include_snowflake: true });
  assert.ok(!joined.isError, textOf(joined));
  const entries = (joined.structuredContent as { queries: Entry[]; snowflake_note: string | null }).queries;
  const ok = entries.find((q) => q.sql.includes('NATION'))!;
  const { elapsed_ms: elapsed, ...facts } = ok.snowflake as Entry['snowflake'] & { elapsed_ms: number };
  assert.deepEqual(facts, { warehouse: 'COMPUTE_WH', status: 'SUCCESS', bytes_scanned: 3 * EXPLAIN_BYTES_PER_ROW });
  assert.ok(Number.isFinite(elapsed) && elapsed >= 0, `elapsed_ms ${elapsed}`);
  const failed = entries.find((q) => q.sql.includes('NO_SUCH_TABLE'))!;
  if (failed.query_id !== null) assert.equal(failed.snowflake?.status, 'FAIL');
  assert.match(textOf(joined), /COMPUTE_WH/);
  const asked = d.queries.find((q) => q.sql.includes('QUERY_HISTORY_BY_USER'))!;
  assert.match(asked.sql, /QUERY_ID IN \('[0-9a-f-]{36}'/);
  assert.match(asked.sql, /QUERY_TAG LIKE 'snowmux:%'/);
});
