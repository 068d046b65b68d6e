/**
 * A write that runs when its hub is killed: the audit log already holds a `write_started` record of it (who,
 * which call, its SQL), so a change that committed is never left without a trace, and the editor is told
 * to check before running it again rather than to retry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { connectClient, defer, runCli, startHub, tempHome } from '../helpers/harness.js';
import { runningCalls, statusUntil } from './chaos-support.js';

function auditRecords(home: string): Record<string, unknown>[] {
  const dir = join(home, 'audit');
  return readdirSync(dir)
    .filter((f) => /^audit-\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
}

test('a write running when the hub is SIGKILLed has its write_started record; the editor is told to check before running it again', async (t) => {
  const double = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'intent-pw-1234', roles: ['ANALYST'] }] });
  defer(t, () => double.close());
  const home = tempHome(t);
  writeFileSync(
    join(home, 'config.toml'),
    `[hub]\ndefault_profile = "p"\n[profiles.p]\naccount = "fakeacct"\nuser = "alice"\npassword = "intent-pw-1234"\naccess_url = "${double.url}"\n` +
      `warehouse = "COMPUTE_WH"\ndatabase = "ANALYTICS"\nschema = "PUBLIC"\n\n[roles.writer]\nclients = ["writer"]\nwrite = true\n`,
  );
  const hub = await startHub(t, home);
  const writer = await connectClient(t, { home, kind: 'v2-legacy', name: 'writer' });
  const created = await writer.callTool('execute_query', { query: 'CREATE TABLE ANALYTICS.PUBLIC.LEDGER (X INT)' });
  assert.ok(!created.isError);
  const read = await writer.callTool('execute_query', { query: 'SELECT COUNT(*) FROM ANALYTICS.PUBLIC.LEDGER' });
  assert.ok(!read.isError);

  double.setQueryLatency(60_000);
  const lost = writer.callTool('execute_query', { query: 'INSERT INTO ANALYTICS.PUBLIC.LEDGER VALUES (42)' }, { timeout: 60_000 }).then(
    () => assert.fail('the call cannot succeed: its hub is killed while it runs'),
    (err: Error) => err,
  );
  await statusUntil(home, 'the INSERT running', (s) => runningCalls(s) === 1);
  await hub.stop('SIGKILL');
  double.setQueryLatency(0);
  const err = await lost;
  assert.match(err.message, /one that changes data may have been applied: check query_history/);

  const records = auditRecords(home);
  const started = records.filter((r) => r['kind'] === 'write_started');
  assert.deepEqual(started.map((r) => r['sql']), ['CREATE TABLE ANALYTICS.PUBLIC.LEDGER (X INT)', 'INSERT INTO ANALYTICS.PUBLIC.LEDGER VALUES (42)'], 'the DDL and the INSERT, not the SELECT');
  assert.equal(started[1]!['outcome'], 'started');
  assert.deepEqual(started[1]!['client'], { name: 'writer', version: '2.0.0' });
  const calls = records.filter((r) => r['kind'] === 'tool_call').map((r) => r['sql']);
  assert.ok(!calls.includes('INSERT INTO ANALYTICS.PUBLIC.LEDGER VALUES (42)'), 'the call never ended: only its start is on record');
  // The chain the killed hub left verifies (a torn tail, if any, is reported, not an edit).
  const verified = await runCli(['audit', 'verify', '--home', home, '--json']);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});
