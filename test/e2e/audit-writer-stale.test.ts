/**
 * A stale audit-writer.pid whose pid now belongs to an unrelated live process (pids are reused after a
 * crash or reboot) must not switch auditing off: the new hub opens the audit log at once and records calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, defer, runCli, startHub, tempHome, type Cleanup } from '../helpers/harness.js';

interface AuditStatus {
  audit: { lastSeq?: number; enabled?: boolean };
}

async function auditedCall(t: Cleanup, home: string): Promise<void> {
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  const r = await c.callTool('execute_query', { query: 'SELECT 1' });
  assert.ok(!r.isError);
  // The audit log opens right after the socket is bound; a stale writer file would hold it back for minutes.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as AuditStatus;
    if ((status.audit.lastSeq ?? 0) >= 2) break; // hub_start + the call
    assert.ok(Date.now() < deadline, `audit not written: ${JSON.stringify(status.audit)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a writer file naming a live but unrelated process (wrong start time) does not hold auditing back', { skip: process.platform !== 'linux' && 'start times come from /proc' }, async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'audit-writer.pid'), `${process.pid} 1\n`, { mode: 0o600 });
  await auditedCall(t, home);
});

test('an old-format writer file naming a live process that is not snowmux does not hold auditing back', { skip: process.platform !== 'linux' && 'command lines come from /proc' }, async (t) => {
  const home = tempHome(t);
  const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
  defer(t, async () => {
    if (unrelated.exitCode === null && unrelated.signalCode === null) {
      unrelated.kill('SIGKILL');
      await once(unrelated, 'exit');
    }
  });
  writeFileSync(join(home, 'audit-writer.pid'), `${unrelated.pid}\n`, { mode: 0o600 });
  await auditedCall(t, home);
});
