/**
 * Every metric name the docs and contrib files (alerts, dashboard) give is one the hub exposes: an operator
 * who copies a name from docs/audit.md into an alert must not get an alert that can never fire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HubMetrics } from '../../src/hub/observe/metrics.js';
import { repoRoot } from '../helpers/paths.js';
import { IDLE_METRICS_SOURCES } from '../helpers/metrics-sources.js';

const sources = IDLE_METRICS_SOURCES;

/** Words of the form snowmux_… in the docs that are not metrics, each with why. */
const NOT_METRICS = new Map([
  ['snowmux_', 'the metrics prefix itself'],
  ['snowmux_process_', 'the prefix of the default process metrics'],
  ['snowmux_analyst', 'a Snowflake role in an example'],
  ['snowmux_sample', 'the embedded sample database'],
  ['snowmux_breaker_opens', 'a former name, mentioned as such (operations.md)'],
  ['snowmux_warehouse_logins', 'a former name, mentioned as such (operations.md)'],
]);

function documentedNames(): Map<string, string> {
  const files = [
    ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f)),
    join('contrib', 'prometheus', 'alerts.yml'),
    join('contrib', 'grafana', 'snowmux-dashboard.json'),
    'README.md',
  ];
  const out = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(join(repoRoot, file), 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/snowmux_[a-z_]+/g)) if (!out.has(m[0])) out.set(m[0], file);
  }
  return out;
}

test('every snowmux_* metric name in the docs and contrib files is one /metrics exposes', async () => {
  const metrics = new HubMetrics(sources);
  const families = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
  const exposed = (name: string) =>
    families.has(name) || ['_bucket', '_sum', '_count'].some((s) => name.endsWith(s) && families.has(name.slice(0, -s.length)));
  const unknown = [...documentedNames()].filter(([name]) => !NOT_METRICS.has(name) && !exposed(name)).map(([name, file]) => `${name} (${file})`);
  assert.deepEqual(unknown, [], 'names no metric has: fix the docs, or the metric');
  assert.ok(families.has('snowmux_audit_append_failures_total'));
});
