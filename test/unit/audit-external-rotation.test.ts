/**
 * An audit file rotated externally under a running writer (logrotate's copytruncate or create): the writer
 * notices before its next write, goes on in a new file chained to its last record, and says so; verify names
 * the copies, and passes once they are back under their file's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import type { AuditRecord } from '../../src/hub/audit/audit-record.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { formatResult } from '../../src/hub/audit/verify-command.js';
import { assessHealth } from '../../src/hub/core/hub-health.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

type TestContext = { after: (fn: () => Promise<void> | void) => void };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-extrot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function lines(path: string): Promise<AuditRecord[]> {
  return (await readFile(path, 'utf8')).split('\n').slice(0, -1).map((l) => JSON.parse(l) as AuditRecord);
}

for (const mode of ['copytruncate', 'create'] as const) {
  test(`logrotate ${mode} under a running writer: the next records go to a new file chained to the last one; status warns; verify names the copy and passes once it is put back`, async (t) => {
    const dir = await tempDir(t);
    const log = await AuditLog.open({ dir, fsync: 'interval', maxFileBytes: 1 << 20 });
    t.after(() => log.close());
    const errors: Error[] = [];
    log.on('error', (err) => errors.push(err));
    for (let i = 1; i <= 3; i++) assert.equal((await log.append(sampleEntry(i))).ok, true);
    const file = join(dir, 'audit-000001.jsonl');
    if (mode === 'copytruncate') {
      await copyFile(file, `${file}.1`);
      await truncate(file, 0);
    } else {
      await rename(file, `${file}.1`);
      await writeFile(file, '', { mode: 0o600 });
    }
    for (let i = 4; i <= 5; i++) assert.equal((await log.append(sampleEntry(i))).ok, true);
    await log.flush();

    const next = await lines(join(dir, 'audit-000002.jsonl'));
    assert.equal(next[0]!.kind, 'rotate');
    assert.equal(next[0]!.seq, 4);
    assert.deepEqual((next[0]!.detail as { reason: string }).reason, 'external');
    assert.equal((next[0]!.detail as { external: { how: string } }).external.how, mode === 'copytruncate' ? 'truncated' : 'moved');
    assert.deepEqual(next.slice(1).map((r) => r.seq), [5, 6], 'seq goes on: the chain is not restarted');
    assert.equal((await readFile(file, 'utf8')).length, 0, 'nothing written at offset 0 of the truncated or new file');
    assert.equal((await lines(`${file}.1`)).length, 3);

    const change = log.stats().externalChange;
    assert.equal(change?.file, 'audit-000001.jsonl');
    assert.equal(change?.continuedIn, 'audit-000002.jsonl');
    assert.deepEqual(change?.copies, ['audit-000001.jsonl.1']);
    assert.match(errors.map((e) => e.message).join('\n'), /audit-000001\.jsonl .* was (truncated|moved or replaced) .*audit-000001\.jsonl\.1/);
    const health = assessHealth({ draining: false, warehouses: [], audit: { dir, ...log.stats() } } as unknown as Parameters<typeof assessHealth>[0]);
    assert.match(health.warnings.join('\n'), /the audit file audit-000001\.jsonl was .* under the hub .*audit-000001\.jsonl\.1 looks like the rotated copy.*do not rotate the audit directory externally/);

    const rotated = await verifyAudit(dir);
    assert.equal(rotated.ok, false, 'the records of audit-000001.jsonl are missing from it');
    const stray = rotated.problems.find((p) => p.kind === 'stray');
    assert.match(stray?.message ?? '', /audit-000001\.jsonl\.1, holding records seq 1\.\.3, is not part of the chain: .*logrotate/);
    assert.match(formatResult(rotated), /stray {7}audit-000001\.jsonl\.1/);

    // Put back: the chain verifies whole, and the copy is no longer there to name.
    await rename(`${file}.1`, file);
    const back = await verifyAudit(dir);
    assert.equal(back.ok, true, JSON.stringify(back.problems));
    assert.deepEqual(back.problems, []);
  });
}

test('a file as the writer left it is not taken for rotated: a size rotation and a reopen start no external file', async (t) => {
  const dir = await tempDir(t);
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 2048 });
  for (let i = 1; i <= 20; i++) assert.equal((await log.append(sampleEntry(i))).ok, true);
  await log.close();
  const again = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 2048 });
  for (let i = 21; i <= 25; i++) assert.equal((await again.append(sampleEntry(i))).ok, true);
  assert.equal(again.stats().externalChange, undefined);
  await again.close();
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.deepEqual(result.problems, []);
});
