/**
 * /metrics with several pools under one profile name (editors whose SNOWFLAKE_* settings differ): each pool
 * has its own series, told apart by a `pool` label bounded in number per name, instead of the last pool read
 * overwriting the others; breakers of one name are shown as the worst and their opens summed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { HubMetrics, MAX_POOL_SERIES_PER_NAME, type MetricsSources, type PoolSource } from '../../src/hub/observe/metrics.js';
import { NO_PROMTOOL } from '../helpers/debian-tools.js';

function sources(pools: PoolSource[], breakers: { profile: string; state: string; opensCount: number }[]): MetricsSources {
  return {
    sessions: () => [],
    sessionsCut: () => 0,
    queue: () => ({ running: 0, queued: 0 }),
    breakers: () => breakers,
    pools: () => pools,
    auditSeq: () => undefined,
    metadataCache: () => undefined,
    team: () => undefined,
  };
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
  const logins = samples(text, 'snowmux_warehouse_logins');
  assert.deepEqual(logins.map((l) => Number(l.split(' ').at(-1))).sort(), [1, 4]);
  assert.deepEqual(samples(text, 'snowmux_breaker_state'), ['snowmux_breaker_state{profile="dev"} 2'], 'the worst breaker of the name');
  assert.deepEqual(samples(text, 'snowmux_breaker_opens'), ['snowmux_breaker_opens{profile="dev"} 3']);

  // The same pool keeps its label from one scrape to the next; a removed profile's series go.
  const again = await metrics.registry.metrics();
  assert.deepEqual(samples(again, 'snowmux_pool_connections'), samples(text, 'snowmux_pool_connections'));
  pools.length = 0;
  breakers.length = 0;
  const empty = await metrics.registry.metrics();
  assert.deepEqual([...samples(empty, 'snowmux_pool_connections'), ...samples(empty, 'snowmux_breaker_state'), ...samples(empty, 'snowmux_warehouse_logins')], []);
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
