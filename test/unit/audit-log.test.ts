import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFile, mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, asAuditError } from '../../src/hub/audit/audit-log.js';
import type { AuditLogOptions } from '../../src/hub/audit/audit-log.js';
import { GENESIS_HASH, computeRecordHash, hubLifecycleEntry } from '../../src/hub/audit/audit-record.js';
import type { AuditRecord } from '../../src/hub/audit/audit-record.js';
import { readHead } from '../../src/hub/audit/audit-files.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { isSnowmuxError } from '../../src/errors.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

type TestContext = { after: (fn: () => Promise<void> | void) => void };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-'));
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

function headSeq(read: Awaited<ReturnType<typeof readHead>>): number | undefined {
  return read.state === 'ok' ? read.head.seq : undefined;
}

type FileHandleProto = { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> };

/** FileHandle's prototype, whose write() a test mocks to stand in for a full or failing disk. */
async function fileHandleProto(dir: string): Promise<FileHandleProto> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as FileHandleProto;
  await probe.close();
  return proto;
}

/**
 * Every write to a file fails with ENOSPC from now on, as on a full disk. (A symlink to /dev/full stood in
 * for one; the log now refuses to open anything but a regular file.)
 */
async function fillDisk(t: { mock: { method: (o: object, name: string, fn: () => unknown) => unknown } }, dir: string): Promise<void> {
  const proto = await fileHandleProto(dir);
  t.mock.method(proto, 'write', async () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  });
}

async function auditFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
}

async function records(dir: string, file: string): Promise<AuditRecord[]> {
  const text = await readFile(join(dir, file), 'utf8');
  // Only newline-terminated lines: a torn tail is not a record.
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as AuditRecord);
}

/** Every record of the chain, in file order (side files not included). */
async function allRecords(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const file of (await auditFiles(dir)).filter((f) => f.startsWith('audit-'))) out.push(...(await records(dir, file)));
  return out;
}

async function assertIntact(dir: string, expectedRecords: number): Promise<void> {
  const result = await verifyAudit(dir);
  assert.deepEqual(result.problems, []);
  assert.equal(result.ok, true);
  assert.equal(result.records, expectedRecords);
}

test('append → close → verify round trip: one line per record, sequential seq, linked hashes, injected clock', async (t) => {
  const dir = await tempDir(t);
  let now = Date.parse('2026-03-01T12:00:00.000Z');
  const log = await openLog(t, dir, { clock: () => (now += 1000) });
  assert.equal(log.openReport.created, true);
  assert.equal((await log.append(hubLifecycleEntry('hub_start', { version: '0.1.0' }))).ok, true);
  await appendMany(log, 1, 9);
  await log.close();

  const recs = await records(dir, 'audit-000001.jsonl');
  assert.equal(recs.length, 10);
  recs.forEach((r, i) => {
    assert.equal(r.seq, i + 1);
    assert.equal(r.prev, i === 0 ? GENESIS_HASH : recs[i - 1]?.hash);
    assert.equal(computeRecordHash(r as unknown as Record<string, unknown>), r.hash);
  });
  assert.equal(recs[0]?.kind, 'hub_start');
  assert.equal(recs[0]?.ts, '2026-03-01T12:00:01.000Z');
  assert.equal(recs[1]?.sql, sampleEntry(1).sql);
  assert.deepEqual(recs[1]?.client, { name: 'test-editor', version: '1.0.0' });
  assert.equal(recs[1]?.queryId, '01b2-1');
  await assertIntact(dir, 10);
  const head = await readHead(dir);
  assert.equal(head.state, 'ok');
  if (head.state === 'ok') assert.deepEqual({ seq: head.head.seq, hash: head.head.hash }, { seq: 10, hash: recs[9]?.hash });
});

test('100 parallel appends serialise: seq follows call order, lines never interleave, chain verifies (fsync always)', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'always' });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(sampleEntry(i, { sql: `SELECT ${i} ${'x'.repeat(i * 50)}` }))));
  assert.deepEqual(
    results.map((r) => (r.ok ? r.seq : -1)),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  // 'always': each append resolved only after an fsync that covered it.
  assert.equal(log.stats().durableSeq, 100);
  assert.ok(log.stats().fsyncs >= 1 && log.stats().fsyncs <= 100);
  await log.close();
  const recs = await records(dir, 'audit-000001.jsonl');
  assert.deepEqual(
    recs.map((r) => r.rows),
    Array.from({ length: 100 }, (_, i) => i),
  );
  await assertIntact(dir, 100);
});

test('appends queued while a write runs go out together in one write(), so the writer keeps up with a busy hub; the chain verifies', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'interval' });
  const proto = await fileHandleProto(dir);
  const writes = t.mock.method(proto, 'write');
  // One write per record gave the drain loop one record per event-loop turn: under load the records of
  // answered calls piled up in memory, and a SIGKILL lost thousands of them.
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(sampleEntry(i))));
  assert.deepEqual(results.map((r) => (r.ok ? r.seq : -1)), Array.from({ length: 300 }, (_, i) => i + 1));
  assert.ok(writes.mock.callCount() <= 3, `${writes.mock.callCount()} writes for 300 records`);
  await log.close();
  assert.deepEqual((await records(dir, 'audit-000001.jsonl')).map((r) => r.rows), Array.from({ length: 300 }, (_, i) => i));
  await assertIntact(dir, 300);
});

test('while more than 64 records wait, the log asks callers to hold their answers; under fsync "always" it always does', async (t) => {
  const interval = await openLog(t, await tempDir(t), { fsync: 'interval' });
  assert.equal(interval.holdsAnswers, false);
  const first = Array.from({ length: 64 }, (_, i) => interval.append(sampleEntry(i)));
  assert.equal(interval.holdsAnswers, false, 'the first append is being written; 63 wait');
  const more = Array.from({ length: 10 }, (_, i) => interval.append(sampleEntry(64 + i)));
  assert.equal(interval.holdsAnswers, true);
  await Promise.all([...first, ...more]);
  assert.equal(interval.holdsAnswers, false);
  const always = await openLog(t, await tempDir(t), { fsync: 'always' });
  assert.equal(always.holdsAnswers, true);
});

test('a write cut short in the middle of a batch: the whole lines join the chain, the cut record is told as unwritten, the rest follow after recovery', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 1);
  const proto = await fileHandleProto(dir);
  const realWrite = proto.write;
  let cut = true;
  t.mock.method(proto, 'write', async function (this: unknown, buf: Buffer, offset: number, length: number) {
    if (!cut || length < 1000) return realWrite.call(this, buf, offset, length);
    cut = false;
    // Two whole lines and part of the third reach the file.
    let at = 0;
    for (let n = 0; n < 2; n++) at = buf.indexOf(10, at) + 1;
    return realWrite.call(this, buf, offset, at + 10);
  });
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => log.append(sampleEntry(2 + i))));
  assert.deepEqual(results.map((r) => r.ok), [true, true, true, false, true, true]);
  await log.close();
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.ok(result.problems.some((p) => p.kind === 'torn'), JSON.stringify(result.problems));
  const unwritten = result.problems.filter((p) => p.kind === 'unwritten');
  assert.equal(unwritten.length, 1, JSON.stringify(result.problems));
  assert.match(unwritten[0]!.message, /could not write 1 audit record/);
});

test('audit-head held back by its once-a-second bound is rewritten when the bound allows, without another append', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'always', headIntervalMs: 50 });
  // The head timer is unref'd (it must not keep a finished hub alive); keep this test's loop alive meanwhile.
  const keepAlive = setInterval(() => undefined, 60_000);
  t.after(() => clearInterval(keepAlive));
  await appendMany(log, 1, 1);
  assert.equal(headSeq(await readHead(dir)), 1);
  // On a loaded machine the bound may already allow a head after seq 2: wait for the one that names seq 3.
  const reached = new Promise<number>((resolve) => {
    const onHead = (event: { seq: number }) => {
      if (event.seq < 3) return;
      log.off('head', onHead);
      resolve(event.seq);
    };
    log.on('head', onHead);
  });
  await appendMany(log, 2, 2);
  // An idle hub: before, the head stayed at seq 1 until the next append, and a cut tail verified as intact.
  assert.equal(await reached, 3);
  assert.equal(headSeq(await readHead(dir)), 3);
});

test('an audit directory removed under the hub is noticed: the error says so, and the next records recreate it and are told there', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'always', headIntervalMs: 0 });
  await appendMany(log, 1, 2);
  await rm(dir, { recursive: true, force: true });
  const noticed = once(log, 'error');
  // Written into the removed file: before, counted durable and the loss went unseen.
  await log.append(sampleEntry(3));
  const [error] = (await noticed) as [Error];
  assert.match(error.message, /no longer in/);
  const next = await log.append(sampleEntry(4));
  assert.equal(next.ok, true, next.ok ? '' : next.error.message);
  await log.close();
  assert.ok((await auditFiles(dir)).length >= 1, 'the directory and a file were made again');
  const result = await verifyAudit(dir);
  assert.ok(result.records >= 1);
});

test('a log taken over by another hub writes nothing more to the chain, from the very next write (no once-a-second check): its records go to its side file', async (t) => {
  const dir = await tempDir(t);
  let owner = true;
  const log = await openLog(t, dir, { fsync: 'interval', stillWriter: () => owner });
  await appendMany(log, 1, 2);
  const before = await readFile(join(dir, 'audit-000001.jsonl'), 'utf8');
  // Meanwhile `hub --replace` claimed the log (this process was frozen past its wait). Resumed, this process
  // must not append, not even within a second of its last write: a chain from its stale head forks the new
  // writer's for good.
  owner = false;
  const result = await log.append(sampleEntry(3));
  assert.equal(result.ok, true, result.ok ? '' : result.error.message);
  await log.close();
  assert.equal(await readFile(join(dir, 'audit-000001.jsonl'), 'utf8'), before);
  const held = (await readdir(dir)).filter((f) => f.startsWith('held-'));
  assert.equal(held.length, 1, 'the record waits in a side file for the next hub that opens the log');
  const lines = (await readFile(join(dir, held[0]!), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { sql?: string; detail?: { heldFrom?: string } });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.sql, sampleEntry(3).sql);
  assert.ok(lines[0]!.detail?.heldFrom);
});

test('a held log writes its side file (durably, with back-pressure past 64) and claim() chains it in, in order, after what the previous writer wrote', async (t) => {
  const dir = await tempDir(t);
  const previous = await openLog(t, dir, { fsync: 'always' });
  await appendMany(previous, 1, 3);
  const held = await AuditLog.hold({ dir, fsync: 'always', maxFileBytes: 1 << 20 });
  t.after(() => held.close());
  assert.equal(held.holdsAnswers, true, "under 'always' an answer waits for its held record's fsync");
  await appendMany(held, 4, 5);
  await appendMany(previous, 100, 2);
  await previous.close();
  const side = (await readdir(dir)).filter((f) => f.startsWith('held-'));
  assert.equal(side.length, 1);
  assert.equal((await readFile(join(dir, side[0]!), 'utf8')).split('\n').filter(Boolean).length, 5);
  // Appends made while the hand-over runs queue behind the held ones.
  const claiming = held.claim();
  const during = held.append(sampleEntry(9));
  await claiming;
  assert.equal((await during).ok, true);
  await held.close();
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('held-')), [], 'the side file is gone once chained in');
  const records = await allRecords(dir);
  assert.deepEqual(records.map((r) => r.sql), [1, 2, 3, 100, 101, 4, 5, 6, 7, 8, 9].map((i) => sampleEntry(i).sql));
  assert.ok(records.slice(5, 10).every((r) => typeof r.detail?.heldFrom === 'string'));
  await assertIntact(dir, 11);
});

test('the next open chains in the side file of a hub that ended while it held records, and declares a line a crash cut short', async (t) => {
  const dir = await tempDir(t);
  const first = await openLog(t, dir);
  await appendMany(first, 1, 2);
  await first.close();
  // A hub (pid 2^22+1: no such process) killed while holding: two whole entries and a torn third.
  const entries = [sampleEntry(3), sampleEntry(4)].map((e) => JSON.stringify({ ...e, detail: { heldFrom: '2026-12-01T00:00:00.000Z' } }));
  const name = `held-${String(Date.now()).padStart(13, '0')}-4194305-x.jsonl`;
  await writeFile(join(dir, name), `${entries.join('\n')}\n{"kind":"tool_ca`, { mode: 0o600 });
  const next = await openLog(t, dir);
  assert.match(next.openReport.warnings.join('\n'), /chained in 2 audit record\(s\) that hub pid 4194305 held/);
  await appendMany(next, 5, 1);
  await next.close();
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('held-')), []);
  const records = await allRecords(dir);
  assert.deepEqual(records.map((r) => r.kind), ['tool_call', 'tool_call', 'tool_call', 'tool_call', 'records_unwritten', 'tool_call']);
  assert.deepEqual(records.filter((r) => r.kind === 'tool_call').map((r) => r.sql), [1, 2, 3, 4, 5].map((i) => sampleEntry(i).sql));
  assert.equal(records[4]!.detail?.records, 1);
  // verify shows the gap, and nothing else.
  const verified = await verifyAudit(dir);
  assert.deepEqual(verified.problems.map((p) => [p.kind, p.seq]), [['unwritten', 5]]);
  assert.equal(verified.records, 6);
});

test('reopening continues the chain in the same file', async (t) => {
  const dir = await tempDir(t);
  const first = await openLog(t, dir);
  await appendMany(first, 1, 5);
  const headBefore = first.head();
  await first.close();
  const second = await openLog(t, dir);
  assert.equal(second.openReport.lastSeq, 5);
  assert.deepEqual(second.openReport.torn, []);
  assert.equal(second.openReport.startedFile, undefined);
  assert.deepEqual(second.head(), headBefore);
  await appendMany(second, 6, 5);
  await second.close();
  assert.deepEqual(await auditFiles(dir), ['audit-000001.jsonl']);
  await assertIntact(dir, 10);
});

test('rotation: each new file begins with a rotate record chained to the last record of the previous file', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { maxFileBytes: 1500 });
  const rotations: string[] = [];
  log.on('rotate', ({ from, to }) => rotations.push(`${from}>${to}`));
  await appendMany(log, 1, 20);
  await log.close();
  const files = await auditFiles(dir);
  assert.ok(files.length >= 4, `expected several files, got ${files.join(',')}`);
  assert.equal(rotations.length, files.length - 1);
  for (let f = 1; f < files.length; f++) {
    const before = await records(dir, files[f - 1] as string);
    const [rotate] = await records(dir, files[f] as string);
    assert.equal(rotate?.kind, 'rotate');
    assert.equal(rotate?.prev, before[before.length - 1]?.hash);
    assert.equal(rotate?.seq, (before[before.length - 1]?.seq ?? 0) + 1);
    assert.deepEqual(rotate?.detail, { reason: 'size', previousFile: files[f - 1], file: files[f] });
  }
  await assertIntact(dir, 20 + files.length - 1);
});

test('maxFiles prunes old files, records the pruning in the chain, and still verifies; deleting one more is detected', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { maxFileBytes: 1200, maxFiles: 3 });
  await appendMany(log, 1, 30);
  await log.close();
  const files = await auditFiles(dir);
  assert.equal(files.length, 3);
  assert.notEqual(files[0], 'audit-000001.jsonl');
  const result = await verifyAudit(dir);
  assert.deepEqual(result.problems, []);
  assert.ok((result.firstSeq ?? 0) > 1);

  await rm(join(dir, files[0] as string));
  const tampered = await verifyAudit(dir);
  assert.equal(tampered.ok, false);
  assert.ok(tampered.problems.some((p) => p.kind === 'removed' && p.message.includes(files[1] as string)), JSON.stringify(tampered.problems));
});

test('a torn last line is reported, left in place, acknowledged in the chain on reopen, and appending continues', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 5);
  await log.close();
  const torn = '{"seq":6,"ts":"2026-01-01T00:00:00.000Z","kind":"tool_c';
  await appendFile(join(dir, 'audit-000001.jsonl'), torn);
  const tornFileBefore = await readFile(join(dir, 'audit-000001.jsonl'));

  const before = await verifyAudit(dir);
  assert.equal(before.ok, true);
  assert.equal(before.records, 5);
  assert.deepEqual(
    before.problems.map((p) => [p.kind, p.file, p.line]),
    [['torn', 'audit-000001.jsonl', 6]],
  );

  const reopened = await openLog(t, dir);
  assert.equal(reopened.openReport.lastSeq, 5);
  assert.equal(reopened.openReport.torn.length, 1);
  assert.equal(reopened.openReport.torn[0]?.lineNo, 6);
  assert.equal(reopened.openReport.torn[0]?.bytes, Buffer.byteLength(torn));
  assert.deepEqual(reopened.openReport.startedFile, { file: 'audit-000002.jsonl', reason: 'torn_tail' });
  assert.match(reopened.openReport.warnings.join('\n'), /torn last line in audit-000001\.jsonl line 6/);
  await appendMany(reopened, 6, 3);
  await reopened.close();

  assert.deepEqual(await readFile(join(dir, 'audit-000001.jsonl')), tornFileBefore, 'the torn file is never modified');
  const [rotate, next] = await records(dir, 'audit-000002.jsonl');
  assert.equal(rotate?.kind, 'rotate');
  assert.equal(rotate?.seq, 6);
  assert.equal(rotate?.prev, (await records(dir, 'audit-000001.jsonl'))[4]?.hash);
  assert.equal(next?.seq, 7);
  const after = await verifyAudit(dir);
  assert.equal(after.ok, true);
  assert.equal(after.records, 5 + 1 + 3);
  assert.equal(after.lastSeq, 9);
  assert.deepEqual(
    after.problems.map((p) => [p.kind, p.file, p.line]),
    [['torn', 'audit-000001.jsonl', 6]],
  );
  assert.match(after.problems[0]?.message ?? '', /acknowledged by audit-000002\.jsonl line 1 \(seq 6\)/);

  // Changing the acknowledged residue afterwards is tampering.
  await appendFile(join(dir, 'audit-000001.jsonl'), 'x');
  const changed = await verifyAudit(dir);
  assert.equal(changed.ok, false);
  assert.deepEqual(changed.problems.map((p) => p.kind).sort(), ['bad_json', 'edited']);
});

test('a crash while starting a new file (only a torn rotate line in it) resumes from the previous file', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { maxFileBytes: 1500 });
  await appendMany(log, 1, 6);
  await log.close();
  const files = await auditFiles(dir);
  const newest = files[files.length - 1] as string;
  const lastComplete = (await records(dir, files[files.length - 2] as string)).pop();
  await truncate(join(dir, newest), 40); // the rotate record was cut mid-write
  await rm(join(dir, 'audit-head')); // as if the crash came before the anchor was rewritten

  const reopened = await openLog(t, dir, { maxFileBytes: 1500 });
  assert.equal(reopened.openReport.lastSeq, lastComplete?.seq);
  assert.equal(reopened.openReport.torn[0]?.file, newest);
  await appendMany(reopened, 7, 2);
  await reopened.close();
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.deepEqual(
    result.problems.map((p) => [p.kind, p.file, p.line]),
    [['torn', newest, 1]],
  );
});

test('an empty newest file (crash right after creating it) gets its rotate record on reopen', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 3);
  await log.close();
  await writeFile(join(dir, 'audit-000002.jsonl'), '');
  const reopened = await openLog(t, dir);
  assert.deepEqual(reopened.openReport.startedFile, { file: 'audit-000002.jsonl', reason: 'resume' });
  await appendMany(reopened, 4, 1);
  await reopened.close();
  await assertIntact(dir, 5);
});

test('a cut-off tail is detected through audit-head, and stays detected after the hub reopens the log', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 10);
  await log.close();
  const lines = (await readFile(join(dir, 'audit-000001.jsonl'), 'utf8')).split('\n');
  await writeFile(join(dir, 'audit-000001.jsonl'), `${lines.slice(0, 7).join('\n')}\n`);

  const cut = await verifyAudit(dir);
  assert.equal(cut.ok, false);
  assert.ok(cut.problems.some((p) => p.kind === 'removed' && /seq 10/.test(p.message) && /8\.\.10/.test(p.message)), JSON.stringify(cut.problems));

  const reopened = await openLog(t, dir);
  assert.deepEqual(reopened.openReport.startedFile, { file: 'audit-000002.jsonl', reason: 'head_mismatch' });
  assert.match(reopened.openReport.warnings.join('\n'), /ends at seq 7 but the last known head is seq 10/);
  await appendMany(reopened, 8, 5);
  await reopened.close();
  const later = await verifyAudit(dir);
  assert.equal(later.ok, false, 'rewriting audit-head must not launder the truncation');
  assert.ok(later.problems.some((p) => p.kind === 'removed' && p.file === 'audit-000002.jsonl' && p.line === 1), JSON.stringify(later.problems));
});

test("fsync 'interval' syncs on its timer and on close; 'never' does not fsync", async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'interval', fsyncIntervalMs: 5 });
  // The fsync timer is unref'd (it must not keep a finished hub alive); keep this test's loop alive meanwhile.
  const keepAlive = setInterval(() => undefined, 60_000);
  t.after(() => clearInterval(keepAlive));
  const synced = once(log, 'synced');
  const r = await log.append(sampleEntry(1));
  assert.equal(r.ok, true);
  const [event] = (await synced) as [{ seq: number }];
  assert.equal(event.seq, 1);
  assert.equal(log.stats().durableSeq, 1);
  await log.append(sampleEntry(2));
  await log.close();
  assert.equal(log.stats().durableSeq, 2);

  const dir2 = await tempDir(t);
  const never = await openLog(t, dir2, { fsync: 'never' });
  await appendMany(never, 1, 3);
  await never.close();
  assert.equal(never.stats().fsyncs, 0);
  await assertIntact(dir2, 3);
});

test('append never rejects: refused kinds, closed log, and I/O failures resolve { ok: false } and are counted', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { maxFileBytes: 100 });
  const bad = await log.append({ ...sampleEntry(1), kind: 'rotate' as never });
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error.code, 'AUDIT_BAD_ENTRY');

  await appendMany(log, 1, 1); // fills the 100-byte file: the next append must rotate
  await rm(dir, { recursive: true, force: true });
  // No 'error' listener yet: a failure must still not throw anywhere.
  const failed = await log.append(sampleEntry(2));
  assert.equal(failed.ok, false);
  assert.ok(!failed.ok && isSnowmuxError(failed.error, 'AUDIT_ROTATE_FAILED'));
  assert.doesNotMatch(!failed.ok ? failed.error.message : '', /SELECT/);
  assert.equal(log.stats().failedAppends, 2);
  // Failing now, and since when: what health warns of (a refused kind alone is no write failure).
  const failing = log.stats().failing;
  assert.equal(failing?.code, 'AUDIT_ROTATE_FAILED');
  assert.match(failing?.since ?? '', /^\d{4}-\d\d-\d\dT/);

  const errors: string[] = [];
  log.on('error', (err) => errors.push(err.code));
  const recoveredReports: number[] = [];
  log.on('recovered', (report) => recoveredReports.push(report.lastSeq));
  // The next append recovers: the directory is recreated and the loss is recorded in the new chain.
  const resumed = await log.append(sampleEntry(3));
  assert.equal(resumed.ok, true, resumed.ok ? '' : resumed.error.message);
  assert.equal(log.stats().failing, null, 'written again: no longer failing (the count stays)');
  assert.deepEqual(recoveredReports, [0]);
  assert.deepEqual(errors, []);
  await log.close();
  const closed = await log.append(sampleEntry(4));
  assert.equal(!closed.ok && closed.error.code, 'AUDIT_CLOSED');
  assert.deepEqual(errors, ['AUDIT_CLOSED']);

  const result = await verifyAudit(dir);
  assert.equal(result.ok, false);
  assert.ok(result.problems.some((p) => p.kind === 'removed' && /anchor named seq 1/.test(p.message)), JSON.stringify(result.problems));
});

test('a rotation failure surfaces through the error event', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { maxFileBytes: 100 });
  await appendMany(log, 1, 1);
  await rm(dir, { recursive: true, force: true });
  const errors: unknown[] = [];
  log.on('error', (err) => errors.push(err));
  const failed = await log.append(sampleEntry(2));
  assert.equal(failed.ok, false);
  assert.equal(errors.length, 1);
  assert.ok(isSnowmuxError(errors[0], 'AUDIT_ROTATE_FAILED'));
  assert.equal(log.stats().ioErrors, 1);
});

test('a failed write (disk full) resolves { ok: false, AUDIT_WRITE_FAILED } and is retried with recovery', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await fillDisk(t, dir);
  const errors: string[] = [];
  log.on('error', (err) => errors.push(err.code));
  const first = await log.append(sampleEntry(1));
  const second = await log.append(sampleEntry(2));
  assert.equal(!first.ok && first.error.code, 'AUDIT_WRITE_FAILED');
  assert.match(!first.ok ? first.error.message : '', /seq 1 .*disk space/);
  assert.equal(!second.ok && second.error.code, 'AUDIT_WRITE_FAILED');
  assert.deepEqual(errors, ['AUDIT_WRITE_FAILED', 'AUDIT_WRITE_FAILED']);
  assert.equal(log.stats().recoveries, 1);
  assert.equal(log.head().seq, 0, 'a failed write does not advance the chain');
});

test('a disk that stays full: one partial line, then every write fails, and no file is made per failed append; when space returns the chain goes on and verifies', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 2);
  // The disk fills: the next write gets part of its line out, every later one nothing (as on a full tmpfs).
  const proto = await fileHandleProto(dir);
  const realWrite = proto.write;
  let room: number | undefined = 40;
  t.mock.method(proto, 'write', async function (this: unknown, buf: Buffer, offset: number, length: number) {
    if (room === undefined) return realWrite.call(this, buf, offset, length);
    const n = Math.min(room, length);
    room -= n;
    return n > 0 ? realWrite.call(this, buf, offset, n) : { bytesWritten: 0, buffer: buf };
  });
  for (let i = 3; i < 13; i++) assert.equal((await log.append(sampleEntry(i))).ok, false);
  const files = (await readdir(dir)).filter((f) => f.startsWith('audit-0')).sort();
  // Before, each failed recovery left one more empty audit-0000NN.jsonl: thousands of files on a busy hub.
  assert.ok(files.length <= 2, files.join(' '));
  room = undefined;
  const resumed = await log.append(sampleEntry(13));
  assert.equal(resumed.ok, true, resumed.ok ? '' : resumed.error.message);
  await log.close();
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('audit-0')).sort(), ['audit-000001.jsonl', 'audit-000002.jsonl']);
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.ok(result.problems.some((p) => p.kind === 'torn'));
  // The ten records that never made it are told in the chain, before the first that did: a chain that
  // verifies is not taken for a complete one.
  const unwritten = result.problems.filter((p) => p.kind === 'unwritten');
  assert.equal(unwritten.length, 1, JSON.stringify(result.problems));
  assert.match(unwritten[0]!.message, /the hub could not write 10 audit record\(s\) between \S+ and \S+ \(AUDIT_WRITE_FAILED[^)]*\) — those calls are not in the log/);
  const lines = (await readFile(join(dir, 'audit-000002.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; detail?: { records?: number; kinds?: Record<string, number> } });
  assert.deepEqual(lines.map((r) => r.kind).slice(-2), ['records_unwritten', 'tool_call']);
  assert.equal(lines.at(-2)!.detail!.records, 10);
  assert.deepEqual(lines.at(-2)!.detail!.kinds, { tool_call: 10 });
});

test('a throwing error listener becomes a process warning, never a stuck or crashing writer', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await fillDisk(t, dir);
  log.on('error', () => {
    throw new Error('listener bug');
  });
  const warned = once(process, 'warning');
  const result = await log.append(sampleEntry(1));
  assert.equal(!result.ok && result.error.code, 'AUDIT_WRITE_FAILED');
  const [warning] = (await warned) as [Error & { code?: string }];
  assert.equal(warning.code, 'SNOWMUX_AUDIT_LISTENER');
  assert.match(warning.message, /listener bug/);
});

test('open refuses a log whose last complete line is not a record, with a next step', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir);
  await appendMany(log, 1, 2);
  await log.close();
  await appendFile(join(dir, 'audit-000001.jsonl'), 'garbage\n');
  await assert.rejects(AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 }), (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'AUDIT_TAIL_CORRUPT'));
    assert.match((err as Error).message, /audit verify/);
    return true;
  });
});

test('an audit write that failed for want of file descriptors says so, not "check free disk space"', () => {
  const emfile = Object.assign(new Error("EMFILE: too many open files, open '/x/audit-head.json.tmp'"), { code: 'EMFILE' });
  const message = asAuditError(emfile, 'AUDIT_HEAD_WRITE_FAILED', 'Could not rewrite the audit-head anchor').message;
  assert.match(message, /^Could not rewrite the audit-head anchor: EMFILE: too many open files.*\. The hub has too many open files \(its own limit\), most likely from many open connections: raise the limit/);
  assert.doesNotMatch(message, /disk space/);
  const enospc = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  assert.match(asAuditError(enospc, 'AUDIT_WRITE_FAILED', 'Could not write').message, /Check free disk space/);
});
