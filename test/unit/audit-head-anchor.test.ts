/**
 * audit-head is what lets verify see a log whose tail was cut off. While it cannot be rewritten (a full disk)
 * that protection lapses for every record after the last rewrite: the log says so in its stats, and health
 * (status, /readyz, /status) warns of it as of failing appends, until a rewrite succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import { HEAD_FILE, readHead } from '../../src/hub/audit/audit-files.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { assessHealth } from '../../src/hub/core/hub-health.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

test('a failed audit-head rewrite is reported in stats (since, why, the seq it still names) and warned of by health; cleared by the next rewrite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-audit-head-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = await AuditLog.open({ dir, fsync: 'always', headIntervalMs: 0, maxFileBytes: 1 << 20 });
  t.after(() => log.close());
  const errors: string[] = [];
  log.on('error', (err) => errors.push(err.code));
  assert.equal((await log.append(sampleEntry(1))).ok, true);
  assert.equal(log.stats().headStale, null);
  const read = await readHead(dir);
  assert.equal(read.state === 'ok' && read.head.seq, 1);

  // A directory in its place makes the atomic rename fail, as a full disk makes the temp file's write fail.
  rmSync(join(dir, HEAD_FILE));
  mkdirSync(join(dir, HEAD_FILE, 'blocker'), { recursive: true });
  assert.equal((await log.append(sampleEntry(2))).ok, true, 'the record itself is written');
  const stale = log.stats().headStale;
  assert.equal(stale?.code, 'AUDIT_HEAD_WRITE_FAILED');
  assert.equal(stale?.headSeq, 1);
  assert.match(stale?.since ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(errors, ['AUDIT_HEAD_WRITE_FAILED']);
  assert.equal((await log.append(sampleEntry(3))).ok, true);
  assert.equal(log.stats().headStale?.since, stale?.since, 'since the first failure');

  const health = assessHealth({ state: 'running', warehouses: [], audit: { dir, ...log.stats() } });
  assert.equal(health.ok, true, 'calls are served and recorded: a warning, not a reason');
  assert.equal(health.warnings.length, 1);
  assert.match(health.warnings[0]!, /^the audit-head anchor could not be rewritten since \d\d:\d\d:\d\d \(AUDIT_HEAD_WRITE_FAILED: .*\): it still names seq 1, so the records after it could be cut off the end of the log without `snowmux audit verify` noticing — free space or fix the audit directory/);

  rmSync(join(dir, HEAD_FILE), { recursive: true });
  assert.equal((await log.append(sampleEntry(4))).ok, true);
  assert.equal(log.stats().headStale, null);
  assert.deepEqual(assessHealth({ state: 'running', warehouses: [], audit: log.stats() }).warnings, []);
});

test('verify of a log the hub goes on writing: records written and anchored while it reads are no "removed" tail', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-audit-live-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = await AuditLog.open({ dir, fsync: 'always', headIntervalMs: 0, maxFileBytes: 1 << 20 });
  t.after(() => log.close());
  for (let seq = 1; seq <= 3; seq++) assert.equal((await log.append(sampleEntry(seq))).ok, true);
  // The running hub writes two more records, and rewrites its anchor, at the moment verify opens audit-head
  // (the docs say the hub may go on writing while verify runs). Every open by the audit code goes through
  // node:fs/promises' open, so the test steps in there.
  const open = fsPromises.open;
  let wrote = false;
  fsPromises.open = (async (...args: Parameters<typeof open>) => {
    if (!wrote && String(args[0]).endsWith(`/${HEAD_FILE}`)) {
      wrote = true;
      for (let seq = 4; seq <= 5; seq++) assert.equal((await log.append(sampleEntry(seq))).ok, true);
    }
    return open(...args);
  }) as typeof open;
  syncBuiltinESMExports();
  let result;
  try {
    result = await verifyAudit(dir);
  } finally {
    fsPromises.open = open;
    syncBuiltinESMExports();
  }
  assert.ok(wrote, 'verify read audit-head');
  assert.deepEqual(result.problems, []);
  assert.equal(result.ok, true);
  // What verify saw is a consistent moment of the log; a verify after it sees the rest.
  assert.equal((await verifyAudit(dir)).lastSeq, 5);
});
