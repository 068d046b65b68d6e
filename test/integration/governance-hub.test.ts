/**
 * Governance through the real product: roles from config.toml, the fair queue under contention,
 * the circuit breaker against an injected Snowflake outage, and the audit log behind every call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { connectClient, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';
import { defer } from '../helpers/harness.js';

const me = userInfo().username;

test('roles from config.toml: tool, object and write rules apply to the matching identity and client', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[policy]
default_role = "nobody"

[roles.nobody]
tools = ["list_databases"]
allow = []

[roles.analyst]
identities = ["${me}"]
clients = ["analyst-*"]
deny = ["SNOWMUX_SAMPLE.SHOWCASE.*", "*.*.CUSTOMER"]
max_rows = 3
`);
  await startHub(t, home);
  const analyst = await connectClient(t, { home, kind: 'v2-legacy', name: 'analyst-editor' });
  const other = await connectClient(t, { home, kind: 'v1', name: 'some-other-editor' });

  // Metadata only shows what the role may see.
  const tables = await analyst.callTool('list_tables', { database: 'SNOWMUX_SAMPLE' });
  const names = (tables.structuredContent!.tables as { schema: string; name: string }[]).map((x) => `${x.schema}.${x.name}`);
  assert.ok(names.includes('TPCH.NATION'));
  assert.ok(!names.includes('TPCH.CUSTOMER'), 'denied table listed');
  assert.ok(!names.some((n) => n.startsWith('SHOWCASE.')), 'denied schema listed');

  // SQL naming a denied object is refused, even hidden in a subquery.
  const hidden = await analyst.callTool('execute_query', { query: 'SELECT COUNT(*) FROM NATION WHERE N_NATIONKEY IN (SELECT C_NATIONKEY FROM CUSTOMER)' });
  assert.equal(hidden.isError, true);
  assert.match(textOf(hidden), /CUSTOMER/);
  assert.match(textOf(hidden), /analyst/);
  // A CTE named like the denied table reads the real one in its anchor: refused, recursive or not.
  for (const query of [
    'WITH RECURSIVE customer AS (SELECT * FROM customer) SELECT * FROM customer',
    'WITH RECURSIVE customer AS (SELECT C_CUSTKEY FROM customer UNION ALL SELECT C_CUSTKEY + 1 FROM customer WHERE C_CUSTKEY < 0) SELECT * FROM customer',
    'WITH customer AS (SELECT * FROM customer) SELECT COUNT(*) FROM customer',
  ]) {
    const laundered = await analyst.callTool('execute_query', { query });
    assert.equal(laundered.isError, true, query);
    assert.match(textOf(laundered), /CUSTOMER/);
  }
  const recursiveOk = await analyst.callTool('execute_query', { query: 'WITH RECURSIVE customer AS (SELECT 1 AS N UNION ALL SELECT N + 1 FROM customer WHERE N < 3) SELECT COUNT(*) FROM customer' });
  assert.notEqual(recursiveOk.isError, true, 'a recursive CTE that only names itself is not the table');
  const describe = await analyst.callTool('describe_table', { table_name: 'customer' });
  assert.equal(describe.isError, true);

  // The role's row cap applies.
  const capped = await analyst.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION', limit: 50 });
  assert.equal((capped.structuredContent as { rows: unknown[] }).rows.length, 3);
  assert.equal((capped.structuredContent as { truncated: boolean }).truncated, true);

  // Another client of the same user falls to the default role: one tool, nothing visible.
  const denied = await other.callTool('execute_query', { query: 'SELECT 1' });
  assert.equal(denied.isError, true);
  assert.match(textOf(denied), /not allowed/);
  const dbs = await other.callTool('list_databases');
  assert.deepEqual(dbs.structuredContent!.databases, []);

  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { policy: { roles: string[] } }; totals: { refused: number } };
  assert.ok(status.governance.policy.roles.includes('analyst'));
  assert.ok(status.totals.refused >= 3);
});

test("an unqualified name is judged where the engine resolves it: one the role's schema lacks would fall back to main, and is refused", async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[policy]
default_role = "scoped"
[roles.scoped]
allow = ["SNOWMUX_SAMPLE.TPCH.*"]
`);
  await startHub(t, home);
  const client = await connectClient(t, { home, kind: 'v2-modern' });
  for (const query of ['SELECT COUNT(*) FROM nation', 'SELECT COUNT(*) FROM tpch.nation', 'SELECT COUNT(*) FROM Nation n JOIN region r ON n.n_regionkey = r.r_regionkey']) {
    const ok = await client.callTool('execute_query', { query });
    assert.notEqual(ok.isError, true, `${query}: ${textOf(ok)}`);
  }
  // The sample's own table lives in SNOWMUX_SAMPLE.main; from TPCH DuckDB still finds it there.
  for (const query of ['SELECT * FROM snowmux_sample_info', 'SELECT * FROM nation, snowmux_sample_info']) {
    const fallback = await client.callTool('execute_query', { query });
    assert.equal(fallback.isError, true, query);
    assert.match(textOf(fallback), /SNOWMUX_SAMPLE_INFO does not exist.*SNOWMUX_SAMPLE\."?main"?\.SNOWMUX_SAMPLE_INFO/i, query);
  }
  // Read as database.table by DuckDB; as a schema of the current database it is not allowed either.
  const twoPart = await client.callTool('execute_query', { query: 'SELECT * FROM snowmux_sample.snowmux_sample_info' });
  assert.equal(twoPart.isError, true, textOf(twoPart));
});

test('a config error stops the hub at start with the file and key', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = "lots"\n');
  const r = await runCli(['hub', '--home', home]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /config\.toml/);
  assert.match(r.stderr, /limits\.max_concurrent_queries/);
});

test('fair queue: a flooding client cannot starve a light one; overflow is refused at once', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = 1\nmax_queued = 40\nmax_queued_per_session = 30\n');
  const hub = await startHub(t, home);
  const flood = await connectClient(t, { home, kind: 'v2-legacy', name: 'flood' });
  const light = await connectClient(t, { home, kind: 'v2-legacy', name: 'light' });
  const slow = 'SELECT COUNT(*) FROM range(0, 3000000) a(x) WHERE x % 3 = 1';
  const isBusy = (r: Awaited<ReturnType<typeof flood.callTool>>) => r.isError === true && /busy/i.test(textOf(r));
  // 42 calls sent back to back from one session, 30 of which its share of the queue holds: the overflow is
  // refused at once, whatever the machine's speed (sending it later raced the queue draining).
  const floodCalls = Array.from({ length: 42 }, () => flood.callTool('execute_query', { query: slow }));
  // Wait until the flood fills the queue, then the light client asks.
  for (;;) {
    const s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { queue: { queued: number } } };
    if (s.governance.queue.queued >= 10) break;
  }
  const lightCalls = Array.from({ length: 3 }, () => light.callTool('execute_query', { query: slow }));
  const floodResults = await Promise.all(floodCalls);
  const busy = floodResults.filter(isBusy);
  assert.ok(busy.length >= 1, 'queue overflow is refused with a busy error');
  assert.match(textOf(busy[0]!), /Retry after/i);
  const results = [...floodResults.filter((r) => !isBusy(r)), ...(await Promise.all(lightCalls))];
  for (const r of results) assert.ok(!r.isError, textOf(r));
  await flood.close();
  await light.close();
  assert.equal(await hub.stop(), 0);
  // Judged on the hub's own clock (the audit's queue waits), not on when answers reached the clients: how
  // long a light call took to travel through its shim on a loaded machine says nothing about the queue.
  // Round-robin: with one slot and two sessions taking turns, each light call waits a few flood calls at
  // most; FIFO would make it wait for every flood call queued before it, longer than half the flood waited.
  const dir = join(home, 'audit');
  const calls = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; outcome?: string; queueWaitMs?: number; client?: { name?: string } }))
    .filter((r) => r.kind === 'tool_call' && r.outcome === 'ok');
  const waits = (name: string) => calls.filter((r) => r.client?.name === name).map((r) => r.queueWaitMs ?? 0).sort((a, b) => a - b);
  const floodWaits = waits('flood');
  const lightWaits = waits('light');
  assert.equal(lightWaits.length, 3);
  assert.equal(floodWaits.length, floodResults.length - busy.length);
  const floodMedian = floodWaits[Math.floor(floodWaits.length / 2)]!;
  assert.ok(lightWaits[2]! < floodMedian, `light calls waited ${lightWaits.join(', ')} ms in the queue; the flood's median wait was ${floodMedian} ms (waits: ${floodWaits.join(', ')})`);
});

test('circuit breaker: opens on a Snowflake outage, fails fast, closes when Snowflake is back; SQL errors never trip it', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'pw-breaker' }] });
  defer(t, () => d.close());
  const url = new URL(d.url);
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[breaker]\nvolume_threshold = 3\nfailure_threshold_percent = 50\nreset_timeout_ms = 400\n[limits]\nretry_attempts = 0\n');
  await startHub(t, home);
  const env = { SNOWFLAKE_ACCOUNT: d.account, SNOWFLAKE_USER: 'alice', SNOWFLAKE_PASSWORD: 'pw-breaker', SNOWFLAKE_HOST: url.hostname, SNOWFLAKE_PORT: url.port, SNOWFLAKE_PROTOCOL: 'http' };
  const c = await connectClient(t, { home, kind: 'v2-legacy', env });
  assert.ok(!(await c.callTool('execute_query', { query: 'SELECT 1' })).isError);
  for (let i = 0; i < 8; i++) {
    const r = await c.callTool('execute_query', { query: 'SELECT NO_SUCH_COLUMN FROM NOWHERE' });
    assert.equal(r.isError, true);
  }
  let s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { breakers: { state: string; opensCount: number }[] } };
  assert.equal(s.governance.breakers[0]!.state, 'closed', 'SQL errors do not trip the breaker');

  d.inject({ kind: 'error', endpoint: 'query', code: '390304', message: 'Service temporarily unavailable', sqlState: '08001' } as never);
  // Earlier SQL errors count as successes in the breaker's window, so the failure rate has to climb past
  // them: keep calling until the breaker opens (a real outage produces failures at this rate).
  const outage: Awaited<ReturnType<typeof c.callTool>>[] = [];
  let fastFail: (typeof outage)[number] | undefined;
  for (let i = 0; i < 40 && !fastFail; i++) {
    const r = await c.callTool('execute_query', { query: 'SELECT 1' });
    outage.push(r);
    assert.equal(r.isError, true);
    if (/paused|circuit/i.test(textOf(r))) fastFail = r;
  }
  assert.ok(fastFail, `fast-fail while open:\n${outage.map(textOf).join('\n')}`);
  assert.match(textOf(fastFail), /snowmux retries automatically|paused until/);
  const requests = d.counters.requests;
  const again = await c.callTool('execute_query', { query: 'SELECT 1' });
  assert.equal(again.isError, true);
  assert.equal(d.counters.requests, requests, 'while open, calls fail fast without reaching Snowflake');
  s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout);
  assert.ok(s.governance.breakers[0]!.opensCount >= 1);

  d.clearFaults();
  // The breaker lets a probe through once its reset timeout (400 ms here) has passed; until then calls
  // keep failing fast. Keep calling (each fast failure takes a millisecond or two) within a time bound.
  let ok = false;
  let last = '';
  const deadline = Date.now() + 15_000;
  while (!ok && Date.now() < deadline) {
    const r = await c.callTool('execute_query', { query: 'SELECT 1' });
    ok = !r.isError;
    last = textOf(r);
  }
  assert.ok(ok, `calls succeed again once Snowflake is back; last: ${last}`);
  s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout);
  assert.equal(s.governance.breakers[0]!.state, 'closed');
});

test('audit: one hash-chained record per call with SQL and outcome, no secrets; verify detects an edit', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home, [], { SNOWFLAKE_PASSWORD: 'audit-secret-never' });
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'audited' });
  await c.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION LIMIT 2' });
  await c.callTool('execute_query', { query: 'DELETE FROM NATION' });
  await c.callTool('list_tables', { schema: 'TPCH' });
  // Refused by the SDK before any tool body runs: still one record each.
  const bad = await c.callTool('execute_query', { query: 42 as unknown as string, password: 'audit-secret-never' });
  assert.equal(bad.isError, true);
  assert.equal((bad._meta?.['dev.snowmux/error'] as { code: string }).code, 'INVALID_ARGUMENTS');
  await assert.rejects(c.callTool('drop_everything', { table: 'NATION' }), /drop_everything/);
  await c.close();
  assert.equal(await hub.stop(), 0);
  const verify = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  const dir = join(home, 'audit');
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  const records = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  const calls = records.filter((r) => r.kind === 'tool_call');
  assert.equal(calls.length, 5);
  assert.deepEqual(calls.map((r) => r.outcome), ['ok', 'refused', 'ok', 'refused', 'refused']);
  assert.deepEqual(calls.slice(3).map((r) => [r.tool, r.errorCode]), [['execute_query', 'INVALID_ARGUMENTS'], ['drop_everything', 'UNKNOWN_TOOL']]);
  assert.deepEqual(calls[4]!.request, { table: 'NATION' });
  assert.equal(calls[0]!.sql, 'SELECT N_NAME FROM NATION LIMIT 2');
  assert.equal(calls[0]!.rows, 2);
  assert.equal((calls[0]!.client as { name: string }).name, 'audited');
  assert.equal(calls[1]!.errorCode, 'SQL_REFUSED');
  assert.deepEqual(calls[2]!.request, { schema: 'TPCH' });
  assert.ok(records.some((r) => r.kind === 'hub_start') && records.some((r) => r.kind === 'hub_stop'));
  assert.ok(!JSON.stringify(records).includes('audit-secret-never'));

  const file = join(dir, files.at(-1)!);
  writeFileSync(file, readFileSync(file, 'utf8').replace('"rows":2', '"rows":3'));
  const tampered = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stdout + tampered.stderr, /edited/);
});

test('rate limits and quotas refuse with when to retry, and status shows the remaining budget', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.metered]
identities = ["${me}"]
[roles.metered.rate]
per_second = 0.01
burst = 3
[roles.metered.quota]
window = "1h"
queries = 2
`);
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  const first = await c.callTool('execute_query', { query: 'SELECT 1' });
  const second = await c.callTool('execute_query', { query: 'SELECT 2' });
  assert.ok(!first.isError && !second.isError);
  const overQuota = await c.callTool('execute_query', { query: 'SELECT 3' });
  assert.equal(overQuota.isError, true);
  assert.match(textOf(overQuota), /Quota exceeded/i);
  assert.match(textOf(overQuota), /resets at \d{4}-\d\d-\d\dT\d\d:\d\d/);
  const overRate = await c.callTool('list_databases');
  assert.equal(overRate.isError, true);
  assert.match(textOf(overRate), /rate|retry/i);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { quotas: { identity: string; windows: { remaining: { queries: number } }[] }[] } };
  const mine = status.governance.quotas.find((q) => q.identity === me);
  assert.equal(mine?.windows[0]?.remaining.queries, 0);
  const human = await runCli(['status', '--home', home]);
  // Quotas are per identity and role: the role is named beside the identity.
  assert.match(human.stdout, /quota +\S+ \(metered\): queries 0 left until/);
});

test('one name, resolved once: quoted-quoted names never reach a denied object through metadata tools or a query context', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.analyst]
identities = ["${me}"]
deny = ["SNOWMUX_SAMPLE.SHOWCASE.*", "*.*.CUSTOMER", "*.*.LINEITEM"]
`);
  await startHub(t, home);
  const analyst = await connectClient(t, { home, kind: 'v2-legacy', name: 'analyst-editor' });
  const leaks = (text: string) => /C_CUSTKEY|TYPE_SAMPLES/.test(text);
  for (const name of ['""CUSTOMER""', '"""CUSTOMER"""', '""customer""', 'CUSTOMER', '"CUSTOMER"']) {
    const r = await analyst.callTool('describe_table', { database: 'SNOWMUX_SAMPLE', schema: 'TPCH', table_name: name });
    assert.equal(r.isError, true, `describe_table ${name}: ${textOf(r)}`);
    assert.ok(!leaks(textOf(r)), `describe_table ${name} reached CUSTOMER: ${textOf(r)}`);
  }
  for (const schema of ['""SHOWCASE""', '"""SHOWCASE"""', '""showcase""']) {
    const listed = await analyst.callTool('list_tables', { database: 'SNOWMUX_SAMPLE', schema });
    assert.ok(!leaks(JSON.stringify(listed)), `list_tables ${schema} listed a denied schema: ${textOf(listed)}`);
    const views = await analyst.callTool('list_views', { database: '""SNOWMUX_SAMPLE""', schema });
    assert.ok(!leaks(JSON.stringify(views)), `list_views ${schema}: ${textOf(views)}`);
    const q = await analyst.callTool('execute_query', { query: 'SELECT * FROM TYPE_SAMPLES', database: 'SNOWMUX_SAMPLE', schema });
    assert.equal(q.isError, true, `execute_query in schema ${schema}: ${textOf(q)}`);
    const described = await analyst.callTool('describe_table', { database: 'SNOWMUX_SAMPLE', schema, table_name: 'TYPE_SAMPLES' });
    assert.equal(described.isError, true, `describe_table in schema ${schema}: ${textOf(described)}`);
  }
  // Unicode case folding: SQL lower() makes "LİNEİTEM" (dotted capital I) and "\u212A" (Kelvin sign) into
  // lineitem and k, but DuckDB's binder folds ASCII letters only, and the deny compares like the engine names.
  for (const name of ['"L\u0130NE\u0130TEM"', '"l\u0130neitem"', '"LINE\u0130TEM"']) {
    const r = await analyst.callTool('describe_table', { database: 'SNOWMUX_SAMPLE', schema: 'TPCH', table_name: name });
    assert.equal(r.isError, true, `describe_table ${name}: ${textOf(r)}`);
    assert.ok(!/L_ORDERKEY/.test(textOf(r)), `describe_table ${name} reached LINEITEM: ${textOf(r)}`);
  }
  // The plain names still work where the role allows them.
  const ok = await analyst.callTool('describe_table', { database: 'snowmux_sample', schema: 'tpch', table_name: 'nation' });
  assert.ok(!ok.isError, textOf(ok));
});
