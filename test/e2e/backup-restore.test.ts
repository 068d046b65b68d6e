/**
 * operations.md's backup and restore, run as written: back up config.toml, keys.json and audit/ of a hub
 * that has served calls, check the copy with `audit verify --dir`, restore into a new home, start a hub
 * there, and the restored chain goes on intact (`audit verify --home`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, runCli, startHub, tempHome } from '../helpers/harness.js';

test('backup of config, keys and audit log; the copy verifies; restored into a new home, the chain goes on intact', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = 4\n', { mode: 0o600 });
  assert.equal((await runCli(['keys', 'create', '--identity', 'ci', '--home', home])).code, 0);
  const hub = await startHub(t, home);
  const client = await connectClient(t, { home, kind: 'v2-legacy' });
  for (let i = 0; i < 3; i += 1) assert.ok(!(await client.callTool('execute_query', { query: `SELECT ${i}` })).isError);
  await client.close();
  assert.equal(await hub.stop(), 0);

  // What to keep, as the doc lists it.
  const backup = join(tempHome(t), 'backup');
  mkdirSync(backup, { mode: 0o700 });
  for (const name of ['config.toml', 'keys.json', 'audit']) cpSync(join(home, name), join(backup, name), { recursive: true });
  const copy = await runCli(['audit', 'verify', '--dir', join(backup, 'audit')]);
  assert.equal(copy.code, 0, copy.stdout + copy.stderr);
  assert.match(copy.stdout, /chain intact \(seq 1\.\.\d+\)/);

  // Restore into a new home (0700), start a hub there, use it: one chain from the first record on.
  const restored = join(tempHome(t), 'restored');
  mkdirSync(restored, { mode: 0o700 });
  cpSync(backup, restored, { recursive: true });
  assert.deepEqual(readdirSync(restored).sort(), ['audit', 'config.toml', 'keys.json']);
  const before = await runCli(['audit', 'verify', '--home', restored]);
  assert.equal(before.code, 0, before.stdout);
  const again = await startHub(t, restored);
  const next = await connectClient(t, { home: restored, kind: 'v2-legacy' });
  assert.ok(!(await next.callTool('execute_query', { query: 'SELECT 42' })).isError);
  await next.close();
  assert.equal(await again.stop(), 0);
  const after = await runCli(['audit', 'verify', '--home', restored, '--json']);
  assert.equal(after.code, 0, after.stdout);
  const result = JSON.parse(after.stdout) as { ok: boolean; firstSeq: number; lastSeq: number; problems: unknown[] };
  assert.equal(result.ok, true);
  assert.equal(result.firstSeq, 1, 'the restored history is part of the chain');
  assert.ok(result.lastSeq > Number(/seq 1\.\.(\d+)/.exec(copy.stdout)![1]), 'and the new hub appended to it');
  const keys = await runCli(['keys', 'list', '--home', restored, '--json']);
  assert.match(keys.stdout, /"ci"/, 'the restored keys.json serves the same keys');
});
