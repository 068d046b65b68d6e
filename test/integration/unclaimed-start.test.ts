/**
 * A hub a shim started, whose shim died before linking (its editor killed while the previous hub stopped),
 * ends by itself instead of serving nobody until `snowmux stop`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startHub, tempHome } from '../helpers/harness.js';

test('a hub whose starting shim is gone before any session opened stops by itself, exit 0, saying why in its log', async (t) => {
  const home = tempHome(t);
  const shim = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(shim, 'exit');
  const hub = await startHub(t, home, [], { SNOWMUX_STARTED_BY: `shim:${shim.pid}` });
  const [code] = (await once(hub.proc, 'exit')) as [number | null];
  assert.equal(code, 0, hub.stderr());
  assert.match(hub.stderr(), new RegExp(`stopping: the shim that started it \\(pid ${shim.pid}\\) exited before linking`));
  assert.match(readFileSync(join(home, 'hub.log'), 'utf8'), /stopping a hub nobody uses/);
  const status = await runCli(['status', '--home', home]);
  assert.notEqual(status.code, 0, 'no hub is left serving this home');
});
