/**
 * The audit directory's path is trust-walked like the config file's: a directory above it that every user
 * may write without the sticky bit is refused, so no one can move the trail aside and put their own
 * directory where later records and `audit verify` go. At the audit log's open, through a symlink too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
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
