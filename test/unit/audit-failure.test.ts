/**
 * The audit log under a failing filesystem: a count of records that could not be written survives a stop
 * (audit-unwritten) and is noted in the chain by the next hub; verify does not pass such a log as clean; the
 * log retries by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import type { AuditLogOptions } from '../../src/hub/audit/audit-log.js';
import type { AuditRecord } from '../../src/hub/audit/audit-record.js';
import { UNWRITTEN_FILE } from '../../src/hub/audit/audit-files.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { formatResult } from '../../src/hub/audit/verify-command.js';
import { sampleEntry } from '../fixtures/audit-sample.js';
import { HubMetrics } from '../../src/hub/observe/metrics.js';
import { IDLE_METRICS_SOURCES } from '../helpers/metrics-sources.js';
import { repoRoot } from '../helpers/paths.js';

type TestContext = { after: (fn: () => Promise<void> | void) => void };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-fail-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openLog(t: TestContext, dir: string, options: Partial<AuditLogOptions> = {}): Promise<AuditLog> {
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20, ...options });
  t.after(() => log.close());
  return log;
}

async function appendMany(log: AuditLog, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const result = await log.append(sampleEntry(i));
    assert.equal(result.ok, true, result.ok ? '' : result.error.message);
  }
}

type FileHandleProto = { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> };

/**
 * A full disk as tmpfs or ext4 behave: a write that needs a new block fails with ENOSPC; an overwrite in
 * place (a write at a position inside the file, as audit-unwritten is updated) still succeeds. Returns a
 * function that frees the space again.
 */
async function fillDisk(t: { mock: { method: (o: object, name: string, fn: (...args: unknown[]) => unknown) => { mock: { restore(): void } } } }, dir: string, options: { shortFirst?: boolean } = {}): Promise<() => void> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as FileHandleProto;
  await probe.close();
  await rm(join(dir, 'probe'));
  const realWrite = proto.write;
  let short = options.shortFirst === true;
  const mocked = t.mock.method(proto, 'write', async function (this: unknown, ...args: unknown[]) {
    if (typeof args[3] === 'number') return realWrite.apply(this, args);
    if (short && Buffer.isBuffer(args[0])) {
      // The last free blocks take part of the write: the kernel returns a short count, as on a filling disk.
      short = false;
      return realWrite.call(this, args[0], 0, Math.max(1, Math.floor((args[0] as Buffer).length / 2)));
    }
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  });
  return () => mocked.mock.restore();
}

async function allRecords(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const file of (await readdir(dir)).filter((f) => /^audit-\d+\.jsonl$/.test(f)).sort()) {
    const text = await readFile(join(dir, file), 'utf8');
    out.push(...text.split('\n').slice(0, -1).map((line) => JSON.parse(line) as AuditRecord));
  }
  return out;
}

test('records that could not be written survive a stop on a full disk: verify fails until the next open notes them in the chain, once', async (t) => {
  const dir = await tempDir(t);
  const log = await AuditLog.open({ dir, fsync: 'always', maxFileBytes: 1 << 20 });
  await appendMany(log, 1, 2);
  const free = await fillDisk(t, dir, { shortFirst: true });
  for (let i = 3; i <= 5; i++) assert.equal((await log.append(sampleEntry(i))).ok, false);
  await log.close(); // the hub stops while the disk is full: its hub_stop would be lost too
  free();

  const before = await verifyAudit(dir);
  assert.equal(before.ok, false, 'a log known to miss records is not "intact"');
  const lost = before.problems.find((p) => p.kind === 'lost');
  assert.match(lost?.message ?? '', /could not write 3 audit record\(s\) after seq 2 .*ENOSPC|AUDIT_WRITE_FAILED/);
  assert.match(formatResult(before), /records the hub could not write are missing/);
  // The short write's torn tail is said to be the disk's doing, not a crash's.
  const tornBefore = before.problems.filter((p) => p.kind === 'torn');
  assert.equal(tornBefore.length, 1);
  assert.equal(tornBefore[0]!.cause, 'write_failed');
  assert.doesNotMatch(tornBefore[0]!.message, /typically a crash/);

  const next = await openLog(t, dir);
  assert.match(next.openReport.warnings.join('\n'), /3 audit record\(s\) could not be written .* before the log was last closed/);
  await appendMany(next, 6, 1);
  await next.close();
  const records = await allRecords(dir);
  const notes = records.filter((r) => r.kind === 'records_unwritten');
  assert.equal(notes.length, 1);
  assert.equal(notes[0]!.detail?.records, 3);
  assert.equal(notes[0]!.detail?.carriedOver, 3);
  const after = await verifyAudit(dir);
  assert.equal(after.ok, true, JSON.stringify(after.problems));
  assert.deepEqual(after.problems.map((p) => [p.kind, p.cause]), [['torn', 'write_failed'], ['unwritten', undefined]]);
  assert.match(after.problems[1]!.message, /3 of them counted by a hub that stopped/);
  assert.match(formatResult(after), /chain intact .*1 torn line \(writes cut short by the disk, not part of the chain\)/);
  assert.doesNotMatch(formatResult(after), /bytes, crash residue/);

  // Noted once: a further open adds no second note.
  const again = await openLog(t, dir);
  await appendMany(again, 7, 1);
  await again.close();
  assert.equal((await allRecords(dir)).filter((r) => r.kind === 'records_unwritten').length, 1);
});

test('while records fail the log retries by itself: once space is back it writes the records_unwritten note and is no longer failing, with no call made', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { probeIntervalMs: 5 });
  await appendMany(log, 1, 1);
  const free = await fillDisk(t, dir);
  assert.equal((await log.append(sampleEntry(2))).ok, false);
  assert.equal(log.failingNow?.code, 'AUDIT_WRITE_FAILED');
  const keepAlive = setInterval(() => undefined, 60_000); // the probe timer is unref'd
  t.after(() => clearInterval(keepAlive));
  const written = once(log, 'written');
  free();
  await written;
  await log.flush(); // the probe's own end, after its note
  assert.equal(log.failingNow, null);
  assert.equal(log.stats().appended, 1, 'the probe is no record of its own');
  await log.close();
  assert.deepEqual((await allRecords(dir)).map((r) => r.kind), ['tool_call', 'records_unwritten']);
});

test('audit-unwritten is made when the log opens, at a fixed size, so a full disk can still update it in place', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await log.close();
  const text = await readFile(join(dir, UNWRITTEN_FILE), 'utf8');
  assert.equal(text.length, 1024);
  assert.deepEqual(JSON.parse(text), { records: 0 });
});

test('a record that failed is lost, never written later: the chain holds the note that counts it; the metric, operations.md and the alert say so', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 1);
  const free = await fillDisk(t, dir);
  assert.equal((await log.append(sampleEntry(2, { sql: 'SELECT the_failed_record' }))).ok, false);
  free();
  await appendMany(log, 3, 1);
  await log.close();
  const records = await allRecords(dir);
  assert.deepEqual(records.map((r) => [r.kind, r.rows]), [['tool_call', 1], ['records_unwritten', 0], ['tool_call', 3]]);
  assert.equal(records[1]!.detail?.records, 1);
  assert.ok(!records.some((r) => r.sql === 'SELECT the_failed_record'), 'the failed record is not written later');

  // The metric's HELP, operations.md and the alert told operators the failed records are kept and
  // "written later, marked unwritten": they are not; only their count is, in the note.
  const metrics = new HubMetrics(IDLE_METRICS_SOURCES);
  const help = (metrics.registry.getSingleMetric('snowmux_audit_append_failures_total') as unknown as { help: string }).help;
  const operations = await readFile(join(repoRoot, 'docs', 'operations.md'), 'utf8');
  const described = operations.slice(operations.indexOf('`snowmux_audit_append_failures_total` ('), operations.indexOf('status shows `FAILED APPENDS`'));
  const alerts = await readFile(join(repoRoot, 'contrib', 'prometheus', 'alerts.yml'), 'utf8');
  const alert = alerts.slice(alerts.indexOf('alert: SnowmuxAuditAppendsFailing'), alerts.indexOf('alert: SnowmuxRefusalsHigh'));
  for (const [where, wrapped] of [['HELP', help], ['operations.md', described], ['alerts.yml', alert]] as const) {
    const text = wrapped.replace(/\s+/g, ' ');
    assert.ok(text.length > 0, where);
    assert.doesNotMatch(text, /written later|writes them|keeps the records/, where);
    assert.match(text, /lost, not kept: the first record written again is a `?records_unwritten`? note that counts them/, where);
  }
});
