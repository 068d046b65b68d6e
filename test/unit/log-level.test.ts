/**
 * $SNOWMUX_LOG_LEVEL is read when a logger is made. An unknown level stopped the hub with pino's own
 * "default level:verbose must be included in custom levels", naming neither the variable nor the levels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('SNOWMUX_LOG_MAX_BYTES is checked when the hub log is opened: not a size is refused naming the variable, unset is 10 MiB', (t) => {
  // Read with Number() alone, "10M" was the default without a word and "-1" rotated hub.log at every line.
  const saved = process.env.SNOWMUX_LOG_MAX_BYTES;
  const home = mkdtempSync(join(tmpdir(), 'snowmux-log-max-'));
  t.after(() => {
    if (saved === undefined) delete process.env.SNOWMUX_LOG_MAX_BYTES;
    else process.env.SNOWMUX_LOG_MAX_BYTES = saved;
    rmSync(home, { recursive: true, force: true });
  });
  for (const value of ['10M', 'abc', '-1', '0.5', '0', '100']) {
    process.env.SNOWMUX_LOG_MAX_BYTES = value;
    assert.throws(
      () => createLogger({ home, level: 'info' }),
      (err: unknown) => isSnowmuxError(err, 'USAGE') && err.message.startsWith(`SNOWMUX_LOG_MAX_BYTES=${JSON.stringify(value)} is not a size in bytes`),
      value,
    );
  }
  for (const value of ['', ' ', '4000']) {
    process.env.SNOWMUX_LOG_MAX_BYTES = value;
    const logger = createLogger({ home, level: 'info' });
    logger.flush();
  }
});
