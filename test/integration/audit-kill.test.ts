/**
 * A writer killed with SIGKILL mid-load leaves a log whose chain verifies up to the last complete record,
 * with at most one torn last line, and which the next open continues (across a size rotation of its own).
 * Runs from the TypeScript sources (tsx) and from the compiled dist/ alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import type { FsyncPolicy } from '../../src/hub/audit/audit-log.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { listAuditFiles } from '../../src/hub/audit/audit-files.js';
import type { AuditRecord } from '../../src/hub/audit/audit-record.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

const runningTs = import.meta.url.endsWith('.ts');
const writerScript = fileURLToPath(new URL(`../fixtures/audit-writer${runningTs ? '.ts' : '.js'}`, import.meta.url));

async function completeRecords(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const file of await listAuditFiles(dir)) {
    const lines = (await readFile(join(dir, file.name), 'utf8')).split('\n').slice(0, -1);
    out.push(...lines.map((line) => JSON.parse(line) as AuditRecord));
  }
  return out;
}

function spawnWriter(dir: string, policy: FsyncPolicy, readyAfter: number): ChildProcess {
  const loader = runningTs ? ['--import', import.meta.resolve('tsx')] : [];
  return spawn(process.execPath, [...loader, writerScript, dir, policy, String(readyAfter)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the seq the child announced once it has written `readyAfter` records. */
function waitForReady(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ready (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code, signal) => reject(new Error(`audit writer exited early (${code ?? signal}): ${err}`)));
  });
}

for (const policy of ['always', 'interval'] as const) {
  test(`SIGKILL during load (fsync ${policy}): chain intact up to the last complete record, at most a torn last line, reopen continues`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-kill-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const child = spawnWriter(dir, policy, 150);
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const announced = await waitForReady(child);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL');

    const afterKill = await verifyAudit(dir);
    assert.equal(afterKill.ok, true, JSON.stringify(afterKill.problems));
    assert.ok(afterKill.records >= announced, `${afterKill.records} records, ${announced} announced`);
    assert.equal(afterKill.firstSeq, 1);
    assert.equal(afterKill.lastSeq, afterKill.records);
    const files = await listAuditFiles(dir);
    assert.ok(files.length >= 2, 'rotations happened under load');
    const torn = afterKill.problems.filter((p) => p.kind === 'torn');
    assert.ok(torn.length <= 1);
    assert.deepEqual(afterKill.problems, torn);
    for (const p of torn) assert.equal(p.file, files[files.length - 1]?.name, 'only the newest file may end torn');

    const reopened = await AuditLog.open({ dir, fsync: policy, maxFileBytes: 16 * 1024 });
    t.after(() => reopened.close());
    assert.equal(reopened.openReport.lastSeq, afterKill.lastSeq);
    assert.equal(reopened.openReport.torn.length, torn.length);
    const first = await reopened.append(sampleEntry(1));
    assert.ok(first.ok);
    // The chain continues right after the last complete record; only rotate records may come in between
    // (the torn-tail acknowledgement, or a size rotation if the killed writer had just filled its file).
    const lastBefore = afterKill.lastSeq ?? 0;
    assert.ok(first.seq > lastBefore && first.seq <= lastBefore + 2, `first new seq ${first.seq} after ${lastBefore}`);
    const between = (await completeRecords(dir)).filter((r) => r.seq > lastBefore && r.seq < first.seq);
    assert.deepEqual(between.map((r) => r.kind), Array.from({ length: first.seq - lastBefore - 1 }, () => 'rotate'));
    if (torn.length > 0) assert.equal(between[0]?.detail?.reason, 'torn_tail');
    // Keep appending until the reopened writer has rotated by size itself, so every run checks the chain
    // across a rotation written after the restart. (A fixed number of appends made the expected last seq
    // depend on how full the killed writer's file was: a size rotation in between added a rotate record.)
    // A file holds a few dozen sample records; the bound only stops a writer that never rotates.
    const appended = [first.seq];
    const rotationsBefore = reopened.stats().rotations;
    while (reopened.stats().rotations === rotationsBefore) {
      assert.ok(appended.length < 200, 'the reopened writer never rotated by size');
      const next = await reopened.append(sampleEntry(appended.length + 1));
      assert.ok(next.ok);
      appended.push(next.seq);
    }
    await reopened.close();

    const afterReopen = await verifyAudit(dir);
    assert.equal(afterReopen.ok, true, JSON.stringify(afterReopen.problems));
    assert.deepEqual(afterReopen.problems.map((p) => p.kind), torn.map(() => 'torn'));
    assert.equal(afterReopen.firstSeq, 1);
    assert.equal(afterReopen.lastSeq, appended[appended.length - 1]);
    assert.equal(afterReopen.records, afterReopen.lastSeq);
    // After the first new record: exactly our appends, in order, plus the size rotate records the writer added.
    const newer = (await completeRecords(dir)).filter((r) => r.seq > first.seq);
    assert.deepEqual(newer.filter((r) => r.kind !== 'rotate').map((r) => r.seq), appended.slice(1));
    const rotates = newer.filter((r) => r.kind === 'rotate');
    assert.equal(rotates.length, reopened.stats().rotations - rotationsBefore);
    assert.deepEqual(rotates.map((r) => r.detail?.reason), rotates.map(() => 'size'));
  });
}
