/**
 * `hub --replace` whose start hangs after it has taken the running hub's socket (a lock, a disk, a listener
 * that never answers). The old hub waited for its ready, hand-back or dropped link with no bound: editors
 * reaching the new hub were held, and the terminal running --replace hung without a word. Now the new hub
 * gives the socket back past its start-up bound and says so; a new hub frozen where it cannot is given a
 * margin more, then the old hub takes its place back by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, killAtEnd, startHub, tempHome, type Cleanup } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { hubStatus, statusNaming, toolsListed } from '../helpers/replace-status.js';

/** `killAfterMs`: well under the test's own timeout, so a replace that hangs is this test's failure, not the runner's. */
function replace(t: Cleanup, home: string, env: Record<string, string>, killAfterMs: number): { proc: ChildProcess; stderr: () => string } {
  const proc = spawn(process.execPath, [cliPath, 'hub', '--replace', '--home', home], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: killAfterMs, killSignal: 'SIGKILL' });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { proc, stderr: () => stderr };
}

/** Until the new hub has bound the socket path (another inode), bounded; it freezes right after. */
async function socketReplaced(path: string, ino: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (statSync(path, { throwIfNoEntry: false })?.ino === ino) {
    assert.ok(Date.now() < deadline && proc.exitCode === null, 'the new hub never took the socket');
    await new Promise((r) => setImmediate(r));
  }
}

test('hub --replace that hangs while starting gives the socket back past its bound and says so; the running hub serves on', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const next = replace(t, home, { SNOWMUX_TEST_START_FAULT: 'after-bind:hang', SNOWMUX_TEST_REPLACE_READY_MS: '1500' }, 20_000);
  const [code, signal] = (await once(next.proc, 'exit')) as [number | null, string | null];
  assert.equal(signal, null, `the replace hung: ${next.stderr()}`);
  assert.notEqual(code, 0, next.stderr());
  assert.match(next.stderr(), /HUB_START_TIMEOUT|did not finish starting within 1\.5 s/);
  assert.match(next.stderr(), new RegExp(`Nothing was taken over: the running hub \\(pid ${old.pid}\\) took its socket back`));
  assert.match(next.stderr(), /hub\.log/);
  const now = await hubStatus(home);
  assert.equal(now?.pid, old.pid);
  assert.equal(now?.state, 'running');
  assert.ok((await toolsListed(t, home)) > 0);
  assert.equal(old.proc.exitCode, null, 'the old hub did not exit');
});

test('hub --replace frozen after taking the socket: the running hub takes its place back by itself', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  // Frozen (SIGSTOP) right after the bind: its own timer cannot run, its link stays open. Ended (SIGKILL) at the
  // end of the test, not before: its death would close the link, which the old hub already answers.
  const sock = join(home, 'hub.sock');
  const oldSocket = statSync(sock).ino;
  const next = replace(t, home, { SNOWMUX_TEST_START_FAULT: 'after-bind:freeze', SNOWMUX_TEST_REPLACE_READY_MS: '1000' }, 90_000);
  await socketReplaced(sock, oldSocket, next.proc);
  const now = await statusNaming(home, old.pid, 30_000);
  assert.equal(now?.pid, old.pid, 'the old hub serves the socket again');
  assert.equal(now?.state, 'running');
  assert.ok((await toolsListed(t, home)) > 0);
  assert.equal(old.proc.exitCode, null, 'the old hub did not exit');
});

test('hub --replace past its start-up bound whose clean-up hangs too: the terminal is told within a bound of its own, and the process ends', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  // The step that hung holds what the clean-up closes (the audit log on a disk that stopped answering): the
  // clean-up hangs as well. Killed at 20 s by the helper: the clean-up's bound must end it well before.
  const next = replace(t, home, { SNOWMUX_TEST_START_FAULT: 'after-bind:hang,clean-up:hang', SNOWMUX_TEST_REPLACE_READY_MS: '1500', SNOWMUX_TEST_START_CLEANUP_MS: '1500' }, 20_000);
  const [code, signal] = (await once(next.proc, 'exit')) as [number | null, string | null];
  assert.equal(signal, null, `the replace hung in its clean-up: ${next.stderr()}`);
  assert.notEqual(code, 0, next.stderr());
  assert.match(next.stderr(), /HUB_START_TIMEOUT|did not finish starting within 1\.5 s/);
  assert.match(next.stderr(), new RegExp(`Nothing was taken over: the running hub \\(pid ${old.pid}\\) took its socket back`));
  assert.match(next.stderr(), /clean-up did not finish within 1\.5 s/);
  const now = await hubStatus(home);
  assert.equal(now?.pid, old.pid);
  assert.equal(now?.state, 'running');
  assert.ok((await toolsListed(t, home)) > 0);
  assert.equal(old.proc.exitCode, null, 'the old hub did not exit');
});
