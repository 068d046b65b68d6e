/** Profile flags on the command line: a boolean one can be given either way (`--pool-validate`, `--no-pool-validate`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { isSnowmuxError } from '../../src/errors.js';
import { PROFILE_FLAGS_HELP, PROFILE_FLAG_OPTIONS, profileFlagsFrom } from '../../src/cli/profile-flags.js';

const flags = (args: string[]) => profileFlagsFrom(parseArgs({ args, options: PROFILE_FLAG_OPTIONS, strict: true }).values);

test('--no-pool-validate turns validation off (over a profile that turns it on); given with --pool-validate it is refused', () => {
  assert.deepEqual(flags(['--pool-validate']), { poolValidateOnBorrow: true });
  assert.deepEqual(flags(['--no-pool-validate']), { poolValidateOnBorrow: false });
  assert.deepEqual(flags(['--pool-max', '3']), { poolMax: 3 });
  assert.throws(() => flags(['--pool-validate', '--no-pool-validate']), (e) => isSnowmuxError(e, 'USAGE') && /--pool-validate and --no-pool-validate contradict each other/.test(e.message));
  assert.match(PROFILE_FLAGS_HELP, / --pool-validate --no-pool-validate /);
});
