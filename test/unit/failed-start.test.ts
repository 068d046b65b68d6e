import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastFailedStart } from '../../src/cli/failed-start.js';

test('the last failed hub start is read from the tail of hub-stderr.log; a later successful start clears it', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-failed-start-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  assert.equal(lastFailedStart(home), undefined, 'no log: nothing to say');
  const log = join(home, 'hub-stderr.log');
  writeFileSync(log, `${'noise\n'.repeat(5000)}snowmux hub 0.1.0 listening on /x/hub.sock (pid 1)\nsnowmux hub: warning: a notice\nsnowmux hub: Config error in c.toml at hub: unknown key "x". [CONFIG_INVALID]\n`);
  assert.equal(lastFailedStart(home)?.reason, 'Config error in c.toml at hub: unknown key "x". [CONFIG_INVALID]');
  writeFileSync(log, 'snowmux hub: Cannot open the audit log [AUDIT_OPEN_FAILED]\nsnowmux hub 0.1.0 listening on /x/hub.sock (pid 2)\nsnowmux hub: warning: a notice\n');
  assert.equal(lastFailedStart(home), undefined, 'a start after the failure reached listening; a notice is no error');
});
