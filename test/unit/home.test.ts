import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHome, ensureHome, resolveHome, socketPathFor } from '../../src/wire/home.js';
import { isSnowmuxError } from '../../src/errors.js';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('home resolution: flag, then SNOWMUX_HOME, then ~/.snowmux', () => {
  assert.equal(resolveHome({ flag: '/x/flag', env: { SNOWMUX_HOME: '/x/env' } }), '/x/flag');
  assert.equal(resolveHome({ env: { SNOWMUX_HOME: '/x/env' } }), '/x/env');
  assert.equal(resolveHome({ env: {} }), join(homedir(), '.snowmux'));
  assert.equal(resolveHome({ flag: 'relative/dir', env: {} }), join(process.cwd(), 'relative/dir'));
});

test('ensureHome creates the directory 0700', (t) => {
  const home = join(tmp(t), 'a', 'b');
  ensureHome(home);
  assert.equal(statSync(home).mode & 0o777, 0o700);
});

test('ensureHome tightens an existing home that others can read', (t) => {
  const home = tmp(t);
  chmodSync(home, 0o755);
  ensureHome(home);
  assert.equal(statSync(home).mode & 0o777, 0o700);
});

test('checkHome refuses an open home, a file, and a missing directory, with what to do', (t) => {
  const base = tmp(t);
  chmodSync(base, 0o755);
  assert.throws(() => checkHome(base), (e) => isSnowmuxError(e, 'HOME_TOO_OPEN') && /chmod 700/.test(e.message));
  const file = join(base, 'file');
  writeFileSync(file, 'x');
  assert.throws(() => checkHome(file), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /not a directory/.test(e.message));
  assert.throws(() => checkHome(join(base, 'missing')), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /--home/.test(e.message));
});

test('socket path lives in the home, or in tmp when the home path is too long for a Unix socket', () => {
  assert.equal(socketPathFor('/home/u/.snowmux'), '/home/u/.snowmux/hub.sock');
  const long = '/tmp/' + 'x'.repeat(120);
  const p = socketPathFor(long);
  assert.ok(p.startsWith(tmpdir()), p);
  assert.ok(Buffer.byteLength(p) < 100);
  assert.equal(socketPathFor(long), p, 'stable for the same home');
  assert.notEqual(socketPathFor(long + 'y'), p, 'distinct per home');
});
