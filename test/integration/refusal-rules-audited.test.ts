/** Every refusal's audit record says which rule refused the call and under which role, not only its error code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, runCli, startHub, tempHome } from '../helpers/harness.js';

test('refused calls are audited with the rule that refused them and the role they were judged under', async (t) => {
  const home = tempHome(t);
  writeFileSync(
    join(home, 'config.toml'),
    '[policy]\ndefault_role = "analyst"\n[roles.analyst]\ntools = ["execute_query"]\ndeny = ["*.*.SUPPLIER"]\n[roles.analyst.rate]\nper_second = 0.001\nburst = 4\n',
  );
  const hub = await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  const calls: [string, Record<string, unknown>][] = [
    ['execute_query', { query: 'DELETE FROM NATION' }],
    ['execute_query', { query: 'SELECT * FROM SUPPLIER' }],
    ['list_databases', {}],
    ['execute_query', { query: 'SELECT 1; SELECT 2' }],
    ['execute_query', { query: 'SELECT 1' }],
    ['execute_query', { query: 'SELECT 2' }], // past the burst of 4 (list_databases was refused before the rate limit)
  ];
  for (const [tool, args] of calls) await c.callTool(tool, args);
  await c.close();
  await hub.stop();
  const dir = join(home, 'audit');
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; outcome: string; errorCode?: string; detail?: { rule?: string; role?: string } }))
    .filter((r) => r.kind === 'tool_call');
  assert.deepEqual(
    records.map((r) => [r.outcome, r.errorCode ?? null, r.detail?.rule ?? null, r.detail?.role ?? null]),
    [
      ['refused', 'SQL_REFUSED', 'read-only', 'analyst'],
      ['refused', 'POLICY_DENIED', 'deny "*.*.SUPPLIER"', 'analyst'],
      ['refused', 'POLICY_DENIED', 'tools', 'analyst'],
      ['refused', 'SQL_MULTI_STATEMENT', 'single-statement', 'analyst'],
      ['ok', null, null, null],
      ['refused', 'RATE_LIMITED', 'rate', 'analyst'],
    ],
  );
  const verify = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(verify.code, 0, verify.stdout);
});
