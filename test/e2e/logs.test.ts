/**
 * The hub's log as a user reads it: `snowmux logs` renders the last records readably and filters by level,
 * `-f` follows new records, and hub.log rotates by size with a bounded number of files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, connectClient, defer, runCli, startHub, tempHome } from '../helpers/harness.js';

test('snowmux logs renders and filters; -f follows; hub.log rotates with at most 5 old files', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home, [], { SNOWMUX_LOG_MAX_BYTES: '4000', SNOWMUX_LOG_LEVEL: 'debug' });

  const follower = spawn(process.execPath, [cliPath, 'logs', '-f', '--home', home, '--lines', '1'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  defer(t, async () => {
    if (follower.exitCode === null) {
      follower.kill('SIGKILL');
      await once(follower, 'exit');
    }
  });
  let followed = '';
  follower.stdout!.on('data', (c: Buffer) => (followed += c.toString()));
  const until = async (re: RegExp) => {
    while (!re.test(followed)) await new Promise((r) => follower.stdout!.once('data', r));
  };
  // The follower has read the file (it printed the last line) before anything new is logged.
  await until(/\S/);

  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'logged-editor' });
  await until(/session opened/);
  // Enough calls (each logs at debug level) to go through several rotations.
  for (let i = 0; i < 60; i++) await c.callTool('execute_query', { query: `SELECT ${i}` });

  const files = readdirSync(home).filter((f) => f.startsWith('hub.log'));
  assert.ok(files.includes('hub.log.1'), `rotated: ${files.join(', ')}`);
  assert.ok(files.length <= 6, `at most hub.log and 5 rotated files: ${files.join(', ')}`);
  assert.ok(statSync(join(home, 'hub.log.1')).size < 4000 * 2, 'rotated by size');

  const info = await runCli(['logs', '--home', home, '--lines', '5']);
  assert.equal(info.code, 0);
  const lines = info.stdout.trim().split('\n');
  assert.ok(lines.length <= 5);
  for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR|FATAL) +\[\d+\] /);
  const debug = await runCli(['logs', '--home', home, '--level', 'debug', '--lines', '20']);
  assert.match(debug.stdout, /DEBUG/);
  const bad = await runCli(['logs', '--home', home, '--level', 'loud']);
  assert.equal(bad.code, 2, 'a usage error');
  assert.match(bad.stderr, /--level must be one of/);
  assert.equal(await hub.stop(), 0);
});

test('snowmux logs -f where no hub has run yet says it waits for the log, then follows it once a hub starts', { timeout: 30_000 }, async (t) => {
  const home = tempHome(t);
  const follower = spawn(process.execPath, [cliPath, 'logs', '-f', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  defer(t, async () => {
    if (follower.exitCode === null) {
      follower.kill('SIGKILL');
      await once(follower, 'exit');
    }
  });
  let err = '';
  let out = '';
  follower.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  follower.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  while (!/waiting/.test(err)) await new Promise((r) => follower.stderr!.once('data', r));
  assert.match(err, /no log at .*hub\.log yet \(no hub has run in this home; or use --home\); waiting for one to start/);
  await startHub(t, home);
  while (!/hub started/.test(out)) await new Promise((r) => follower.stdout!.once('data', r));
});
