/**
 * doctor's own view of what a running hub reports (its health) and of free space where the hub writes: a
 * hub whose audit log cannot write (a full disk) is not "All checks passed".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderChecks } from '../../src/cli/commands/doctor-command.js';
import { LOW_FREE_BYTES, MIN_FREE_BYTES, checkFreeSpace, runningHubHealth } from '../../src/cli/commands/doctor-disk.js';

test("the running hub's health reasons and warnings are failed checks: doctor does not pass a hub that is not writing audit records", () => {
  const checks = runningHubHealth({ ok: false, reasons: ['audit records cannot be written since 10:00:05 (AUDIT_WRITE_FAILED: ENOSPC)'], warnings: ['the audit-head anchor could not be rewritten since 10:00:05'] }, '/h');
  assert.deepEqual(checks.map((c) => [c.check, c.status]), [['hub health', 'fail'], ['hub health', 'fail']]);
  assert.match(checks[0]!.detail, /^the running hub reports: audit records cannot be written .*ENOSPC/);
  assert.match(checks[0]!.fix ?? '', /snowmux status/);
  assert.doesNotMatch(renderChecks(checks), /All checks passed/);
  assert.deepEqual(runningHubHealth({ ok: true, reasons: [], warnings: [] }, '/h'), []);
  assert.deepEqual(runningHubHealth(undefined, '/h'), [], 'an older hub without health says nothing');
});

test("free space on the home's and the audit directory's filesystem: failed under the threshold, warned when low, once per filesystem", (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-doctor-disk-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const fs = (bytes: number, ffree = 1000) => () => ({ bavail: bytes / 4096, bsize: 4096, ffree, files: 5000 });
  const full = checkFreeSpace(home, join(home, 'audit'), fs(0));
  assert.equal(full.length, 1, "the audit dir (not made yet) is on the home's filesystem: one check");
  assert.equal(full[0]!.status, 'fail');
  assert.match(full[0]!.detail, /has 0\.0 MiB free, under the 16 MiB/);
  assert.match(full[0]!.detail, /and the audit log/);
  assert.match(full[0]!.fix ?? '', /Free space/);
  assert.doesNotMatch(renderChecks(full), /All checks passed/);
  assert.equal(checkFreeSpace(home, undefined, fs(MIN_FREE_BYTES + 4096))[0]!.status, 'warn');
  assert.equal(checkFreeSpace(home, undefined, fs(LOW_FREE_BYTES * 2))[0]!.status, 'ok');
  const noInodes = checkFreeSpace(home, undefined, fs(LOW_FREE_BYTES * 2, 0))[0]!;
  assert.equal(noInodes.status, 'fail');
  assert.match(noInodes.detail, /no free inodes/);
  // The real filesystem answers too (statfsSync): one check, whatever its state.
  assert.equal(checkFreeSpace(home, join(home, 'audit')).length, 1);
});
