/**
 * The audit directory's path is trust-walked like the config file's: a directory above it that every user
 * may write without the sticky bit is refused, so no one can move the trail aside and put their own
 * directory where later records and `audit verify` go. At the audit log's open, through a symlink too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { auditDirTrust } from '../../src/hub/audit-dir-trust.js';
import { AuditLog } from '../../src/hub/audit/audit-log.js';

test('an audit directory below one every user may write (no sticky bit) is refused when the log opens', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'smx-auditpath-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const open = join(base, 'open');
  mkdirSync(join(open, 'a'), { recursive: true, mode: 0o700 });
  chmodSync(open, 0o777);
  const unsafe = (e: unknown) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && e.message.includes(`its path goes through ${open}, which is writable by others without the sticky bit (mode 777). Run: chmod o-w ${open}`);
  assert.throws(() => auditDirTrust(join(open, 'a')), unsafe);
  await assert.rejects(AuditLog.open({ dir: join(open, 'a'), fsync: 'never', maxFileBytes: 1 << 20, trustPath: auditDirTrust }), unsafe);
  // Reached through a symlink from a safe place: the target's directories count all the same.
  mkdirSync(join(base, 'safe'), { mode: 0o700 });
  symlinkSync(join(open, 'a'), join(base, 'safe', 'link'));
  assert.throws(() => auditDirTrust(join(base, 'safe', 'link')), (e) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && e.message.includes(open));
  // With the sticky bit (as /tmp), others may not rename what they do not own: accepted.
  chmodSync(open, 0o1777);
  assert.deepEqual(auditDirTrust(join(open, 'a')), []);
  chmodSync(open, 0o700);
  const log = await AuditLog.open({ dir: join(open, 'a'), fsync: 'never', maxFileBytes: 1 << 20, trustPath: auditDirTrust });
  await log.close();
});

test('an audit directory that is not there yet is judged by where it would be made, before anything is made there', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'smx-auditplace-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const open = join(base, 'open');
  mkdirSync(open, { mode: 0o700 });
  chmodSync(open, 0o777);
  const theirs = join(base, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, 65534, 65534);
  mkdirSync(join(base, 'safe'), { mode: 0o700 });
  symlinkSync(open, join(base, 'safe', 'link'));
  const opened = (dir: string, trust = true) => AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20, ...(trust ? { trustPath: auditDirTrust } : {}) });
  const refused = (dir: string, place: string) => (e: unknown) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && e.message.includes(`The audit directory ${dir} does not exist yet and would be made in ${place}`);
  // Every user may write where it would go (no sticky bit), directly, levels below, or through a symlink;
  // another user owns it: refused, and nothing is left there.
  for (const [dir, place, trust] of [
    [join(open, 'audit'), open, false],
    [join(open, 'a', 'b', 'audit'), open, true],
    [join(base, 'safe', 'link', 'audit'), join(base, 'safe', 'link'), true],
    [join(theirs, 'audit'), theirs, true],
  ] as const) {
    await assert.rejects(opened(dir, trust), refused(dir, place), dir);
    assert.deepEqual(readdirSync(open), [], `nothing made in ${open} for ${dir}`);
    assert.deepEqual(readdirSync(theirs), [], `nothing made in ${theirs} for ${dir}`);
  }
  // A path through a directory every user may write, above where it would be made: refused by the walk, nothing made.
  mkdirSync(join(open, 'mine'), { mode: 0o700 });
  await assert.rejects(opened(join(open, 'mine', 'audit')), (e) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && e.message.includes('nothing was created') && e.message.includes(`chmod o-w ${open}`));
  assert.deepEqual(readdirSync(join(open, 'mine')), []);
  // With the sticky bit (as /tmp), what is made there is the user's alone: made and used.
  chmodSync(open, 0o1777);
  const log = await opened(join(open, 'audit'));
  await log.close();
  assert.deepEqual(readdirSync(open).sort(), ['audit', 'mine']);
});
