import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import { computeRecordHash } from '../../src/hub/audit/audit-record.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import type { VerifyProblem, VerifyResult } from '../../src/hub/audit/verify.js';
import { runAuditVerify } from '../../src/hub/audit/verify-command.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

type TestContext = { after: (fn: () => Promise<void> | void) => void };

/** A closed log of `count` tool calls, rotated into several files (≈4 records per file). */
async function writtenLog(t: TestContext, count = 20, maxFileBytes = 1500): Promise<{ dir: string; files: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes });
  for (let i = 1; i <= count; i++) assert.equal((await log.append(sampleEntry(i))).ok, true);
  await log.close();
  const files = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  return { dir, files };
}

async function readLines(dir: string, file: string): Promise<string[]> {
  return (await readFile(join(dir, file), 'utf8')).split('\n').slice(0, -1);
}

async function writeLines(dir: string, file: string, lines: string[]): Promise<void> {
  await writeFile(join(dir, file), lines.map((l) => `${l}\n`).join(''));
}

async function editRecord(dir: string, file: string, line: number, change: (r: Record<string, unknown>) => void, rehash = false): Promise<number> {
  const lines = await readLines(dir, file);
  const record = JSON.parse(lines[line - 1] as string) as Record<string, unknown>;
  change(record);
  if (rehash) record.hash = computeRecordHash(record);
  lines[line - 1] = JSON.stringify(record);
  await writeLines(dir, file, lines);
  return record.seq as number;
}

function summary(problems: VerifyProblem[]): string[] {
  return problems.map((p) => `${p.kind} ${p.file}:${p.line}${p.seq === undefined ? '' : ` seq ${p.seq}`}`);
}

function assertTampered(result: VerifyResult): void {
  assert.equal(result.ok, false);
  assert.ok(result.problems.length > 0);
}

test('an intact log verifies across files', async (t) => {
  const { dir, files } = await writtenLog(t);
  assert.ok(files.length >= 4);
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true);
  assert.deepEqual(result.problems, []);
  assert.equal(result.files, files.length);
  assert.equal(result.records, 20 + files.length - 1);
  assert.equal(result.firstSeq, 1);
  assert.equal(result.lastSeq, result.records);
  assert.equal(result.head, 'checked');
});

test('an edited field is located by file, line and seq', async (t) => {
  const { dir, files } = await writtenLog(t);
  const seq = await editRecord(dir, files[1] as string, 3, (r) => (r.rows = 999_999));
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`edited ${files[1]}:3 seq ${seq}`]);
  assert.match(result.problems[0]?.message ?? '', new RegExp(`${files[1]} line 3 \\(seq ${seq}\\).*edited`));
});

test('a line that parses to its hashed record but is not as the hub wrote it (a member given twice) is edited', async (t) => {
  const { dir, files } = await writtenLog(t);
  const file = files[1] as string;
  const lines = await readLines(dir, file);
  const record = JSON.parse(lines[2] as string) as Record<string, unknown>;
  assert.equal(record.outcome, 'ok');
  // JSON.parse (and so the hash) keeps the last "outcome"; a reader that keeps the first sees an error.
  lines[2] = (lines[2] as string).replace('{', '{"outcome":"error",');
  await writeLines(dir, file, lines);
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`edited ${file}:3 seq ${String(record.seq)}`]);
  assert.match(result.problems[0]?.message ?? '', /not as the hub wrote it \(a member given twice/);
});

test('an edited record whose hash was recomputed breaks the link to the next record', async (t) => {
  const { dir, files } = await writtenLog(t);
  const seq = await editRecord(dir, files[0] as string, 2, (r) => (r.sql = 'SELECT 1'), true);
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`chain_break ${files[0]}:3 seq ${seq + 1}`]);
  assert.match(result.problems[0]?.message ?? '', new RegExp(`seq ${seq} was rewritten`));
});

test('a deleted line is reported as removed, naming the missing seq and where', async (t) => {
  const { dir, files } = await writtenLog(t);
  const lines = await readLines(dir, files[1] as string);
  const removedSeq = (JSON.parse(lines[2] as string) as { seq: number }).seq;
  lines.splice(2, 1);
  await writeLines(dir, files[1] as string, lines);
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`removed ${files[1]}:3 seq ${removedSeq + 1}`]);
  assert.match(result.problems[0]?.message ?? '', new RegExp(`seq ${removedSeq} is missing`));
});

test('two swapped lines are reported as reordered, and only that', async (t) => {
  const { dir, files } = await writtenLog(t);
  const lines = await readLines(dir, files[0] as string);
  [lines[1], lines[2]] = [lines[2] as string, lines[1] as string];
  await writeLines(dir, files[0] as string, lines);
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(result.problems.map((p) => p.kind), ['reordered']);
  assert.equal(result.problems[0]?.file, files[0]);
  assert.match(result.problems[0]?.message ?? '', /seq 3 is out of order: it belongs after seq 2/);
});

test('a record moved to another file is reported as reordered', async (t) => {
  const { dir, files } = await writtenLog(t);
  const source = await readLines(dir, files[0] as string);
  const [moved] = source.splice(1, 1);
  await writeLines(dir, files[0] as string, source);
  await appendFile(join(dir, files[2] as string), `${moved}\n`);
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`reordered ${files[2]}:${(await readLines(dir, files[2] as string)).length} seq 2`]);
});

test('a deleted middle file is reported by name', async (t) => {
  const { dir, files } = await writtenLog(t);
  await rm(join(dir, files[1] as string));
  const result = await verifyAudit(dir);
  assertTampered(result);
  const kinds = new Set(result.problems.map((p) => p.kind));
  assert.deepEqual([...kinds], ['removed']);
  assert.ok(result.problems.some((p) => p.file === files[1] && p.line === 0 && p.message.includes(`${files[1]} is missing`)), JSON.stringify(result.problems));
  assert.ok(result.problems.some((p) => p.file === files[2] && p.line === 1), 'the seq gap is located at the next file');
});

test('a renamed file is detected', async (t) => {
  const { dir, files } = await writtenLog(t);
  await rename(join(dir, files[1] as string), join(dir, 'audit-000099.jsonl'));
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.ok(result.problems.some((p) => p.kind === 'reordered' && p.file === 'audit-000099.jsonl' && /renamed/.test(p.message)), JSON.stringify(result.problems));
  assert.ok(result.problems.some((p) => p.kind === 'removed' && p.file === files[1]));
});

test('an empty audit file planted far ahead is one problem naming the missing span, not one per number (nor a verify that never ends)', async (t) => {
  // Each number between the last file and the planted one was a problem of its own: audit-999999.jsonl made
  // a million of them (999000 "omitted"), and a name of 20 digits (a number past 2^53) never finished.
  const { dir, files } = await writtenLog(t);
  const last = files[files.length - 1] as string;
  await writeFile(join(dir, 'audit-999999.jsonl'), '');
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.equal(result.omittedProblems, 0);
  const removed = result.problems.filter((p) => p.kind === 'removed');
  assert.equal(removed.length, 1, JSON.stringify(result.problems));
  const lastNumber = Number(/\d+/.exec(last)![0]);
  const next = `audit-${String(lastNumber + 1).padStart(6, '0')}.jsonl`;
  assert.ok(removed[0]!.message.startsWith(`${next} to audit-999998.jsonl are missing (${999998 - lastNumber} files, between ${last} and audit-999999.jsonl)`), removed[0]!.message);
  // The hub opening the log takes the empty file up (as one its crash left); verify still says it in one line.
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1500 });
  assert.equal((await log.append(sampleEntry(21))).ok, true);
  await log.close();
  assert.equal((await verifyAudit(dir)).problems.filter((p) => p.kind === 'removed').length, 1);
  await rm(join(dir, 'audit-999999.jsonl'));
  await writeFile(join(dir, 'audit-99999999999999999999.jsonl'), '');
  const huge = await verifyAudit(dir);
  assertTampered(huge);
  assert.equal(huge.omittedProblems, 0);
  assert.ok(huge.problems.length < 10, JSON.stringify(huge.problems));
});

test('a file whose line endings were converted to CRLF is one problem saying so, not every line an edited record', async (t) => {
  // Each line was reported as "not as the hub wrote it (a member given twice, or its text rewritten)", up to
  // a thousand per file: a copy through Windows or git's autocrlf read as record-by-record tampering.
  const { dir, files } = await writtenLog(t);
  const first = files[0] as string;
  const lines = await readLines(dir, first);
  await writeFile(join(dir, first), lines.map((l) => `${l}\r\n`).join(''));
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
  const [problem] = result.problems;
  assert.equal(problem!.kind, 'edited');
  assert.equal(problem!.file, first);
  assert.equal(problem!.line, 1);
  assert.match(problem!.message, new RegExp(`${lines.length} lines end in CR LF`));
  assert.match(problem!.message, /line endings were converted/);
  assert.match(problem!.message, /hashes match/);
  // A CR LF line whose record was also changed is still an edited record of its own.
  lines[1] = lines[1]!.replace('"outcome":"ok"', '"outcome":"error"');
  await writeFile(join(dir, first), lines.map((l) => `${l}\r\n`).join(''));
  const edited = await verifyAudit(dir);
  assert.ok(edited.problems.some((p) => p.kind === 'edited' && p.line === 2 && /does not match its hash/.test(p.message)), JSON.stringify(edited.problems));
});

test('a deleted first file is detected (nothing says it was pruned)', async (t) => {
  const { dir, files } = await writtenLog(t);
  await rm(join(dir, files[0] as string));
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.ok(result.problems.some((p) => p.kind === 'removed' && p.file === files[0]), JSON.stringify(result.problems));
});

test('a file the running hub prunes (max_files) between the listing and its read is not a lost log', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1500, maxFiles: 3 });
  t.after(() => log.close());
  let seq = 0;
  const listed = async (): Promise<string[]> => (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  while ((await listed()).length < 3) assert.equal((await log.append(sampleEntry(++seq))).ok, true);
  const before = await listed();
  let pruned = false;
  const result = await verifyAudit(dir, {
    // As the hub does under load: it rotates while verify holds its listing, pruning the oldest listed file.
    afterListing: async () => {
      if (pruned) return;
      while ((await listed()).includes(before[0] as string)) assert.equal((await log.append(sampleEntry(++seq))).ok, true);
      pruned = true;
    },
  });
  assert.equal(pruned, true);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.deepEqual(result.problems, []);
  assert.ok(!(await listed()).includes(before[0] as string));
});

test('a file that vanishes at every reading is reported as removed, not retried for ever', async (t) => {
  const { dir, files } = await writtenLog(t);
  let calls = 0;
  const result = await verifyAudit(dir, {
    afterListing: async () => {
      calls += 1;
      // Someone (not the hub's pruning) removes a listed file each time verify has listed them.
      const present = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
      await rm(join(dir, present[1] as string));
    },
  });
  assert.equal(calls, 3);
  assertTampered(result);
  assert.ok(result.problems.some((p) => p.kind === 'removed' && files.includes(p.file) && /while verify was reading/.test(p.message)), JSON.stringify(result.problems));
});

test('edits across rotation: the rotate record and the last record before it', async (t) => {
  const { dir, files } = await writtenLog(t);
  // The rotate record itself, changed and rehashed to claim another predecessor file.
  await editRecord(dir, files[2] as string, 1, (r) => ((r.detail as Record<string, unknown>).previousFile = 'audit-000777.jsonl'), true);
  const renamed = await verifyAudit(dir);
  assertTampered(renamed);
  assert.ok(renamed.problems.some((p) => p.file === files[2] && p.line === 1 && p.kind === 'removed'), JSON.stringify(renamed.problems));

  const { dir: dir2, files: files2 } = await writtenLog(t);
  const lastLine = (await readLines(dir2, files2[0] as string)).length;
  const seq = await editRecord(dir2, files2[0] as string, lastLine, (r) => (r.outcome = 'error'), true);
  const result = await verifyAudit(dir2);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`chain_break ${files2[1]}:1 seq ${seq + 1}`]);
});

test('a duplicated line is reported', async (t) => {
  const { dir, files } = await writtenLog(t);
  const lines = await readLines(dir, files[0] as string);
  lines.splice(3, 0, lines[1] as string);
  await writeLines(dir, files[0] as string, lines);
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`chain_break ${files[0]}:4 seq 2`]);
  assert.match(result.problems[0]?.message ?? '', /appears again/);
});

test('renumbered seq with intact hashes is a seq_gap', async (t) => {
  const { dir, files } = await writtenLog(t, 4, 1 << 20);
  const lines = await readLines(dir, files[0] as string);
  for (let i = 2; i < lines.length; i++) {
    const r = JSON.parse(lines[i] as string) as Record<string, unknown>;
    r.seq = (r.seq as number) + 10;
    r.hash = computeRecordHash(r);
    lines[i] = JSON.stringify(r);
  }
  await writeLines(dir, files[0] as string, lines);
  await rm(join(dir, 'audit-head'));
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.ok(result.problems.some((p) => p.kind === 'seq_gap' && p.line === 3 && p.seq === 13), JSON.stringify(result.problems));
});

test('garbage and unterminated lines anywhere but the end of the log are tampering', async (t) => {
  const { dir, files } = await writtenLog(t);
  const lines = await readLines(dir, files[0] as string);
  lines.splice(2, 0, 'not json at all');
  await writeLines(dir, files[0] as string, lines);
  await appendFile(join(dir, files[1] as string), '{"seq":');
  const result = await verifyAudit(dir);
  assertTampered(result);
  assert.deepEqual(summary(result.problems), [`bad_json ${files[0]}:3`, `bad_json ${files[1]}:${(await readLines(dir, files[1] as string)).length + 1}`]);
});

test('verify never accepts an empty directory with an anchor, nor garbage in audit-head', async (t) => {
  const { dir, files } = await writtenLog(t, 3, 1 << 20);
  await writeFile(join(dir, 'audit-head'), 'oops');
  const garbled = await verifyAudit(dir);
  assert.deepEqual(summary(garbled.problems), ['bad_json audit-head:1']);
  await rm(join(dir, 'audit-head'));
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 });
  await log.close(); // rewrites the anchor (seq 3)
  for (const file of files) await rm(join(dir, file));
  const emptied = await verifyAudit(dir);
  assertTampered(emptied);
  assert.match(emptied.problems[0]?.message ?? '', /ends at seq 0: records 1\.\.3 were removed/);
});

// ---- the CLI command body ----

function capture(): { io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } },
    out: () => out,
    err: () => err,
  };
}

test('audit verify: intact log → exit 0 and a one-line summary', async (t) => {
  const { dir, files } = await writtenLog(t);
  const c = capture();
  assert.equal(await runAuditVerify(['--dir', dir], c.io, '/nonexistent-home'), 0);
  const records = 20 + files.length - 1;
  assert.equal(c.out(), `audit: ${files.length} files, ${records} records, chain intact (seq 1..${records})\n`);
  assert.equal(c.err(), '');
});

test('audit verify: problems → exit 1 and one line per problem; --json is machine-readable', async (t) => {
  const { dir, files } = await writtenLog(t);
  await editRecord(dir, files[0] as string, 2, (r) => (r.identity = 'someone-else'));
  const c = capture();
  assert.equal(await runAuditVerify([`--dir=${dir}`], c.io, '/nonexistent-home'), 1);
  const lines = c.out().trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^audit: \d+ files, \d+ records, 1 problem found/);
  assert.match(lines[1] ?? '', new RegExp(`^  edited +${files[0]} line 2 \\(seq 2\\)`));

  const j = capture();
  assert.equal(await runAuditVerify(['--dir', dir, '--json'], j.io, '/nonexistent-home'), 1);
  const parsed = JSON.parse(j.out()) as VerifyResult;
  assert.equal(parsed.ok, false);
  assert.equal(parsed.problems[0]?.kind, 'edited');
});

test('audit verify: torn last line → exit 0, listed as crash residue', async (t) => {
  const { dir, files } = await writtenLog(t);
  await appendFile(join(dir, files[files.length - 1] as string), '{"seq":99');
  const c = capture();
  assert.equal(await runAuditVerify(['--dir', dir], c.io, '/nonexistent-home'), 0);
  assert.match(c.out(), /chain intact .*1 torn line \(crash residue/);
  assert.match(c.out(), /\n {2}torn +audit-\d+\.jsonl line \d+: torn last line/);
});

test('audit verify: usage errors and a missing directory → exit 2; default dir is <snowmux home>/audit', async (t) => {
  const bad = capture();
  assert.equal(await runAuditVerify(['--bogus'], bad.io, '/h'), 2);
  assert.match(bad.err(), /unknown argument: --bogus\nUsage: snowmux audit verify/);
  const noValue = capture();
  assert.equal(await runAuditVerify(['--dir'], noValue.io, '/h'), 2);
  const help = capture();
  assert.equal(await runAuditVerify(['--help'], help.io, '/h'), 0);
  assert.match(help.out(), /^Usage:/);

  const home = await mkdtemp(join(tmpdir(), 'snowmux-home-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const missing = capture();
  assert.equal(await runAuditVerify([], missing.io, home), 2);
  assert.match(missing.err(), new RegExp(`no audit directory at ${join(home, 'audit')}`));
  await mkdir(join(home, 'audit'), { recursive: true });
  // An empty log proves nothing: it is what a log whose files were all removed looks like.
  const empty = capture();
  assert.equal(await runAuditVerify([], empty.io, home), 1);
  assert.match(empty.out() + empty.err(), /no audit records/);
});

test('a log whose files were all removed or emptied, with no anchor left, fails', async (t) => {
  const { dir, files } = await writtenLog(t, 3, 1 << 20);
  await rm(join(dir, 'audit-head'), { force: true });
  for (const file of files) await writeFile(join(dir, file), '');
  const emptied = await verifyAudit(dir);
  assertTampered(emptied);
  assert.match(emptied.problems[0]?.message ?? '', /hold no records: they were emptied/);
  for (const file of files) await rm(join(dir, file));
  const vanished = await verifyAudit(dir);
  assertTampered(vanished);
  assert.match(vanished.problems[0]?.message ?? '', /no audit records/);
});

test('audit verify: several replicas\' chains at once, reported per directory; one damaged chain fails the whole', async (t) => {
  const a = await writtenLog(t);
  const b = await writtenLog(t);
  const ok = capture();
  assert.equal(await runAuditVerify(['--dir', a.dir, '--dir', b.dir], ok.io, '/nonexistent-home'), 0);
  assert.match(ok.out(), new RegExp(`^${a.dir}:\\n  audit: .*chain intact`, 'm'));
  assert.match(ok.out(), new RegExp(`^${b.dir}:\\n  audit: .*chain intact`, 'm'));
  assert.match(ok.out(), /2 of 2 chains intact\n$/);
  await editRecord(b.dir, b.files[0] as string, 2, (r) => (r.identity = 'someone-else'));
  const bad = capture();
  assert.equal(await runAuditVerify(['--dir', a.dir, '--dir', b.dir, '--json'], bad.io, '/nonexistent-home'), 1);
  const parsed = JSON.parse(bad.out()) as { ok: boolean; chains: { dir: string; ok: boolean }[] };
  assert.equal(parsed.ok, false);
  assert.deepEqual(parsed.chains.map((c) => [c.dir, c.ok]), [[a.dir, true], [b.dir, false]]);
});

test('snowmux audit verify reads the directory [audit] dir names (absolute, or relative to the home), and --config', async (t) => {
  const { auditCommand } = await import('../../src/cli/commands/audit-command.js');
  const { dir } = await writtenLog(t, 3);
  const home = await mkdtemp(join(tmpdir(), 'snowmux-home-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  await writeFile(join(home, 'config.toml'), `[audit]\ndir = ${JSON.stringify(dir)}\n`);
  const ok = capture();
  assert.equal(await auditCommand(['verify', '--home', home], ok.io as never), 0, ok.err());
  assert.match(ok.out(), /3 records, chain intact/);
  // The same file named with --config, from a home that has none.
  const bare = await mkdtemp(join(tmpdir(), 'snowmux-home-'));
  t.after(() => rm(bare, { recursive: true, force: true }));
  const viaConfig = capture();
  assert.equal(await auditCommand(['verify', '--home', bare, '--config', join(home, 'config.toml')], viaConfig.io as never), 0, viaConfig.err());
  const missing = capture();
  assert.equal(await auditCommand(['verify', '--home', bare], missing.io as never), 2);
  assert.match(missing.err(), /no hub has written an audit log there yet/);
  // A config that cannot be read does not say where the log is: verify says so instead of checking
  // <home>/audit (a log the hub may not write) and calling it intact.
  const stale = await mkdtemp(join(tmpdir(), 'snowmux-home-'));
  t.after(() => rm(stale, { recursive: true, force: true }));
  const old = await AuditLog.open({ dir: join(stale, 'audit'), fsync: 'never', maxFileBytes: 1500 });
  assert.equal((await old.append(sampleEntry(1))).ok, true);
  await old.close();
  for (const [argv, why] of [
    [['--config', join(bare, 'missing.toml')], /does not exist|not found/i],
    [['--config', join(home, 'typo.toml')], /unknown key "dri"/],
  ] as const) {
    await writeFile(join(home, 'typo.toml'), `[audit]\ndri = ${JSON.stringify(dir)}\n`);
    const r = capture();
    assert.equal(await auditCommand(['verify', '--home', stale, ...argv], r.io as never), 2, r.out());
    assert.match(r.err(), /cannot tell where the hub writes its audit log: .*Fix the config file, or name the directory with --dir/);
    assert.match(r.err(), why);
    const named = capture();
    assert.equal(await auditCommand(['verify', '--home', stale, ...argv, '--dir', dir], named.io as never), 0, named.err());
  }
  assert.match((await import('../../src/hub/audit/verify-command.js')).AUDIT_VERIFY_USAGE, /--config PATH/, '--help names every option');
});

test('what the files say is printed escaped: a forged audit-head cannot erase the report of the problem or add a line to it', async (t) => {
  const { dir } = await writtenLog(t, 8);
  const head = JSON.parse(await readFile(join(dir, 'audit-head'), 'utf8')) as Record<string, unknown>;
  const forged = '\u001b[1A\u001b[2K\r\u001b[1A\u001b[2K\raudit: 1 file, 13 records, chain intact (seq 1..13)\n\u001b[8m\u009b8m\u202e';
  await writeFile(join(dir, 'audit-head'), JSON.stringify({ ...head, seq: 99, file: forged }));
  for (const json of [false, true]) {
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } };
    assert.equal(await runAuditVerify(['--dir', dir, ...(json ? ['--json'] : [])], io, dir), 1);
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/u, JSON.stringify(out));
    if (json) {
      assert.ok((JSON.parse(out) as VerifyResult).problems.some((p) => p.message.includes(forged)), 'the JSON still holds the text as it is');
      continue;
    }
    assert.match(out, /^audit: .*problems? found/);
    assert.ok(!out.split('\n').some((l) => l.startsWith('audit: 1 file, 13 records, chain intact')), out);
    assert.match(out, /\\u001b\[1A\\u001b\[2K\\u000d/);
  }
});

// ioredis takes a password from ?password= and reads one holding "/" or "@" leniently: every spelling is
// hidden in what verify says, whether the URL parses or not (from $SNOWMUX_REDIS_URL too).
test('snowmux audit verify --redis never shows the Redis password, whatever its spelling', async (t) => {
  const { auditCommand } = await import('../../src/cli/commands/audit-command.js');
  const { freePort } = await import('../helpers/harness.js');
  const port = await freePort();
  for (const url of [`redis://127.0.0.1:${port}/0?password=REDIS-PW-8080`, `redis://:SLASH/PW-1@127.0.0.1:${port}`, `redis://:AT@PW-2@127.0.0.1:${port}`, `redis://u:SPACE PW-3@127.0.0.1:${port}`]) {
    for (const [argv, env] of [[['--redis', url], undefined], [['--redis'], url]] as const) {
      const before = process.env.SNOWMUX_REDIS_URL;
      if (env !== undefined) process.env.SNOWMUX_REDIS_URL = env;
      t.after(() => (before === undefined ? delete process.env.SNOWMUX_REDIS_URL : (process.env.SNOWMUX_REDIS_URL = before)));
      const r = capture();
      assert.equal(await auditCommand(['verify', ...argv, '--stream', 's'], r.io as never), 2, r.out());
      assert.match(r.err(), /cannot read stream s at redis:\/\//);
      for (const secret of ['REDIS-PW', 'SLASH', 'PW-1', 'PW-2', 'PW-3']) assert.ok(!r.err().includes(secret), r.err());
    }
  }
});

test('a report with problems says what to do next: keep a copy, then one line per kind found (what to compare, restore, doubt)', async (t) => {
  const { dir, files } = await writtenLog(t, 10, 1 << 20);
  await editRecord(dir, files[0]!, 3, (r) => (r.rows = 999));
  const lines = await readLines(dir, files[0]!);
  await writeLines(dir, files[0]!, [...lines.slice(0, 5), ...lines.slice(6)]);
  const out: string[] = [];
  const code = await runAuditVerify(['--dir', dir], { stdout: { write: (s: string) => out.push(s) }, stderr: { write: () => undefined } }, dir);
  assert.equal(code, 1);
  const text = out.join('');
  assert.match(text, /\nwhat to do: first copy this directory elsewhere as it is \(it is the evidence\)/);
  assert.match(text, /\n {2}edited {6}the named records are not what the hub wrote: treat what they say as unproven, and read the originals in a backup/);
  assert.match(text, /\n {2}removed {5}records are missing: restore the named files from a backup/);
  assert.doesNotMatch(text, /\n {2}reordered {3}records or files were moved/, 'only the kinds found');
  // An intact log needs no advice.
  const intact = await writtenLog(t);
  const clean: string[] = [];
  assert.equal(await runAuditVerify(['--dir', intact.dir], { stdout: { write: (s: string) => clean.push(s) }, stderr: { write: () => undefined } }, intact.dir), 0);
  assert.doesNotMatch(clean.join(''), /what to do/);
});

test('a take-over side file not chained in yet is named with its records, and the chain stays intact', async (t) => {
  const { dir } = await writtenLog(t, 5);
  const entry = JSON.stringify({ kind: 'tool_call', tool: 'execute_query', outcome: 'ok' });
  await writeFile(join(dir, 'held-1765000000000-4242-x.jsonl'), `${entry}\n${entry}\n{"kind":"tool_ca\n`);
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true);
  assert.deepEqual(result.held, [{ file: 'held-1765000000000-4242-x.jsonl', pid: 4242, records: 2, broken: 1 }]);
  const c = capture();
  assert.equal(await runAuditVerify(['--dir', dir], c.io, '/nonexistent-home'), 0);
  assert.match(c.out(), /chain intact/);
  assert.match(c.out(), /held-1765000000000-4242-x\.jsonl holds 2 records and 1 cut-off line of hub pid 4242, written during a take-over and not in the chain yet: the next hub to take the log over chains them in\. Do not delete it\./);
});
