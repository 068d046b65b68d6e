/**
 * contrib/prometheus/alerts.yml stays true to the hub: every snowmux_* series its expressions use exists
 * in a live hub's /metrics, and promtool accepts the file (when promtool is installed; CI installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { NO_PROMTOOL } from '../helpers/debian-tools.js';
import { connectClient, runCli, startHub, tempHome } from '../helpers/harness.js';

const RULES = join(repoRoot, 'contrib', 'prometheus', 'alerts.yml');

test('every metric the alert rules use is exposed by a running hub', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\n');
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  await c.callTool('execute_query', { query: 'SELECT 1' });
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { metrics: { url: string } };
  const exposition = await (await fetch(status.metrics.url)).text();
  // A family the hub declares (`# TYPE`) is exposed even while it has no samples (no Snowflake pool yet).
  const exposed = new Set([
    ...exposition.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
    ...[...exposition.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*)/gm)].map((m) => m[1]!),
  ]);
  const used = new Set(readFileSync(RULES, 'utf8').match(/snowmux_[a-z0-9_]+/g) ?? []);
  assert.ok(used.size >= 6, `rules use ${[...used].join(', ')}`);
  const missing = [...used].filter((name) => !exposed.has(name));
  assert.deepEqual(missing, [], `alert rules use metrics the hub does not expose: ${missing.join(', ')}`);
});

test('promtool parses a live hub\'s /metrics and finds only prom-client\'s own three gauge names to lint', { skip: NO_PROMTOOL }, async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\n');
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  await c.callTool('execute_query', { query: 'SELECT 1' });
  await c.callTool('execute_query', { query: 'DROP TABLE NATION' });
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { metrics: { url: string } };
  const exposition = await (await fetch(status.metrics.url)).text();
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  const complaints = `${run.stdout}${run.stderr}`.split('\n').filter(Boolean);
  assert.ok(!complaints.some((l) => /error|pars/i.test(l)), `promtool could not parse /metrics: ${complaints.join('; ')}`);
  // prom-client's default process metrics name three gauges *_total (nodejs_active_handles_total…); every
  // metric of the hub's own follows the naming conventions.
  const ours = complaints.filter((l) => !/^snowmux_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(l));
  assert.deepEqual(ours, [], 'promtool check metrics');
  assert.ok(exposition.includes('snowmux_tool_calls_total'), 'the hub\'s own metrics were linted');
});

test('promtool check rules accepts contrib/prometheus/alerts.yml', { skip: NO_PROMTOOL }, () => {
  const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.match(out, /SUCCESS: \d+ rules found/);
});

test('no alert fires on a healthy single-user hub: its scraped series, held for 30 minutes, trigger none of the rules', { skip: NO_PROMTOOL }, async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\n');
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  await c.callTool('execute_query', { query: 'SELECT 1' });
  await c.callTool('list_databases', {});
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { metrics: { url: string } };
  const exposition = await (await fetch(status.metrics.url)).text();
  // Every sample as a series that stays at its value (an idle hub: counters do not move), as Prometheus
  // would have scraped it with job="snowmux"; plus the scrape's own `up`.
  const series = exposition
    .split('\n')
    .filter((l) => l.startsWith('snowmux_'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(l);
      assert.ok(m, `a sample line: ${l}`);
      const labels = m[2] === undefined ? '' : `${m[2].slice(1, -1)},`;
      return { series: `${m[1]}{${labels}job="snowmux",instance="hub"}`, values: `${m[3]}x40` };
    });
  series.push({ series: 'up{job="snowmux",instance="hub"}', values: '1x40' });
  const alerts = [...readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]!);
  assert.ok(alerts.length >= 6, alerts.join(', '));
  const dir = tempHome(t, 'aud-promtool-');
  const testFile = join(dir, 'healthy-hub.test.yml');
  // JSON is YAML: no quoting rules of our own to get wrong.
  writeFileSync(testFile, JSON.stringify({
    rule_files: [RULES],
    evaluation_interval: '1m',
    tests: [{ interval: '1m', input_series: series, alert_rule_test: alerts.map((alertname) => ({ eval_time: '30m', alertname, exp_alerts: [] })) }],
  }));
  const run = spawnSync('promtool', ['test', 'rules', testFile], { encoding: 'utf8' });
  assert.equal(run.status, 0, `an alert fires on a healthy hub:\n${run.stdout}${run.stderr}`);
});

test('every metric the Grafana dashboard queries is exposed by a running hub', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\n');
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
  const key = (await runCli(['keys', 'create', '--identity', 'grafana', '--home', home])).stdout.trim();
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  await c.callTool('execute_query', { query: 'SELECT 1' });
  await c.callTool('execute_query', { query: 'DROP TABLE NATION' });
  await c.callTool('list_databases', {});
  await fetch(`${url}/status`); // one refused authentication
  const exposition = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
  // Declared metrics count even without a sample yet (logins appear with the first Snowflake pool).
  const declared = [...exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [name!, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!]));
  const exposed = new Set([...declared, ...exposition.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0])]);
  const dashboard = JSON.parse(readFileSync(join(repoRoot, 'contrib', 'grafana', 'snowmux-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((x) => x.expr.match(/snowmux_[a-z0-9_]+/g) ?? [])));
  assert.ok(used.size >= 12, [...used].join(', '));
  const missing = [...used].filter((name) => !exposed.has(name));
  assert.deepEqual(missing, [], `the dashboard queries metrics the hub does not expose: ${missing.join(', ')}`);
  for (const p of dashboard.panels) assert.ok(p.targets.length > 0 && p.title, 'every panel has a title and a query');
});
