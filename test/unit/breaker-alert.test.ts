/**
 * SnowmuxWarehouseBreakerOpen fires while the breaker is open or half-open: through an outage the breaker
 * moves between open and half-open (each reset_timeout_ms the hub probes, for up to 10 s), and an alert on
 * `== 2` would resolve during each probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/paths.js';

test('the breaker alert covers the half-open state (snowmux_breaker_state 1)', () => {
  const rules = parse(readFileSync(join(repoRoot, 'contrib', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
  const alert = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SnowmuxWarehouseBreakerOpen');
  assert.ok(alert);
  const m = /snowmux_breaker_state\)\s*(>=|==|>)\s*(\d)\s*$/.exec(alert.expr.trim());
  assert.ok(m, alert.expr);
  const fires = (state: number) => (m[1] === '>=' ? state >= Number(m[2]) : m[1] === '>' ? state > Number(m[2]) : state === Number(m[2]));
  assert.deepEqual([0, 1, 2].map(fires), [false, true, true]);
});
