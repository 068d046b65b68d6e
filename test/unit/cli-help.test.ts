/**
 * `snowmux help <command>` is that command's --help; a command `help` does not know is a wrong command line
 * (exit 2, named with the one it most likely meant), not a request for the whole usage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliPath } from '../helpers/paths.js';

const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' } });

test('`snowmux help <typo>` exits 2 naming the command it most likely meant; `help <command>` and `help` alone still help', () => {
  const typo = run('help', 'stauts');
  assert.equal(typo.status, 2, typo.stderr);
  assert.equal(typo.stdout, '', 'not the whole usage, as if nothing were wrong');
  assert.match(typo.stderr, /^snowmux help: unknown command "stauts"\. Did you mean `snowmux help status`\? Run `snowmux --help` for the list of commands\.\n$/);
  const unknown = run('help', '--frobnicate');
  assert.equal(unknown.status, 2);
  assert.doesNotMatch(unknown.stderr, /Did you mean/);

  const known = run('help', 'status');
  assert.equal(known.status, 0, known.stderr);
  assert.match(known.stdout, /^Usage: snowmux status /);
  const all = run('help');
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /^snowmux \S+ — one Snowflake MCP hub/);
});
