/** Every command answers --help and -h with its usage and exit 0; --version prints the version. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/harness.js';
import { VERSION } from '../../src/version.js';

const COMMANDS = [[], ['hub'], ['shim'], ['stdio'], ['status'], ['stop'], ['audit'], ['audit', 'verify'], ['doctor'], ['setup'], ['keys'], ['reload'], ['logs'], ['service']];

test('every command answers --help and -h with exit 0', async () => {
  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([...command, flag]);
      assert.equal(r.code, 0, `snowmux ${command.join(' ')} ${flag}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, /usage/i, `snowmux ${command.join(' ')} ${flag} prints its usage`);
    }
  }
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), VERSION);
});
