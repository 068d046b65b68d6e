/**
 * `snowmux logs --lines N` prints the last N records. Lines of hub.log that are not log records (a crash's
 * stack trace appended by something else, a line cut by a full disk) are not printed without --json, so they
 * must not count either: counted, `--lines 2` after a stack trace printed nothing at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logsCommand } from '../../src/cli/commands/logs-command.js';
import { capture, logHome } from '../helpers/logs-io.js';

const record = (msg: string, level = 30) => `${JSON.stringify({ level, time: '2026-12-07T22:00:00.000Z', pid: 1, msg })}\n`;
const trace = 'Error: boom\n    at one (file.js:1:1)\n    at two (file.js:2:2)\n    at three (file.js:3:3)\n';

test('--lines N counts only the records it prints, not lines that are no record', async (t) => {
  const home = logHome(t);
  writeFileSync(join(home, 'hub.log'), record('first') + record('second') + record('third') + trace);
  const c = capture();
  assert.equal(await logsCommand(['--home', home, '--lines', '2'], c.io), 0);
  const lines = c.out().split('\n').filter(Boolean);
  assert.equal(lines.length, 2, c.out());
  assert.match(lines[0]!, /second$/);
  assert.match(lines[1]!, /third$/);
});

test('--lines N reaches into the rotated file past lines that are no record', async (t) => {
  const home = logHome(t);
  writeFileSync(join(home, 'hub.log.1'), record('older'));
  writeFileSync(join(home, 'hub.log'), record('newer') + trace);
  const c = capture();
  assert.equal(await logsCommand(['--home', home, '--lines', '2'], c.io), 0);
  const lines = c.out().split('\n').filter(Boolean);
  assert.deepEqual(lines.map((l) => l.replace(/^.* /, '')), ['older', 'newer'], c.out());
});

test('--json prints every line, records or not, and counts each', async (t) => {
  const home = logHome(t);
  writeFileSync(join(home, 'hub.log'), record('first') + trace);
  const c = capture();
  assert.equal(await logsCommand(['--home', home, '--lines', '2', '--json'], c.io), 0);
  assert.deepEqual(c.out().split('\n').filter(Boolean), ['    at two (file.js:2:2)', '    at three (file.js:3:3)']);
});
