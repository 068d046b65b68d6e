/**
 * `hub --replace` with a config whose `[audit] dir` moved: the new hub started a chain of its own in the new
 * directory, linked to nothing, and nobody was told — `audit verify` of either directory alone looked whole.
 * Now the terminal, hub.log and status say so, naming both directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startHub, tempHome } from '../helpers/harness.js';

test('hub --replace that moves [audit] dir says the chain starts anew there: terminal, hub.log and status', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const moved = join(home, 'audit-moved');
  writeFileSync(join(home, 'config.toml'), `[audit]\ndir = "${moved}"\n`, { mode: 0o600 });
  const next = await startHub(t, home, ['--replace']);
  const said = new RegExp(`\\[audit\\] dir changed with this replace: the hub it replaced \\(pid ${old.pid}\\) wrote its audit chain in ${join(home, 'audit')}; this hub writes ${moved}, a chain of its own`);
  assert.match(next.stderr(), said);
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  const parsed = JSON.parse(status.stdout) as { pid: number; config: { warnings?: string[] } };
  assert.equal(parsed.pid, next.pid);
  assert.ok(parsed.config.warnings?.some((w) => said.test(w)), status.stdout.slice(0, 2000));
  // hub.log is written asynchronously: read once the hub has stopped (it flushes its log as it exits).
  assert.equal(await next.stop(), 0);
  assert.match(readFileSync(join(home, 'hub.log'), 'utf8'), /\[audit\] dir changed with this replace/);
});

test('hub --replace with the same [audit] dir says nothing of it', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const next = await startHub(t, home, ['--replace']);
  assert.doesNotMatch(next.stderr(), /audit\] dir changed|audit is off/);
});
