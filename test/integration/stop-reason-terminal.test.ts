/**
 * A hub's terminal (or the journal of the service manager that runs it) says why the hub stops: replaced by
 * which hub, `snowmux stop`, its socket taken. It used to print only "snowmux hub: stopped", so whoever
 * watched a hub end after an upgrade or a stop from another terminal could not tell what ended it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { runCli, startHub, tempHome } from '../helpers/harness.js';

async function exited(hub: Awaited<ReturnType<typeof startHub>>): Promise<void> {
  if (hub.proc.exitCode !== null || hub.proc.signalCode !== null) return;
  await once(hub.proc, 'exit');
}

test("a replaced hub's terminal names the hub that replaced it; a stopped one says `snowmux stop`", async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const next = await startHub(t, home, ['--replace']);
  await exited(old);
  assert.match(old.stderr(), new RegExp(`snowmux hub: stopping: replaced by another hub \\(snowmux hub --replace, pid ${next.pid}\\); running calls finish first, then it exits`));
  const stop = await runCli(['stop', '--home', home]);
  assert.equal(stop.code, 0, stop.stderr);
  await exited(next);
  assert.match(next.stderr(), /snowmux hub: stopping: snowmux stop; running calls finish first, then it exits\n/);
  // A signal's stop is said once, where the signal is received.
  assert.doesNotMatch(next.stderr(), /stopping: SIG/);
});

test("a hub stopped by SIGTERM says so once on its terminal", async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home);
  await hub.stop('SIGTERM');
  assert.match(hub.stderr(), /SIGTERM received, stopping gracefully/);
  assert.doesNotMatch(hub.stderr(), /stopping: SIGTERM/);
});
