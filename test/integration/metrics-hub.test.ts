/** The opt-in Prometheus endpoint: per-call counters and live gauges, plus a health check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, defer, runCli, startHub, tempHome } from '../helpers/harness.js';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';

test('GET /metrics counts calls by tool and outcome and shows sessions, queue and breaker; /healthz answers', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\n');
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  await c.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION' });
  await c.callTool('execute_query', { query: 'SELECT 1' });
  await c.callTool('execute_query', { query: 'DROP TABLE NATION' });
  // Tools the client makes up must not each become a label value.
  for (const name of ['probe_a', 'probe_b']) await assert.rejects(c.callTool(name, {}));
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { metrics: { url: string } };
  assert.match(status.metrics.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const res = await fetch(status.metrics.url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  assert.match(text, /snowmux_tool_calls_total\{tool="execute_query",outcome="ok"\} 2/);
  assert.match(text, /snowmux_tool_calls_total\{tool="execute_query",outcome="refused"\} 1/);
  assert.match(text, /snowmux_rows_returned_total\{tool="execute_query"\} 26/);
  assert.match(text, /snowmux_tool_calls_total\{tool="\(unknown\)",outcome="refused"\} 2/);
  assert.ok(!text.includes('probe_a'), 'a made-up tool name became a label value');
  assert.match(text, /snowmux_tool_call_failures_total\{outcome="refused",code="SQL_REFUSED"\} 1/);
  assert.match(text, /snowmux_tool_call_failures_total\{outcome="refused",code="UNKNOWN_TOOL"\} 2/);
  assert.match(text, /snowmux_sessions\{transport="unix-socket"\} 1\n/);
  assert.match(text, /snowmux_sessions\{transport="http"\} 0\n/);
  assert.match(text, /snowmux_sessions_cut_total 0\n/);
  // Every call's audit record (two ok, one refused, two unknown tools) was timed.
  assert.match(text, /snowmux_audit_write_seconds_count [5-9]\n/);
  assert.ok(!/snowmux_pool_connections\{/.test(text), 'the embedded warehouse has no connection pool');
  assert.match(text, /snowmux_breaker_state\{profile="embedded"\} 0/);
  assert.match(text, /snowmux_queue_calls\{state="running"\} 0/);
  assert.match(text, /snowmux_audit_last_seq \d+/);
  assert.match(text, /^snowmux_audit_append_failures_total 0$/m);
  assert.doesNotMatch(text, /snowmux_trace_spans_dropped_total \d/, 'no otel_endpoint: nothing to drop');
  assert.match(text, /snowmux_process_resident_memory_bytes/);
  assert.ok(!text.includes('DROP TABLE'), 'no SQL in metrics');
  assert.match((await runCli(['status', '--home', home])).stdout, /^metrics http:\/\/127\.0\.0\.1:\d+\/metrics$/m, 'status says where the metrics are');
  const health = await fetch(status.metrics.url.replace('/metrics', '/healthz'));
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'running');
  assert.equal((await fetch(status.metrics.url.replace('/metrics', '/nope'))).status, 404);
  assert.equal((await fetch(status.metrics.url, { method: 'POST' })).status, 405);
});

test('a bad metrics_listen value is a config error naming the key', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "everywhere"\n');
  const r = await runCli(['hub', '--home', home]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /hub\.metrics_listen/);
});

test('a Snowflake profile\'s pool shows in /metrics: connections open, idle, in use, waited for, and the maximum', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'metrics-pw', roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\n');
  await startHub(t, home, [], profileEnv(d, { user: 'alice', password: 'metrics-pw' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH' }));
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.ok(!(await c.callTool('execute_query', { query: 'SELECT 1' })).isError);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { metrics: { url: string } };
  const text = await (await fetch(status.metrics.url)).text();
  const gauge = (state: string) => Number(new RegExp(`snowmux_pool_connections\\{warehouse="[^"]+",pool="[0-9a-f]{8}",state="${state}"\\} (\\d+)`).exec(text)?.[1]);
  assert.equal(gauge('size'), 1, text);
  assert.equal(gauge('available'), 1);
  assert.equal(gauge('borrowed'), 0);
  assert.equal(gauge('pending'), 0);
  assert.ok(gauge('max') >= 1);
  assert.match(text, /snowmux_warehouse_logins_total\{warehouse="[^"]+",pool="[0-9a-f]{8}",kind="snowflake"\} 1/);
});
