import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, constants, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { HEAD_FILE, readFileEnd, readHead, removeDeadWritersHeadTemps, stillNamed, verifyAuditDir, writeHead } from '../../src/hub/audit/audit-files.js';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { formatResult } from '../../src/hub/audit/verify-command.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-audit-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const head = { seq: 1, hash: 'ab'.repeat(32), file: 'audit-000001.jsonl', ts: '2026-01-01T00:00:00.000Z' };

test('writeHead never writes through a name planted as its temp file: the planted symlink is replaced, its target untouched', async (t) => {
  const base = tempDir(t);
  const dir = join(base, 'audit');
  mkdirSync(dir, { mode: 0o700 });
  const victim = join(base, 'victim');
  writeFileSync(victim, 'ROOT-FILE\n', { mode: 0o600 });
  // The name writeHead uses (one per writer process): planted under any other name, nothing would be tested.
  symlinkSync(victim, join(dir, `${HEAD_FILE}.${process.pid}.tmp`));
  await writeHead(dir, head, true);
  assert.equal(readFileSync(victim, 'utf8'), 'ROOT-FILE\n', 'the symlink target is not written');
  assert.equal(JSON.parse(readFileSync(join(dir, HEAD_FILE), 'utf8')).seq, 1);
  assert.ok(lstatSync(join(dir, HEAD_FILE)).isFile(), 'the anchor is a file of its own');
  // A leftover temp file of a crashed hub is no obstacle either.
  writeFileSync(join(dir, `${HEAD_FILE}.${process.pid}.tmp`), 'half');
  await writeHead(dir, { ...head, seq: 2 }, false);
  assert.equal(JSON.parse(readFileSync(join(dir, HEAD_FILE), 'utf8')).seq, 2);
});

test('an audit directory others may write is refused; a group-writable one is warned of; a symlink counts by its target', async (t) => {
  const base = tempDir(t);
  const dir = join(base, 'audit');
  mkdirSync(dir, { mode: 0o700 });
  assert.deepEqual(await verifyAuditDir(dir), []);
  chmodSync(dir, 0o777);
  await assert.rejects(verifyAuditDir(dir), (e) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && /other users may write .*\(mode 777\)/.test(e.message) && e.message.includes(`chmod 700 ${dir}`));
  chmodSync(dir, 0o770);
  assert.match((await verifyAuditDir(dir)).join('\n'), /its group \(gid \d+\) may write it \(mode 770\)/);
  chmodSync(dir, 0o700);
  const link = join(base, 'link');
  symlinkSync(dir, link);
  assert.deepEqual(await verifyAuditDir(link), [], 'a symlink to a directory that passes is fine');
  chmodSync(dir, 0o757);
  await assert.rejects(verifyAuditDir(link), (e) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && e.message.includes(dir));
  const file = join(base, 'file');
  writeFileSync(file, '');
  await assert.rejects(verifyAuditDir(file), (e) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && /not a directory/.test(e.message));
});

test('an audit directory another user owns is refused, also behind a symlink', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, async (t) => {
  const base = tempDir(t);
  const dir = join(base, 'shared-audit');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, 65534, 65534);
  const theirs = (e: unknown) => isSnowmuxError(e, 'AUDIT_DIR_UNSAFE') && /belongs to another user \(uid 65534\)/.test(e.message);
  await assert.rejects(verifyAuditDir(dir), theirs);
  const link = join(base, 'link');
  symlinkSync(dir, link);
  await assert.rejects(verifyAuditDir(link), theirs);
});

test('stillNamed tells when the open audit file was removed with its directory, or replaced', async (t) => {
  const base = tempDir(t);
  const dir = join(base, 'audit');
  mkdirSync(dir, { mode: 0o700 });
  const name = 'audit-000001.jsonl';
  const fh = await open(join(dir, name), 'a', 0o600);
  t.after(() => fh.close());
  assert.equal(await stillNamed(fh, dir, name), true);
  rmSync(dir, { recursive: true });
  await fh.appendFile('{"seq":1}\n'); // still succeeds: nothing else would tell
  assert.equal(await stillNamed(fh, dir, name), false, 'directory removed');
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, name), '');
  assert.equal(await stillNamed(fh, dir, name), false, 'another file under the same name');
});

/**
 * A FIFO under an audit file's name once hung the hub's start and `audit verify` for ever (opening it waits
 * for a writer or reader). The timeout fails the test, not the run, when that comes back; the after-hook
 * opens each FIFO read-write, which releases an open still waiting on it, so the test process can end.
 */
test('a FIFO, socket-like or directory entry named like an audit file is refused at once, naming it: by the log\'s open, by verify (which goes on), by readHead', { skip: process.platform === 'win32', timeout: 20_000 }, async (t) => {
  const fifos: string[] = [];
  // Registered first, so it runs before the directory is removed.
  t.after(async () => {
    for (const path of fifos) await open(path, constants.O_RDWR | constants.O_NONBLOCK).then((fh) => fh.close()).catch(() => undefined);
  });
  const dir = join(tempDir(t), 'audit');
  const mkfifo = (path: string) => {
    execFileSync('mkfifo', ['-m', '600', path]);
    fifos.push(path);
  };
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 });
  assert.equal((await log.append(sampleEntry(1))).ok, true);
  await log.close();

  // The newest "file" is a FIFO: the hub's open (reading its end, then appending) refuses it.
  const fifo = join(dir, 'audit-000002.jsonl');
  mkfifo(fifo);
  await assert.rejects(AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 }), (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'AUDIT_OPEN_FAILED'), String(err));
    assert.ok(err.message.includes(fifo), err.message);
    assert.match(err.message, /a FIFO \(named pipe\), not a regular file.*Move it out of the audit directory/);
    return true;
  });

  // verify reports it (and a directory under such a name), checks the rest, and says what to do.
  mkdirSync(join(dir, 'audit-000003.jsonl'));
  const result = await verifyAudit(dir);
  assert.equal(result.ok, false);
  assert.equal(result.records, 1, 'the regular file was read');
  const notFiles = result.problems.filter((p) => p.kind === 'not_a_file');
  assert.deepEqual(notFiles.map((p) => p.file), ['audit-000002.jsonl', 'audit-000003.jsonl']);
  assert.match(notFiles[1]!.message, /is a directory, not a regular file/);
  assert.match(formatResult(result), /\n {2}not_a_file {2}move the named entry out of the audit directory/);

  // audit-head as a FIFO is unreadable, not a hang.
  rmSync(join(dir, HEAD_FILE), { force: true });
  mkfifo(join(dir, HEAD_FILE));
  const headRead = await readHead(dir);
  assert.equal(headRead.state, 'unreadable');
});

test('writeHead on a full disk leaves no temp file behind: the anchor is as it was', async (t) => {
  const dir = tempDir(t);
  await writeHead(dir, head, false);
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { writeFile: () => Promise<void> };
  await probe.close();
  rmSync(join(dir, 'probe'));
  t.mock.method(proto, 'writeFile', async () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  });
  await assert.rejects(writeHead(dir, { ...head, seq: 2 }, false), /ENOSPC/);
  t.mock.restoreAll();
  assert.deepEqual(readdirSync(dir), [HEAD_FILE]);
  assert.equal((JSON.parse(readFileSync(join(dir, HEAD_FILE), 'utf8')) as { seq: number }).seq, 1);
});

test("a hub opening the log removes the audit-head temp files of writers that are gone, never a live writer's or what a symlink points at", async (t) => {
  // A hub killed between writing its temp file and renaming it left one behind, one more for every such kill.
  const base = tempDir(t);
  const dir = join(base, 'audit');
  mkdirSync(dir, { mode: 0o700 });
  const victim = join(base, 'victim');
  writeFileSync(victim, 'KEEP\n', { mode: 0o600 });
  writeFileSync(join(dir, `${HEAD_FILE}.111111.tmp`), 'half');
  symlinkSync(victim, join(dir, `${HEAD_FILE}.222222.tmp`));
  writeFileSync(join(dir, `${HEAD_FILE}.333333.tmp`), 'a live writer');
  writeFileSync(join(dir, `${HEAD_FILE}.x.tmp`), 'not a writer');
  const live = (pid: number) => pid === 333333;
  assert.deepEqual((await removeDeadWritersHeadTemps(dir, live)).sort(), [`${HEAD_FILE}.111111.tmp`, `${HEAD_FILE}.222222.tmp`]);
  assert.equal(readFileSync(victim, 'utf8'), 'KEEP\n');
  assert.deepEqual(readdirSync(dir).sort(), [`${HEAD_FILE}.333333.tmp`, `${HEAD_FILE}.x.tmp`]);

  // Through the log's own opening, with the hub's view of which processes live.
  writeFileSync(join(dir, `${HEAD_FILE}.111111.tmp`), 'half');
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20, processes: { startTicks: () => null, live: ({ pid }) => live(pid) } });
  await log.close();
  assert.ok(!readdirSync(dir).includes(`${HEAD_FILE}.111111.tmp`), readdirSync(dir).join(', '));
  assert.ok(readdirSync(dir).includes(`${HEAD_FILE}.333333.tmp`));
});

test('an audit file that is a symbolic link is refused, never followed: by the log\'s open (the target gets no record) and by verify', { skip: process.platform === 'win32' }, async (t) => {
  const dir = join(tempDir(t), 'audit');
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 });
  assert.equal((await log.append(sampleEntry(1))).ok, true);
  await log.close();
  // Planted by someone who may write in the directory: the next file, pointing at an empty file of the user's.
  const elsewhere = join(tempDir(t), 'notes.txt');
  writeFileSync(elsewhere, '');
  symlinkSync(elsewhere, join(dir, 'audit-000002.jsonl'));
  await assert.rejects(AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 }), (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'AUDIT_OPEN_FAILED'), String(err));
    assert.match(err.message, /audit-000002\.jsonl is a symbolic link, not a regular file.*Move it out of the audit directory/);
    return true;
  });
  assert.equal(readFileSync(elsewhere, 'utf8'), '', 'no record was written through the link');
  const result = await verifyAudit(dir);
  assert.equal(result.ok, false);
  assert.deepEqual(result.problems.filter((p) => p.kind === 'not_a_file').map((p) => p.file), ['audit-000002.jsonl']);
});

test('a long tail without a newline (NULs a power loss left) is read once, not copied over and over: the hub opens the log at once', { timeout: 20_000 }, async (t) => {
  // readFileEnd gathered the chunks it read backwards into one buffer, copied again at every chunk while no
  // newline came: 64 MiB without one (an audit file at its default size) took ~50 s of the hub's start.
  const dir = tempDir(t);
  const first = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 128 * 1024 * 1024 });
  for (let i = 1; i <= 3; i++) assert.equal((await first.append(sampleEntry(i))).ok, true);
  await first.close();
  const file = join(dir, 'audit-000001.jsonl');
  const written = readFileSync(file);
  const nuls = Buffer.alloc(64 * 1024 * 1024);
  const fh = await open(file, 'a');
  await fh.write(nuls);
  await fh.close();
  const end = await readFileEnd(file);
  assert.deepEqual(end.tail, { offset: written.length, bytes: nuls.length, sha256: createHash('sha256').update(nuls).digest('hex') });
  const lines = written.toString('utf8').split('\n');
  assert.equal(end.lastLine?.text, lines[lines.length - 2]);
  assert.equal(end.lastLine?.offset, written.length - Buffer.byteLength(lines[lines.length - 2]!) - 1);
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 128 * 1024 * 1024 });
  assert.equal(log.openReport.torn.length, 1);
  assert.equal(log.openReport.lastSeq, 3);
  await log.close();
});

test('readFileEnd finds the last line and the tail whatever the chunk boundaries', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit-000001.jsonl');
  for (const text of ['', 'no newline', '\n', 'a\n', 'a\nb', `${'x'.repeat(70_000)}\n${'y'.repeat(65_536)}\n${'z'.repeat(3)}`, `${'x'.repeat(65_535)}\n\n`]) {
    writeFileSync(path, text);
    const end = await readFileEnd(path);
    const lastNl = text.lastIndexOf('\n');
    const prevNl = lastNl <= 0 ? -1 : text.lastIndexOf('\n', lastNl - 1);
    assert.equal(end.size, text.length);
    assert.deepEqual(end.lastLine, lastNl === -1 ? undefined : { text: text.slice(prevNl + 1, lastNl), offset: prevNl + 1 }, JSON.stringify(text.slice(0, 20)));
    const tail = text.slice(lastNl + 1);
    assert.deepEqual(end.tail, tail === '' ? undefined : { offset: lastNl + 1, bytes: tail.length, sha256: createHash('sha256').update(tail).digest('hex') });
  }
});
