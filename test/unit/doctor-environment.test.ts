/**
 * `snowmux doctor` judges the SNOWMUX_* variables a hub refuses to start with (SNOWMUX_LOG_LEVEL,
 * SNOWMUX_LOG_MAX_BYTES; a shim hands both to the hub it starts): with `SNOWMUX_LOG_LEVEL=verbose` in the
 * shell every `snowmux hub` and every hub an editor's shim started stopped at once, while doctor said
 * "All checks passed".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runChecks } from '../../src/cli/commands/doctor-command.js';
import { tempHome } from '../helpers/harness.js';

test('doctor fails a SNOWMUX_LOG_LEVEL or SNOWMUX_LOG_MAX_BYTES the hub would stop on, naming the variable and the fix', async (t) => {
  const home = join(tempHome(t), 'not-yet');
  const base = { HOME: process.env.HOME };
  const bad = await runChecks({ home, env: { ...base, SNOWMUX_LOG_LEVEL: 'verbose', SNOWMUX_LOG_MAX_BYTES: '10M' }, offline: true });
  const env = bad.filter((c) => c.check === 'environment');
  assert.deepEqual(env.map((c) => c.status), ['fail', 'fail'], JSON.stringify(bad, null, 2));
  assert.match(env[0]!.detail, /SNOWMUX_LOG_LEVEL="verbose" is not a log level/);
  assert.match(env[1]!.detail, /SNOWMUX_LOG_MAX_BYTES="10M" is not a size in bytes/);
  for (const c of env) assert.match(c.fix ?? '', /unset|editors' entries/);
  const hub = bad.find((c) => c.check === 'hub')!;
  assert.match(hub.detail, /no hub can start here until the failed environment check is fixed/, hub.detail);

  // Values the hub takes (an empty one is unset; the level's case does not matter) are no finding at all.
  const fine = await runChecks({ home, env: { ...base, SNOWMUX_LOG_LEVEL: 'DEBUG', SNOWMUX_LOG_MAX_BYTES: '' }, offline: true });
  assert.deepEqual(fine.filter((c) => c.check === 'environment'), []);
  assert.equal(fine.some((c) => c.status === 'fail'), false, JSON.stringify(fine, null, 2));
});
