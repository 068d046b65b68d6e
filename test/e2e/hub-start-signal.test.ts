/**
 * A hub takes its socket (and accepts shims, held until it is ready) before it has opened its audit log and
 * listeners. A SIGTERM or SIGINT in that time stops it gracefully once it is up, and a SIGHUP is ignored;
 * before, the signal's default action ended it with no drain (its shims read "exited before serving").
 * The test holds the claim lock the hub takes after its socket, so the hub waits in that window for sure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cliEnv, killAtEnd, runCli, tempHome, type Cleanup } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { socketPathFor } from '../../src/wire/home.js';
import { tryAcquireSpawnLock } from '../../src/shim/spawn-lock.js';

/** A hub held right after it took its socket: the claim lock it takes next is ours until `release`. */
async function hubInStartWindow(t: Cleanup): Promise<{ home: string; proc: ReturnType<typeof spawn>; stderr: () => string; release: () => void }> {
  const home = tempHome(t);
  const lock = tryAcquireSpawnLock(home, 60_000, 'audit-writer.lock');
  assert.ok(lock, 'the test holds the claim lock');
  const proc = spawn(process.execPath, [cliPath, 'hub', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const socket = socketPathFor(home);
  while (!existsSync(socket)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`hub exited before taking its socket: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.doesNotMatch(stderr, /listening on/, 'the hub is still starting');
  return { home, proc, stderr: () => stderr, release: () => lock.release() };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`a ${signal} while the hub starts (socket taken, audit not yet open) stops it gracefully once it is up`, async (t) => {
    const { proc, stderr, release } = await hubInStartWindow(t);
    const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    proc.kill(signal);
    // The signal's line is the sign it was handled (not the default action) before the hub goes on.
    while (!stderr().includes(`${signal} received`)) {
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    release();
    const [code, bySignal] = await exited;
    assert.equal(bySignal, null, `ended by the signal's default action: ${stderr()}`);
    assert.equal(code, 0, stderr());
    assert.match(stderr(), new RegExp(`${signal} received while starting: stopping gracefully as soon as the hub is up`));
    assert.match(stderr(), /snowmux hub: stopped/);
  });
}

test('a SIGHUP while the hub starts is ignored (said), and the hub then serves', async (t) => {
  const { home, proc, stderr, release } = await hubInStartWindow(t);
  proc.kill('SIGHUP');
  while (!stderr().includes('SIGHUP during start-up ignored')) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  release();
  assert.equal(proc.signalCode, null, `ended by SIGHUP's default action: ${stderr()}`);
  while (!stderr().includes('listening on')) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`hub exited: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, proc.pid);
  const exited = once(proc, 'exit') as Promise<[number | null]>;
  proc.kill('SIGTERM');
  assert.equal((await exited)[0], 0);
});
