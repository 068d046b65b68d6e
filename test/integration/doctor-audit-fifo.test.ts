/**
 * `snowmux doctor` opens the newest audit file as the hub does: a FIFO there (made by another process of the
 * user, or a group member where the group may write the audit directory) is named and refused at once. A
 * plain open for append waited in open() for ever, and doctor printed nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { cliEnv, killAtEnd, runCli, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

interface Check { check: string; status: string; detail: string; fix?: string }

test('doctor does not hang on a FIFO where the newest audit file is: it fails the audit check naming it and what to do, as the hub refuses to start on it', { timeout: 60_000 }, async (t) => {
  const env = { SNOWFLAKE_HOME: join(tempHome(t), 'none') };
  const home = tempHome(t);
  mkdirSync(join(home, 'audit'), { mode: 0o700 });
  const fifo = join(home, 'audit', 'audit-000001.jsonl');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const started = await runCli(['hub', '--home', home], env);
  assert.equal(started.code, 1);
  assert.match(started.stderr, /audit-000001\.jsonl is a FIFO \(named pipe\), not a regular file.*\[AUDIT_OPEN_FAILED\]/s);
  // Spawned here (not runCli) so a doctor that waits on the FIFO is ended with the test instead of left behind.
  const proc = spawn(process.execPath, [cliPath, 'doctor', '--json', '--offline', '--home', home], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  killAtEnd(t, proc);
  let stdout = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  let bound: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    once(proc, 'exit').then(([code]) => ({ code: code as number | null })),
    new Promise<'waiting'>((resolve) => (bound = setTimeout(() => resolve('waiting'), 30_000))),
  ]);
  clearTimeout(bound);
  assert.notEqual(ended, 'waiting', 'doctor is still waiting in open() on the FIFO after 30 s');
  assert.equal((ended as { code: number | null }).code, 1, stdout);
  const audit = (JSON.parse(stdout) as Check[]).find((c) => c.check === 'audit' && c.status === 'fail');
  assert.ok(audit, stdout);
  assert.match(audit.detail, /audit-000001\.jsonl is a FIFO \(named pipe\), not a regular file: every hub start stops on it \[AUDIT_OPEN_FAILED\]/);
  assert.match(audit.fix!, /ls -l .*audit-000001\.jsonl.*move it out of the audit directory/);
});
