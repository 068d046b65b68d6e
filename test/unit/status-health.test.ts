/**
 * The one health judgement (hub/core/hub-health.ts) behind /readyz, `snowmux status`'s exit code and
 * status's `health` section: draining, breakers, warehouses that cannot serve, and the embedded sample.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessHealth } from '../../src/hub/core/hub-health.js';
import { formatStatus, healthOf } from '../../src/cli/commands/status-command.js';
import type { HubStatus } from '../../src/hub/hub.js';
import type { Warehouse, WarehouseInfo, WarehouseProblem } from '../../src/hub/warehouse/types.js';
import { warehouseId } from '../../src/hub/warehouse/warehouse-id.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { PassThrough } from 'node:stream';

const base = { state: 'running', warehouses: [], governance: { breakers: [] } } as unknown as HubStatus;
const withBreakers = (states: string[], state = 'running') =>
  ({ ...base, state, governance: { breakers: states.map((s, i) => ({ profile: `p${i}`, state: s })) } }) as unknown as HubStatus;
const warehouse = (kind: 'duckdb' | 'snowflake', name: string, problem?: Partial<WarehouseProblem>): WarehouseInfo => ({
  kind,
  name,
  detail: {},
  defaultDatabase: 'DB',
  defaultSchema: 'S',
  ...(problem ? { problem: { code: 'AUTH_FAILED', message: 'Snowflake refused the login.', at: '2026-01-01T10:00:00.000Z', failures: 1, transient: false, ...problem } } : {}),
});
const status = (warehouses: WarehouseInfo[], breakers: { kind?: string; profile: string; state: string }[] = [], state = 'running') =>
  ({ ...base, state, warehouses, governance: { breakers } }) as unknown as HubStatus;

test('healthy: running, no breaker open (or only some), no warehouse opened yet', () => {
  assert.deepEqual(assessHealth(base), { ok: true, reasons: [], warnings: [] });
  assert.equal(assessHealth(withBreakers(['closed', 'half-open'])).ok, true);
  const some = assessHealth(withBreakers(['open', 'closed']));
  assert.equal(some.ok, true, 'another warehouse still serves');
  assert.match(some.warnings.join('\n'), /circuit breaker open for profile "p0"/);
});

test('unhealthy: draining, or every warehouse behind an open breaker', () => {
  assert.deepEqual(assessHealth(withBreakers([], 'draining')).reasons, ['the hub is draining: it finishes its running calls, then exits; send new work to another hub']);
  const open = assessHealth(withBreakers(['open', 'open']));
  assert.equal(open.ok, false);
  assert.match(open.reasons[0]!, /^no warehouse can serve: circuit breaker open for profile "p0"/);
  assert.match(open.reasons[1]!, /profile "p1"/);
});

test('a warehouse whose logins fail cannot serve: the reason names the code, the message and what to do', () => {
  const h = assessHealth(status([warehouse('snowflake', 'prod', { snowflakeCode: '390100' })]));
  assert.equal(h.ok, false);
  assert.match(h.reasons[0]!, /no warehouse can serve: Snowflake profile "prod" failed to log in at 10:00:00 UTC \[AUTH_FAILED 390100\]: Snowflake refused the login\./);
  assert.match(h.reasons[0]!, /snowmux hub --replace/);
  assert.match(h.reasons[0]!, /reload` does not re-read profiles/);
  // Another profile that serves keeps the hub healthy; the failing one is a warning.
  const mixed = assessHealth(status([warehouse('snowflake', 'prod', {}), warehouse('snowflake', 'dev')]));
  assert.equal(mixed.ok, true);
  assert.match(mixed.warnings[0]!, /profile "prod"/);
  // A transient failure says the next call tries again.
  assert.match(assessHealth(status([warehouse('snowflake', 'prod', { code: 'WAREHOUSE_UNAVAILABLE', transient: true })])).reasons[0]!, /The next call tries again/);
});

test('the embedded sample does not make a hub with a failing Snowflake account healthy; alone, it is judged by itself', () => {
  const h = assessHealth(status([warehouse('duckdb', 'embedded'), warehouse('snowflake', 'prod', {})]));
  assert.equal(h.ok, false);
  assert.match(h.reasons.join(' '), /embedded sample warehouse still answers/);
  // One failing account is one reason: the note on the sample is part of it, not a reason (and a failed
  // doctor check, "2 checks failed") of its own.
  assert.equal(h.reasons.length, 1, h.reasons.join('\n'));
  assert.match(h.reasons[0]!, /^no warehouse can serve: Snowflake profile "prod" .* \(The embedded sample warehouse still answers .*\.\)$/);
  const breaker = assessHealth(status([warehouse('duckdb', 'embedded'), warehouse('snowflake', 'prod')], [{ kind: 'snowflake', profile: 'prod', state: 'open' }]));
  assert.equal(breaker.ok, false);
  assert.equal(assessHealth(status([warehouse('duckdb', 'embedded')])).ok, true);
  assert.equal(assessHealth(status([warehouse('duckdb', 'embedded')], [{ kind: 'duckdb', profile: 'embedded', state: 'open' }])).ok, false);
  assert.equal(assessHealth(status([warehouse('duckdb', 'embedded', { code: 'WAREHOUSE_CLOSED' })])).ok, false);
});

test("status readers use the hub's own judgement when its status carries one, else judge alike", () => {
  const own = { ...status([warehouse('snowflake', 'prod', {})]), health: { ok: true, reasons: [], warnings: ['w'] } } as unknown as HubStatus;
  assert.deepEqual(healthOf(own), { ok: true, reasons: [], warnings: ['w'] });
  assert.equal(healthOf(status([warehouse('snowflake', 'prod', {})])).ok, false);
});

test('plain status shows a warehouse that cannot serve, within 80 columns', () => {
  const s = {
    ...status([warehouse('snowflake', 'prod', { snowflakeCode: '390100', message: 'Snowflake refused the login of profile "prod" (account "xy12345", user "alice"): Incorrect username or password was specified. (code 390100). Check user (set by env SNOWFLAKE_USER) and password (set by env SNOWFLAKE_PASSWORD).' })]),
    governance: undefined,
    version: '0.1.0', pid: 1, uptimeMs: 1000, home: '/h', sessions: [], recent: [], totals: { sessionsOpened: 0, calls: 0, errors: 0, refused: 0, cancelled: 0 },
  } as unknown as HubStatus;
  const text = formatStatus(s);
  assert.match(text, /CANNOT SERVE \[AUTH_FAILED 390100\] \(last 10:00:00 UTC\): Snowflake refused/);
  for (const line of text.split('\n')) assert.ok(line.length <= 80, line);
});

test('an audit log that cannot write now is a warning under on_failure "serve" (calls are still served), gone once it writes again', () => {
  const failing = { ...base, audit: { dir: '/h/audit', onFailure: 'serve', failedAppends: 3, failing: { since: '2026-01-01T10:00:05.000Z', code: 'AUDIT_WRITE_FAILED', message: 'ENOSPC: no space left on device' } } } as unknown as HubStatus;
  const health = assessHealth(failing);
  assert.equal(health.ok, true);
  assert.deepEqual(health.warnings, ['audit records are not being written since 10:00:05 (AUDIT_WRITE_FAILED: ENOSPC: no space left on device): calls are served but not recorded until it writes again — free space on the disk holding /h/audit or fix the audit directory']);
  // Failed once, writing again: the count stays, the warning goes.
  assert.deepEqual(assessHealth({ ...base, audit: { failedAppends: 3, failing: null } } as unknown as HubStatus).warnings, []);
});

test('under on_failure "refuse" (the default) an audit log that cannot write makes the hub unhealthy (status exits 3, /readyz 503): it refuses every call', () => {
  const failing = { ...base, audit: { dir: '/h/audit', onFailure: 'refuse', failedAppends: 3, failing: { since: '2026-01-01T10:00:05.000Z', code: 'AUDIT_WRITE_FAILED', message: 'ENOSPC: no space left on device' } } } as unknown as HubStatus;
  const health = assessHealth(failing);
  assert.equal(health.ok, false);
  assert.match(health.reasons.join('\n'), /audit records cannot be written since 10:00:05 \(AUDIT_WRITE_FAILED: ENOSPC.*refused with AUDIT_UNAVAILABLE.*free space on the disk holding \/h\/audit/);
  assert.equal(assessHealth({ ...base, audit: { onFailure: 'refuse', failedAppends: 3, failing: null } } as unknown as HubStatus).ok, true);
});

test("pools sharing a profile name: one pool's open breaker is a warning while another pool of the name serves", () => {
  // Two editors whose own SNOWFLAKE_* settings differ get a pool each under profile "default"; governance
  // keeps a breaker per pool and names each by its warehouse's id, as status's warehouses carry it.
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  const pool = (account: string) => ({ kind: 'snowflake', info: () => ({ ...warehouse('snowflake', 'default'), detail: { account } }) }) as unknown as Warehouse;
  const [a, b] = [pool('acct_a'), pool('acct_b')];
  governance.breakerFor(a);
  governance.breakerFor(b);
  const breakers = (governance.snapshot().breakers as { warehouseId: number; profile: string; state: string }[]).map((x) => ({ ...x }));
  assert.deepEqual(breakers.map((x) => x.warehouseId), [warehouseId(a), warehouseId(b)]);
  const warehouses = [{ ...a.info(), id: warehouseId(a) }, { ...b.info(), id: warehouseId(b) }];
  breakers[0]!.state = 'open'; // acct_a's network is down
  const one = assessHealth(status(warehouses, breakers));
  assert.equal(one.ok, true, one.reasons.join('\n'));
  assert.equal(one.warnings.length, 1);
  assert.match(one.warnings[0]!, /circuit breaker open for profile "default"/);
  breakers[1]!.state = 'open';
  assert.equal(assessHealth(status(warehouses, breakers)).ok, false, 'every pool of the name behind an open breaker');
  // An older hub's status (no ids) is matched by kind and name, as before.
  assert.equal(assessHealth(status([warehouse('snowflake', 'default')], [{ kind: 'snowflake', profile: 'default', state: 'open' }])).ok, false);
  for (const w of [a, b]) governance.forgetWarehouse(w);
});

test('a shim refused for its link version in the last 15 minutes is a warning with the fix; an older refusal, or another code, is not', () => {
  const refused = (code: string, agoMs: number) => ({ ...base, version: '0.1.0', home: '/h', refusedShims: { count: 1, last: { at: new Date(Date.now() - agoMs).toISOString(), code, shimVersion: '9.9.9' } } }) as unknown as HubStatus;
  const newer = assessHealth(refused('HUB_TOO_OLD', 1000));
  assert.equal(newer.ok, true, 'the hub still serves');
  assert.match(newer.warnings.join('\n'), /a snowmux 9\.9\.9 shim was refused at .* UTC \[HUB_TOO_OLD\]: it speaks a newer link version than this hub \(0\.1\.0\), so its editor's calls fail\. Run `snowmux hub --replace --home \/h` with the newer snowmux/);
  assert.match(assessHealth(refused('SHIM_TOO_OLD', 1000)).warnings.join('\n'), /\[SHIM_TOO_OLD\].*Upgrade the snowmux that editor launches/);
  assert.deepEqual(assessHealth(refused('HUB_TOO_OLD', 20 * 60_000)).warnings, []);
  assert.deepEqual(assessHealth(refused('BAD_HELLO', 1000)).warnings, []);
});
