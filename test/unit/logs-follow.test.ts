/**
 * `snowmux logs -f` across rotations: the hub renames hub.log to hub.log.1 and starts a new one, and the
 * lines written to the old file since the follower last looked must still be printed, before the new
 * file's. Reopening by name lost them (6 of 10 lines printed in an outside test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogFollower } from '../../src/cli/commands/logs-command.js';

test('a follower prints the rest of a rotated file, then the new one, and starts over on a truncated one', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-follow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hub.log');
  writeFileSync(file, 'old-0\n');
  const shown: string[] = [];
  const follower = new LogFollower(file, 6, (line) => shown.push(line));
  t.after(() => follower.close());
  appendFileSync(file, 'line-1\nline-2\n');
  follower.poll();
  // Written, then rotated before the next poll: a busy hub does both within one poll interval.
  appendFileSync(file, 'line-3\nline-4\nline-5 half');
  renameSync(file, `${file}.1`);
  writeFileSync(file, 'line-6\n');
  follower.poll();
  appendFileSync(file, 'line-7\n');
  follower.poll();
  assert.deepEqual(shown, ['line-1', 'line-2', 'line-3', 'line-4', 'line-5 half', 'line-6', 'line-7']);
  truncateSync(file, 0);
  appendFileSync(file, 'line-8\n');
  follower.poll();
  assert.deepEqual(shown.slice(7), ['line-8']);
});

test('a follower started before the log exists prints it from its start', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-follow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hub.log');
  const shown: string[] = [];
  const follower = new LogFollower(file, 0, (line) => shown.push(line));
  t.after(() => follower.close());
  follower.poll();
  writeFileSync(file, 'first\n');
  follower.poll();
  assert.deepEqual(shown, ['first']);
});
