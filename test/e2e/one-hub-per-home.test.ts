/**
 * One home, one hub, however the home is reached: a long home (its socket in the private runtime
 * directory) spelled through a symlink and as its real path has one socket name and one hub; a hub that
 * comes up on another socket of the same home (another $SNOWMUX_RUNTIME_BASE, an older snowmux, a removed
 * socket) refuses, naming the running hub's pid; `hub --replace` still takes the home over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, defer, killEveryHub, runCli, startHub, tempHome } from '../helpers/harness.js';

test('a long home through a symlink and through its real path: one socket, one hub; a hub on another socket of it refuses, naming the running pid; --replace takes it over', async (t) => {
  const base = tempHome(t, 'smx-1h-');
  const real = join(base, 'a'.repeat(60), 'b'.repeat(60), 'home');
  mkdirSync(real, { recursive: true, mode: 0o700 });
  symlinkSync(join(base, 'a'.repeat(60), 'b'.repeat(60)), join(base, 's'));
  const viaLink = join(base, 's', 'home'); // short enough for hub.sock in the home, as spelled
  defer(t, () => {
    killEveryHub(real);
    killEveryHub(viaLink);
  });
  const env = { SNOWMUX_RUNTIME_BASE: tempHome(t, 'smx-rt-') };

  const first = await startHub(t, real, [], env);
  // An editor configured with the other spelling reaches that hub: no second hub is started for it.
  const editor = await connectClient(t, { home: viaLink, kind: 'v2-legacy', env });
  assert.ok(!(await editor.callTool('list_databases')).isError);
  for (const home of [real, viaLink]) {
    const status = await runCli(['status', '--json', '--home', home], env);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { pid: number; sessions: unknown[] };
    assert.equal(s.pid, first.pid, `status --home ${home}`);
    assert.equal(s.sessions.length, 1);
  }
  assert.equal(readFileSync(join(real, 'hub.pid'), 'utf8').split(' ')[0]!.trim(), String(first.pid));

  // A hub that binds another socket for the same home (here: another runtime base) refuses to serve it.
  const elsewhere = { SNOWMUX_RUNTIME_BASE: tempHome(t, 'smx-rt2-') };
  const second = await runCli(['hub', '--home', viaLink], elsewhere);
  assert.notEqual(second.code, 0, second.stderr);
  assert.match(second.stderr, new RegExp(`Another snowmux hub \\(pid ${first.pid}\\) already serves the home`));
  assert.match(second.stderr, /HUB_ALREADY_RUNNING/);
  assert.ok(second.stderr.includes(`kill ${first.pid}`), second.stderr);
  assert.equal(readFileSync(join(real, 'hub.pid'), 'utf8').split(' ')[0]!.trim(), String(first.pid), 'the refused hub leaves the claim alone');
  assert.ok((await editor.callTool('list_databases')).isError !== true, 'the running hub still serves');
  // doctor, run where that spelling reaches no hub, fails naming the hub that holds the home and how to stop it.
  const doc = await runCli(['doctor', '--json', '--offline', '--home', viaLink], elsewhere);
  assert.equal(doc.code, 1, doc.stdout);
  const hubCheck = (JSON.parse(doc.stdout) as { check: string; status: string; detail: string; fix?: string }[]).find((c) => c.check === 'hub');
  assert.equal(hubCheck?.status, 'fail', doc.stdout);
  assert.match(hubCheck.detail, new RegExp(`No hub answers at .*, but hub pid ${first.pid} holds this home`));
  assert.ok(hubCheck.fix?.includes(`kill ${first.pid}`), hubCheck.fix);
  const lost = await runCli(['status', '--home', viaLink], elsewhere);
  assert.notEqual(lost.code, 0);
  assert.match(lost.stderr, new RegExp(`hub pid ${first.pid} holds this home[\\s\\S]*kill ${first.pid}`));
  // stop, run there, stops nothing: it says so, names the holder and fails, instead of "no hub is running;
  // nothing to stop" with exit 0 (an uninstall went on while that hub served).
  const stop = await runCli(['stop', '--home', viaLink], elsewhere);
  assert.equal(stop.code, 1, stop.stdout + stop.stderr);
  assert.doesNotMatch(stop.stdout, /nothing to stop/);
  assert.match(stop.stderr, new RegExp(`Nothing was stopped\\. No hub answers at .*, but hub pid ${first.pid} holds this home[\\s\\S]*kill ${first.pid}[\\s\\S]*HUB_NOT_RUNNING`));
  assert.ok((await editor.callTool('list_databases')).isError !== true, 'the running hub still serves');

  // `hub --replace`, under the other spelling, takes the home over: the claim is the new hub's.
  const firstExit = once(first.proc, 'exit');
  const next = await startHub(t, viaLink, ['--replace'], env);
  await firstExit;
  const status = JSON.parse((await runCli(['status', '--json', '--home', real], env)).stdout) as { pid: number };
  assert.equal(status.pid, next.pid);
  assert.equal(readFileSync(join(real, 'hub.pid'), 'utf8').split(' ')[0]!.trim(), String(next.pid), 'the replaced hub left the new one\'s claim in place');
  assert.equal(await next.stop(), 0);
  assert.equal(existsSync(join(real, 'hub.pid')), false, 'a stopped hub gives its claim up');
});
