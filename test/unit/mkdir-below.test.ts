import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirBelow, mkdirParents, mkdirParentsSync } from '../../src/mkdir-below.js';

test('creates the missing levels below an existing root', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'smx-mk-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  await mkdirBelow(root, join(root, 'logs', 'audit'), 0o700);
  assert.equal(statSync(join(root, 'logs', 'audit')).mode & 0o777, 0o700);
  await mkdirBelow(root, join(root, 'logs', 'audit'), 0o700); // already there: fine
});

test('never re-creates a root that was removed (a hub starting after its home is gone fails instead)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'smx-mk-'));
  rmSync(root, { recursive: true });
  await assert.rejects(mkdirBelow(root, join(root, 'audit'), 0o700), { code: 'ENOENT' });
  assert.equal(existsSync(root), false);
});

test('a directory outside the root is created with its parents', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'smx-mk-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  await mkdirBelow(join(base, 'home'), join(base, 'var', 'log', 'audit'), 0o700);
  assert.ok(statSync(join(base, 'var', 'log', 'audit')).isDirectory());
});

test('a path that cannot hold directories (under /proc) fails at once, sync and async — Node\'s recursive mkdir spins there for ever', { timeout: 10_000 }, async () => {
  await assert.rejects(mkdirBelow('/nonexistent-home', '/proc/1/snowmux-test/audit', 0o700), { code: 'ENOENT' });
  await assert.rejects(mkdirParents('/proc/1/snowmux-test/audit', 0o700), { code: 'ENOENT' });
  assert.throws(() => mkdirParentsSync('/proc/1/snowmux-test/audit', 0o700), { code: 'ENOENT' });
});
