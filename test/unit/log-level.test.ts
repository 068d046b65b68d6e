/**
 * $SNOWMUX_LOG_LEVEL is read when a logger is made. An unknown level stopped the hub with pino's own
 * "default level:verbose must be included in custom levels", naming neither the variable nor the levels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { isSnowmuxError } from '../../src/errors.js';
import { createLogger } from '../../src/hub/observe/logger.js';

test('an unknown SNOWMUX_LOG_LEVEL is refused naming the variable and the levels; case and blanks are forgiven; empty is info', (t) => {
  const saved = process.env.SNOWMUX_LOG_LEVEL;
  t.after(() => {
    if (saved === undefined) delete process.env.SNOWMUX_LOG_LEVEL;
    else process.env.SNOWMUX_LOG_LEVEL = saved;
  });
  const make = () => createLogger({ destination: new PassThrough() });
  process.env.SNOWMUX_LOG_LEVEL = 'verbose';
  assert.throws(make, (err: unknown) => isSnowmuxError(err, 'USAGE') && /^SNOWMUX_LOG_LEVEL="verbose" is not a log level: use one of trace, debug, info, warn, error, fatal, silent/.test(err.message));
  process.env.SNOWMUX_LOG_LEVEL = ' Debug ';
  assert.equal(make().level, 'debug');
  process.env.SNOWMUX_LOG_LEVEL = '';
  assert.equal(make().level, 'info');
});
