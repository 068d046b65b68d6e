/**
 * SnowmuxWarehouseBreakerOpen fires while the breaker is open or half-open: through an outage the breaker
 * moves between open and half-open (each reset_timeout_ms the hub probes, for up to 10 s), and an alert on
 * `== 2` would resolve during each probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/paths.js';
import { NO_PROMTOOL } from '../helpers/debian-tools.js';

test('the breaker alert covers the half-open state (snowmux_breaker_state 1)', () => {
  const rules = parse(readFileSync(join(repoRoot, 'contrib', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
  const alert = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SnowmuxWarehouseBreakerOpen');
  assert.ok(alert);
  const m = /snowmux_breaker_state\)\s*(>=|==|>)\s*(\d)\s*$/.exec(alert.expr.trim());
  assert.ok(m, alert.expr);
  const fires = (state: number) => (m[1] === '>=' ? state >= Number(m[2]) : m[1] === '>' ? state > Number(m[2]) : state === Number(m[2]));
  assert.deepEqual([0, 1, 2].map(fires), [false, true, true]);
});

test("a breaker's fast fails count as the outage's errors, not as policy refusals", { skip: NO_PROMTOOL }, (t) => {
  const rulesFile = join(repoRoot, 'contrib', 'prometheus', 'alerts.yml');
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] };
  const annotations = (alert: string) =>
    Object.fromEntries(Object.entries(rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)?.annotations ?? {}).map(([k, v]) => [k, v.replaceAll('{{ $labels.instance }}', 'hub')]));
  const at = (labels: string) => `{${labels},job="snowmux",instance="hub"}`;
  // 40 minutes of an outage: the breaker refuses one call a second, a few still succeed (another profile).
  const input_series = [
    { series: `snowmux_tool_calls_total${at('tool="execute_query",outcome="refused"')}`, values: '0+60x40' },
    { series: `snowmux_tool_calls_total${at('tool="execute_query",outcome="ok"')}`, values: '0+6x40' },
    { series: `snowmux_tool_call_failures_total${at('outcome="refused",code="WAREHOUSE_CIRCUIT_OPEN"')}`, values: '0+60x40' },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'smx-alert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'outage.test.yml');
  writeFileSync(file, JSON.stringify({
    rule_files: [rulesFile],
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series,
      alert_rule_test: [
        { eval_time: '35m', alertname: 'SnowmuxRefusalsHigh', exp_alerts: [] },
        { eval_time: '35m', alertname: 'SnowmuxErrorRatioHigh', exp_alerts: [{ exp_labels: { severity: 'warning', instance: 'hub' }, exp_annotations: annotations('SnowmuxErrorRatioHigh') }] },
      ],
    }],
  }));
  const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});
