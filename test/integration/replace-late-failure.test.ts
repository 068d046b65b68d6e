/**
 * `hub --replace` that fails after it has taken the running hub's socket (a home claim that cannot be
 * written, an error or a crash while starting). The old hub saw its socket taken and drained, the new one
 * stopped or died: no hub served, every editor was cut off. Now the old hub serves on until the new one
 * says it is ready, and takes its socket back when the new one gives up or dies: a replace is all or nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, initialize, killAtEnd, rawLink, startHub, tempHome, type Cleanup } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { hubStatus, statusNaming, toolsListed } from '../helpers/replace-status.js';

async function replace(t: Cleanup, home: string, env: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const proc = spawn(process.execPath, [cliPath, 'hub', '--replace', '--home', home], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
  return { code, signal, stderr };
}

test('hub --replace that fails after taking the socket gives it back: the running hub serves on, its sessions and new ones', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const before = await rawLink(t, join(home, 'hub.sock'));
  await initialize(before);
  const { code, stderr } = await replace(t, home, { SNOWMUX_TEST_START_FAULT: 'after-bind:throw' });
  assert.notEqual(code, 0, stderr);
  assert.match(stderr, /injected start-up fault/);
  assert.match(stderr, new RegExp(`Nothing was taken over: the running hub \\(pid ${old.pid}\\) took its socket back and goes on serving`));
  assert.doesNotMatch(stderr, /took over from hub pid/);
  const now = await hubStatus(home);
  assert.equal(now?.pid, old.pid, 'the old hub answers on the socket');
  assert.equal(now?.state, 'running');
  // The session opened before the replace is still served, and a new one reaches the old hub.
  const listed = await before.request(3, 'tools/list');
  assert.ok(((listed.result as { tools: unknown[] }).tools).length > 0);
  assert.ok((await toolsListed(t, home)) > 0);
  assert.equal(old.proc.exitCode, null, 'the old hub did not exit');
});

test('hub --replace whose home claim cannot be written (after it holds the socket) leaves the running hub serving', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  // A real late failure: the claim file is taken by something that is not a file (claimed after the bind).
  rmSync(join(home, 'hub.pid'), { force: true });
  mkdirSync(join(home, 'hub.pid'));
  const { code, stderr } = await replace(t, home);
  assert.notEqual(code, 0, stderr);
  assert.match(stderr, /HOME_UNUSABLE|not the hub's claim file/);
  assert.match(stderr, new RegExp(`the running hub \\(pid ${old.pid}\\) took its socket back`));
  assert.equal((await hubStatus(home))?.pid, old.pid);
  assert.ok((await toolsListed(t, home)) > 0);
});

test('hub --replace that crashes while starting (SIGKILL after taking the socket): the running hub takes its socket back', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const { signal, stderr } = await replace(t, home, { SNOWMUX_TEST_START_FAULT: 'after-bind:crash' });
  assert.equal(signal, 'SIGKILL', stderr);
  const now = await statusNaming(home, old.pid);
  assert.equal(now?.pid, old.pid, 'the old hub serves the socket again');
  assert.equal(now?.state, 'running');
  assert.ok((await toolsListed(t, home)) > 0);
  assert.equal(old.proc.exitCode, null, 'the old hub did not exit');
});

test('a successful hub --replace still moves every editor to the new hub and the old one exits', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const exited = once(old.proc, 'exit');
  const next = await startHub(t, home, ['--replace']);
  assert.match(next.stderr(), new RegExp(`took over from hub pid ${old.pid}`));
  // The old hub took part in the ready handshake: nothing says it refused anything.
  assert.doesNotMatch(next.stderr(), /refused the hand-over|undefined/);
  await exited;
  assert.equal((await hubStatus(home))?.pid, next.pid);
});
