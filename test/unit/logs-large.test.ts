/**
 * `snowmux logs` on a hub.log grown far past the default rotation ($SNOWMUX_LOG_MAX_BYTES raised): read
 * whole, it took a gigabyte of memory and, past Node's longest string, said "No log at …: no hub has run"
 * about a log that was there. Only the tail is read now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_TAIL_BYTES, logsCommand, readLogTail } from '../../src/cli/commands/logs-command.js';
import { capture, logHome } from '../helpers/logs-io.js';

const record = (msg: string) => `${JSON.stringify({ level: 30, time: '2026-12-07T22:00:00.000Z', pid: 1, msg })}\n`;

test('snowmux logs prints the last lines of a hub.log larger than the longest string Node can hold', async (t) => {
  const home = logHome(t);
  const file = join(home, 'hub.log');
  writeFileSync(file, record('first'));
  // Sparse: 600 MiB on paper, nothing on disk.
  truncateSync(file, 600 * 1024 * 1024);
  appendFileSync(file, `\n${record('last one')}`);
  const c = capture();
  assert.equal(await logsCommand(['--home', home, '--lines', '1'], c.io), 0);
  assert.match(c.out(), /INFO {2}\[1\] last one\n$/);
});

test('the tail starts at a whole line and reports where the file ends', (t) => {
  const home = logHome(t);
  const file = join(home, 'hub.log');
  writeFileSync(file, 'aaaa\nbbbb\ncccc\n');
  assert.deepEqual(readLogTail(file, 7), { text: 'cccc\n', end: 15 });
  assert.deepEqual(readLogTail(file, 100), { text: 'aaaa\nbbbb\ncccc\n', end: 15 });
  assert.deepEqual(readLogTail(file, 3), { text: '', end: 15 }, 'no whole line in the tail: nothing');
  assert.ok(LOG_TAIL_BYTES >= 10 * 1024 * 1024, 'a log of the default rotation size is read whole');
});
