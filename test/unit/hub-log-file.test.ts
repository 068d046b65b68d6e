/**
 * hub.log on a disk that refuses writes (a full disk, a file-size limit): the hub loses log lines, never its
 * service. Unheard, the destination's write error became an uncaught exception, and the fatal line logged
 * for it spun for ever in a synchronous flush that retries every failed write: every editor's calls froze.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, flushLogger, LOG_FILE } from '../../src/hub/observe/logger.js';

test('a hub.log whose writes fail (ENOSPC) drops lines, says so once on stderr, and neither throws nor blocks', { skip: !existsSync('/dev/full') && 'no /dev/full here' }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-log-full-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // Every write to /dev/full fails with ENOSPC: a stand-in for a full disk.
  symlinkSync('/dev/full', join(home, LOG_FILE));
  const said: string[] = [];
  let noticed!: () => void;
  const notice = new Promise<void>((r) => (noticed = r));
  t.mock.method(process.stderr, 'write', (text: string) => {
    said.push(String(text));
    if (String(text).includes('cannot write')) noticed();
    return true;
  });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));
  const logger = createLogger({ home, level: 'info' });
  for (let i = 0; i < 2000; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'a line the disk will not take');
  await notice;
  // More lines after the failure: still no throw, and the spell is said once, not per line.
  for (let i = 0; i < 2000; i++) logger.error({ err: new Error('boom') }, 'uncaught exception');
  flushLogger(logger);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(uncaught, []);
  // pino's exit-time flush ran into the same failing write and retried it for ever: the process never ended.
  const exited = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { createLogger } from ${JSON.stringify(new URL('../../src/hub/observe/logger.js', import.meta.url).href)};
    const logger = createLogger({ home: ${JSON.stringify(home)} });
    logger.info('a line the disk will not take');
    setTimeout(() => process.exit(0), 100);
  `], { timeout: 15_000, encoding: 'utf8' });
  assert.equal(exited.status, 0, `the process ended (signal ${exited.signal}): ${exited.stderr}`);
  const notices = said.filter((s) => s.includes(`cannot write ${join(home, LOG_FILE)}`));
  assert.equal(notices.length, 1, said.join(''));
  assert.match(notices[0]!, /ENOSPC.*log lines are dropped until it can/);
});
