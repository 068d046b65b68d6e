/**
 * /metrics with several pools under one profile name (editors whose SNOWFLAKE_* settings differ): each pool
 * has its own series, told apart by a `pool` label bounded in number per name, instead of the last pool read
 * overwriting the others; breakers of one name are shown as the worst and their opens summed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { HubMetrics, MAX_POOL_SERIES_PER_NAME, type MetricsSources, type PoolSource } from '../../src/hub/observe/metrics.js';
import { NO_PROMTOOL } from '../helpers/debian-tools.js';
import { repoRoot } from '../helpers/paths.js';
import { IDLE_METRICS_SOURCES } from '../helpers/metrics-sources.js';

function sources(pools: PoolSource[], breakers: { profile: string; state: string; opensCount: number }[]): MetricsSources {
  return { ...IDLE_METRICS_SOURCES, queue: () => ({ running: 0, queued: 0 }), breakers: () => breakers, pools: () => pools };
}

const pool = (settings: string, size: number, logins: number): PoolSource => ({
  name: 'dev',
  kind: 'snowflake',
  settings,
  logins,
  connections: { size, available: 0, borrowed: size, pending: 0, max: 4 },
});

function samples(text: string, metric: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${metric}{`));
}

test('pools sharing a profile name each get their own series; pools differing only in a secret are summed', async () => {
  const pools = [pool('["acct","ALICE"]', 2, 1), pool('["acct","BOB"]', 1, 3), pool('["acct","BOB"]', 1, 1)];
  const breakers = [
    { profile: 'dev', state: 'closed', opensCount: 1 },
    { profile: 'dev', state: 'open', opensCount: 2 },
    { profile: 'dev', state: 'closed', opensCount: 0 },
  ];
  const metrics = new HubMetrics(sources(pools, breakers));
  const text = await metrics.registry.metrics();
  const size = samples(text, 'snowmux_pool_connections').filter((l) => l.includes('state="size"'));
  assert.equal(size.length, 2, size.join('\n'));
  assert.deepEqual(size.map((l) => Number(l.split(' ').at(-1))).sort(), [2, 2], 'ALICE 2; BOB 1 + 1');
  const labels = size.map((l) => /pool="([0-9a-f]{8})"/.exec(l)?.[1]);
  assert.equal(new Set(labels).size, 2, size.join('\n'));
  const logins = samples(text, 'snowmux_warehouse_logins_total');
  assert.deepEqual(logins.map((l) => Number(l.split(' ').at(-1))).sort(), [1, 4]);
  assert.deepEqual(samples(text, 'snowmux_breaker_state'), ['snowmux_breaker_state{profile="dev"} 2'], 'the worst breaker of the name');
  assert.deepEqual(samples(text, 'snowmux_breaker_opens_total'), ['snowmux_breaker_opens_total{profile="dev"} 3']);
  // Counts since the start are counters, so rate() and increase() apply to them.
  assert.match(text, /^# TYPE snowmux_breaker_opens_total counter$/m);
  assert.match(text, /^# TYPE snowmux_warehouse_logins_total counter$/m);

  // The same pool keeps its label from one scrape to the next; a removed profile's series go.
  const again = await metrics.registry.metrics();
  assert.deepEqual(samples(again, 'snowmux_pool_connections'), samples(text, 'snowmux_pool_connections'));
  pools.length = 0;
  breakers.length = 0;
  const empty = await metrics.registry.metrics();
  assert.deepEqual([...samples(empty, 'snowmux_pool_connections'), ...samples(empty, 'snowmux_breaker_state'), ...samples(empty, 'snowmux_warehouse_logins_total')], []);
});

test('however many settings editors send, one profile name has at most a bounded number of pool series', async () => {
  const pools = Array.from({ length: 50 }, (_, i) => pool(`["acct","USER${i}"]`, 1, 1));
  const text = await new HubMetrics(sources(pools, [])).registry.metrics();
  const size = samples(text, 'snowmux_pool_connections').filter((l) => l.includes('state="size"'));
  assert.equal(size.length, MAX_POOL_SERIES_PER_NAME + 1);
  assert.ok(size.some((l) => l.includes('pool="other"') && l.endsWith(` ${50 - MAX_POOL_SERIES_PER_NAME}`)), size.join('\n'));
  assert.equal(size.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0), 50, 'every pool counted once');
});

test('promtool check metrics: the pool series are well formed', { skip: NO_PROMTOOL }, async () => {
  const pools = [pool('["acct","ALICE"]', 2, 1), pool('["acct","BOB"]', 1, 3)];
  const text = await new HubMetrics(sources(pools, [{ profile: 'dev', state: 'closed', opensCount: 0 }])).registry.metrics();
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const complaints = `${run.stdout}${run.stderr}`.split('\n').filter(Boolean);
  const ours = complaints.filter((l) => !/^snowmux_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(l));
  assert.deepEqual(ours, []);
});

/** A hub whose profile "sf" has one connection, in use, and `queued` calls waiting in the hub's queue for it. */
function saturated(queued: number, borrowed = 1): MetricsSources {
  const base = sources([{ name: 'sf', kind: 'snowflake', settings: '["acct","ALICE"]', logins: 1, connections: { size: 1, available: 1 - borrowed, borrowed, pending: 0, max: 1 } }], []);
  return { ...base, queue: () => ({ running: borrowed, queued, pools: [{ name: 'sf', running: borrowed, queued, maxConcurrent: 1 }] }) };
}

test("calls waiting for a profile's connections are counted where they wait: the hub's queue, per profile", async () => {
  const text = await new HubMetrics(saturated(4)).registry.metrics();
  assert.deepEqual(samples(text, 'snowmux_warehouse_queue_calls').sort(), [
    'snowmux_warehouse_queue_calls{warehouse="sf",state="max"} 1',
    'snowmux_warehouse_queue_calls{warehouse="sf",state="queued"} 4',
    'snowmux_warehouse_queue_calls{warehouse="sf",state="running"} 1',
  ]);
  // Pools sharing a name are summed, as in status.
  const two = { ...sources([], []), queue: () => ({ running: 3, queued: 2, pools: [{ name: 'sf', running: 1, queued: 2, maxConcurrent: 1 }, { name: 'sf', running: 2, queued: 0, maxConcurrent: 2 }] }) };
  assert.ok(samples(await new HubMetrics(two).registry.metrics(), 'snowmux_warehouse_queue_calls').includes('snowmux_warehouse_queue_calls{warehouse="sf",state="queued"} 2'));
});

test('SnowmuxPoolExhausted fires while calls wait for a profile whose every connection is in use, and not while one is free', { skip: NO_PROMTOOL }, async (t) => {
  const seriesOf = async (metrics: MetricsSources) =>
    (await new HubMetrics(metrics).registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('snowmux_warehouse_queue_calls{') || l.startsWith('snowmux_pool_connections{'))
      .map((l) => {
        const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(l)!;
        return { series: `${m[1]}{${m[2]},job="snowmux",instance="hub"}`, values: `${m[3]}x15` };
      });
  const dir = mkdtempSync(join(tmpdir(), 'smx-alert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pool-exhausted.test.yml');
  const rules = join(repoRoot, 'contrib', 'prometheus', 'alerts.yml');
  writeFileSync(file, JSON.stringify({
    rule_files: [rules],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: await seriesOf(saturated(4)),
        alert_rule_test: [{ eval_time: '10m', alertname: 'SnowmuxPoolExhausted', exp_alerts: [{ exp_labels: { severity: 'warning', instance: 'hub', warehouse: 'sf' }, exp_annotations: exhaustedAnnotations(rules, 'sf', 'hub') }] }],
      },
      {
        interval: '1m',
        // Calls queue (the hub's cap) while a connection is free: saturation of the queue, not of the pool.
        input_series: await seriesOf(saturated(4, 0)),
        alert_rule_test: [{ eval_time: '10m', alertname: 'SnowmuxPoolExhausted', exp_alerts: [] }],
      },
    ],
  }));
  const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});

/** The alert's annotations as Prometheus renders them for one profile and instance. */
function exhaustedAnnotations(rulesFile: string, warehouse: string, instance: string): Record<string, string> {
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] };
  const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SnowmuxPoolExhausted')!;
  return Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, v.replaceAll('{{ $labels.warehouse }}', warehouse).replaceAll('{{ $labels.instance }}', instance)]));
}

test('snowmux_queue_wait_seconds observes the calls that asked for a slot only, and has buckets past the 10 s acquire timeout', async () => {
  const metrics = new HubMetrics(sources([], []));
  const record = (queued: boolean, queueWaitMs: number) =>
    metrics.record({ at: '', sessionId: 's', identity: 'i', client: 'c', clientInfo: { name: 'c', version: '1' }, tool: 'execute_query', requestId: '1', outcome: 'ok', errorCode: null, ms: 1, queueWaitMs, ...(queued ? { queued: true as const } : {}), runMs: 0, rows: null, bytes: 0, queryId: null, sql: null, request: undefined, profile: null });
  record(true, 10_003); // a POOL_EXHAUSTED wait
  record(false, 0); // refused before the queue, or a metadata cache hit
  record(false, 0);
  const text = await metrics.registry.metrics();
  assert.match(text, /^snowmux_queue_wait_seconds_count 1$/m);
  assert.match(text, /^snowmux_queue_wait_seconds_bucket\{le="30"\} 1$/m);
  assert.match(text, /^snowmux_queue_wait_seconds_bucket\{le="10"\} 0$/m);
});

test('failed audit appends and dropped trace spans are counters, absent where there is no audit log or no trace export', async () => {
  const text = async (failed: number | undefined, dropped: number | undefined) =>
    new HubMetrics({ ...sources([], []), auditFailedAppends: () => failed, traceSpansDropped: () => dropped }).registry.metrics();
  const failing = await text(3, 15);
  assert.match(failing, /^# TYPE snowmux_audit_append_failures_total counter$/m);
  assert.match(failing, /^snowmux_audit_append_failures_total 3$/m);
  assert.match(failing, /^snowmux_trace_spans_dropped_total 15$/m);
  const without = await text(undefined, undefined);
  assert.doesNotMatch(without, /^snowmux_audit_append_failures_total /m);
  assert.doesNotMatch(without, /^snowmux_trace_spans_dropped_total /m);
});

test('logins and breaker opens never go down when a pool of their series is retired', async () => {
  // Two editors' pools under profile "dev" that differ only in a password share one series; the registry
  // retires one (its editor gone, or its credentials superseded) and governance drops its breaker with it.
  const pools = [pool('["acct","BOB"]', 1, 3), pool('["acct","BOB"]', 1, 2)];
  const breakers = [{ profile: 'dev', state: 'closed', opensCount: 2 }, { profile: 'dev', state: 'closed', opensCount: 1 }];
  const metrics = new HubMetrics(sources(pools, breakers));
  const value = (text: string, metric: string) => samples(text, metric).map((l) => Number(l.split(' ').at(-1)));
  const before = await metrics.registry.metrics();
  assert.deepEqual(value(before, 'snowmux_warehouse_logins_total'), [5]);
  assert.deepEqual(value(before, 'snowmux_breaker_opens_total'), [3]);
  pools.splice(0, 1);
  breakers.splice(0, 1);
  const after = await metrics.registry.metrics();
  assert.deepEqual(value(after, 'snowmux_warehouse_logins_total'), [5], 'the retired pool\'s 3 logins still counted');
  assert.deepEqual(value(after, 'snowmux_breaker_opens_total'), [3], 'the retired breaker\'s 2 opens still counted');
  // What the remaining pool does next adds to it.
  pools[0] = pool('["acct","BOB"]', 1, 4);
  breakers[0] = { profile: 'dev', state: 'open', opensCount: 2 };
  const later = await metrics.registry.metrics();
  assert.deepEqual(value(later, 'snowmux_warehouse_logins_total'), [7]);
  assert.deepEqual(value(later, 'snowmux_breaker_opens_total'), [4]);
});
