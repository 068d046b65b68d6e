/**
 * Verifies an audit directory end to end: every record's hash, the chain of `prev` links across files,
 * seq continuity, file order and naming, torn lines, and the audit-head anchor. Reports where each problem
 * is (file, line, seq) and what it means. Streams the files; keeps ~80 bytes per record in memory.
 *
 * Crash residue (an unterminated last line) is reported with kind 'torn' and does not make the log fail:
 * it is either at the very end of the log or acknowledged byte-for-byte by the rotate record that follows
 * it. Any other irregularity is tampering (or damage) and makes `ok` false.
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { auditFileName, auditFileNumber, isNotRegularFile, listAuditFiles, listHeldFiles, readHead, readHeldFile, readLines, readUnwrittenState, listStrayCopies, strayAuditCopy, HEAD_FILE, UNWRITTEN_FILE } from './audit-files.js';
import type { AuditFile, UnterminatedTail } from './audit-files.js';
import { GENESIS_HASH, computeRecordHash, recordShapeDefect } from './audit-record.js';
import type { RotateDetail, TornAcknowledgement } from './audit-record.js';

export type VerifyProblemKind = 'edited' | 'removed' | 'reordered' | 'torn' | 'bad_json' | 'chain_break' | 'seq_gap' | 'unwritten' | 'not_a_file' | 'lost' | 'stray';

export interface VerifyProblem {
  /** File name inside the audit directory (or 'audit-head'). */
  file: string;
  /** 1-based line; 0 when the problem concerns a whole file. */
  line: number;
  seq?: number;
  kind: VerifyProblemKind;
  message: string;
  /**
   * A torn line: 'crash' (an unfinished write, the hub died) or 'write_failed' (a write cut short by the
   * disk — ENOSPC, EIO — while records could not be written: the chain notes, or audit-unwritten counts, them).
   */
  cause?: 'crash' | 'write_failed';
}

export interface VerifyResult {
  /** True when nothing but crash residue ('torn') was found. */
  ok: boolean;
  dir: string;
  files: number;
  /** Complete records read (edited ones included). */
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  lastHash?: string;
  /** Whether an audit-head anchor was present and checked. */
  head: 'checked' | 'absent';
  problems: VerifyProblem[];
  /** Problems beyond MAX_REPORTED_PROBLEMS, counted but not listed. */
  omittedProblems: number;
  /**
   * Side files of hubs that held records during a take-over and have not had them chained in yet (the next hub
   * to take the log over does): not part of the chain, not a problem, but calls whose records are only there.
   */
  held?: { file: string; pid: number; records: number; broken: number }[];
}

const MAX_REPORTED_PROBLEMS = 1000;

/** Compact per-record facts, kept in flat arrays so a million records cost tens of MB, not hundreds. */
class RecordIndex {
  readonly seq: number[] = [];
  readonly fileIdx: number[] = [];
  readonly line: number[] = [];
  private hashes: Buffer = Buffer.alloc(32 * 1024);
  private prevs: Buffer = Buffer.alloc(32 * 1024);

  get length(): number {
    return this.seq.length;
  }

  push(seq: number, fileIdx: number, line: number, hash: string, prev: string): void {
    const i = this.seq.length;
    if ((i + 1) * 32 > this.hashes.length) {
      this.hashes = grow(this.hashes);
      this.prevs = grow(this.prevs);
    }
    this.seq.push(seq);
    this.fileIdx.push(fileIdx);
    this.line.push(line);
    this.hashes.write(hash, i * 32, 32, 'hex');
    this.prevs.write(prev, i * 32, 32, 'hex');
  }

  hash(i: number): string {
    return this.hashes.toString('hex', i * 32, i * 32 + 32);
  }

  prev(i: number): string {
    return this.prevs.toString('hex', i * 32, i * 32 + 32);
  }

  /** Does record j's prev equal record i's hash? */
  links(i: number, j: number): boolean {
    return this.prevs.compare(this.hashes, i * 32, i * 32 + 32, j * 32, j * 32 + 32) === 0;
  }
}

function grow(buf: Buffer): Buffer {
  const bigger = Buffer.alloc(buf.length * 2);
  buf.copy(bigger);
  return bigger;
}

interface PendingTorn extends UnterminatedTail {
  file: string;
}

class Verifier {
  readonly problems: VerifyProblem[] = [];
  omitted = 0;
  private tampering = 0;
  readonly index = new RecordIndex();
  /** A listed file was gone when read: the hub may have pruned it (max_files), so verify reads afresh. */
  fileVanished = false;
  private files: AuditFile[] = [];
  private pendingTorn: PendingTorn[] = [];
  private oldestKept: number | undefined;
  /** audit-unwritten: records the hub could not write and has not noted in the chain yet (a stop on a full disk). */
  private lostState: Awaited<ReturnType<typeof readUnwrittenState>>;
  /** Torn lines the last record acknowledged: a records_unwritten note right after says they were cut by the disk. */
  private justAcknowledged: VerifyProblem[] = [];

  constructor(
    private readonly dir: string,
    private readonly hooks: VerifyHooks,
  ) {}

  add(problem: VerifyProblem): void {
    // Crash residue and the hub's own note of records it could not write are facts about the log, not tampering.
    if (problem.kind !== 'torn' && problem.kind !== 'unwritten' && problem.kind !== 'stray') this.tampering += 1;
    if (this.problems.length < MAX_REPORTED_PROBLEMS) this.problems.push(problem);
    else this.omitted += 1;
  }

  get ok(): boolean {
    return this.tampering === 0;
  }

  where(i: number): string {
    return `${this.files[this.index.fileIdx[i] ?? 0]?.name ?? '?'} line ${this.index.line[i] ?? 0}`;
  }

  async run(): Promise<VerifyResult> {
    // The anchor first: the hub names in it only records already written, so every file read after it holds
    // at least what it names. Read last, it could name records a running hub wrote after verify had read
    // its files (or in a file rotated in after the listing), reported as a cut-off tail that never was.
    const head = await readHead(this.dir);
    this.files = await listAuditFiles(this.dir);
    await this.hooks.afterListing?.();
    this.lostState = await readUnwrittenState(this.dir);
    this.checkFileNumbering();
    for (let f = 0; f < this.files.length; f++) await this.readFile(f);
    const lost = this.lostState && this.lostState.afterSeq >= this.lastReadSeq() ? this.lostState : undefined;
    for (const torn of this.pendingTorn) {
      this.add({
        file: torn.file,
        line: torn.lineNo,
        kind: 'torn',
        cause: lost ? 'write_failed' : 'crash',
        message: lost
          ? `${torn.file} line ${torn.lineNo}: torn last line (${torn.bytes} bytes without a newline) — a write cut short while records could not be written (${lost.codes.join(', ') || 'a write error'}), not crash residue; it is not part of the chain`
          : `${torn.file} line ${torn.lineNo}: torn last line (${torn.bytes} bytes without a newline) — an unfinished write, typically a crash; it is not part of the chain and the hub acknowledges it in the chain when it next opens the log`,
      });
    }
    if (lost) {
      // Known lost, not yet noted in the chain (the hub stopped while the disk was full): not a clean log.
      this.add({
        file: UNWRITTEN_FILE,
        line: 0,
        seq: lost.afterSeq,
        kind: 'lost',
        message: `${UNWRITTEN_FILE}: the hub could not write ${lost.records} audit record(s) after seq ${lost.afterSeq}, between ${lost.from} and ${lost.to} (${lost.codes.join(', ') || 'unknown error'}), and stopped before it could note them in the chain — those calls are not in the log; the next hub to open the log writes a records_unwritten note for them`,
      });
    }
    this.checkLeadingFiles();
    await this.noteStrayCopies();
    const order = this.chainOrder();
    this.checkChain(order);
    const anchor = this.checkHead(order, head);
    if (this.index.length === 0 && anchor === 'absent') {
      // An intact chain of nothing proves nothing: a log whose files were all removed (or emptied)
      // looks exactly like this, so it is reported, not passed.
      const message = this.files.length === 0
        ? `no audit records in ${this.dir}: the log was never written here, or every audit file was removed`
        : `the audit files in ${this.dir} hold no records: they were emptied`;
      this.add({ file: this.files[0]?.name ?? '', line: 0, kind: 'removed', message });
    }
    const last = order[order.length - 1];
    const first = order[0];
    return {
      ok: this.ok,
      dir: this.dir,
      files: this.files.length,
      records: this.index.length,
      firstSeq: first === undefined ? undefined : this.index.seq[first],
      lastSeq: last === undefined ? undefined : this.index.seq[last],
      lastHash: last === undefined ? undefined : this.index.hash(last),
      head: anchor,
      problems: this.problems,
      omittedProblems: this.omitted,
    };
  }

  private checkFileNumbering(): void {
    for (let f = 1; f < this.files.length; f++) {
      const before = this.files[f - 1] as AuditFile;
      const after = this.files[f] as AuditFile;
      const missing = after.number - before.number - 1;
      const first = auditFileName(before.number + 1);
      if (missing === 1) {
        this.add({ file: first, line: 0, kind: 'removed', message: `${first} is missing (between ${before.name} and ${after.name}): the file was deleted or renamed, and its records are gone from the chain` });
      } else if (missing > 1) {
        // One problem per span, not per number: a file planted as audit-999999.jsonl made a million of them,
        // and one numbered past 2^53 a loop that never ended.
        const exact = Number.isSafeInteger(after.number);
        const span = `${first} to ${exact ? auditFileName(after.number - 1) : `the one before ${after.name}`} are missing (${exact ? `${missing} files` : 'more files than can be counted'}, between ${before.name} and ${after.name})`;
        this.add({ file: first, line: 0, kind: 'removed', message: `${span}: the files were deleted or renamed and their records are gone from the chain, or ${after.name} was put there by hand (the hub numbers its files one after another)` });
      }
    }
  }

  /** Files before the oldest one present are fine only if a rotate record says they were pruned (maxFiles). */
  private checkLeadingFiles(): void {
    const oldest = this.files[0];
    if (!oldest || oldest.number === 1) return;
    if (this.oldestKept !== undefined && oldest.number <= this.oldestKept) return;
    this.add({
      file: auditFileName(oldest.number - 1),
      line: 0,
      kind: 'removed',
      message: `audit files before ${oldest.name} are missing and no rotate record says they were pruned by maxFiles: they were deleted or renamed`,
    });
  }

  private async readFile(f: number): Promise<void> {
    const file = this.files[f] as AuditFile;
    const previousFile = this.files[f - 1];
    // Leading files may have been pruned; missing ones are reported by the numbering checks, not again here.
    const gapBefore = previousFile === undefined ? file.number > 1 : previousFile.number !== file.number - 1;
    const tails: UnterminatedTail[] = [];
    try {
      await this.readRecords(f, file, previousFile, gapBefore, tails);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.fileVanished = true;
        this.add({ file: file.name, line: 0, kind: 'removed', message: `${file.name} was removed while verify was reading the log, and was still being removed after ${MAX_VERIFY_ATTEMPTS} fresh readings: something other than the hub's max_files pruning deletes audit files` });
        return;
      }
      // A FIFO or the like under an audit file's name: reading it would wait for ever. Reported; the
      // other files are still checked (its records, if it replaced a file, show as removed).
      if (!isNotRegularFile(err)) throw err;
      this.add({ file: file.name, line: 0, kind: 'not_a_file', message: `${file.name} is ${String(err.details?.['fileType'])}, not a regular file: the hub never makes one, so it was put there by hand or by a script, and it holds no records` });
      return;
    }
    for (const tail of tails) this.pendingTorn.push({ ...tail, file: file.name });
  }

  private async readRecords(f: number, file: AuditFile, previousFile: AuditFile | undefined, gapBefore: boolean, tails: UnterminatedTail[]): Promise<void> {
    let first = true;
    // Lines as the hub wrote them but for a CR before the newline: line endings converted (a copy through
    // Windows, git's autocrlf), said once per file rather than as that many rewritten records.
    const crlf = { lines: 0, firstLine: 0 };
    for await (const { lineNo, text } of readLines(join(this.dir, file.name), (tail) => tails.push(tail))) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        this.add({ file: file.name, line: lineNo, kind: 'bad_json', message: `${file.name} line ${lineNo}: not valid JSON — the line was damaged or inserted by hand` });
        continue;
      }
      const defect = recordShapeDefect(parsed);
      if (defect !== undefined) {
        this.add({ file: file.name, line: lineNo, kind: 'bad_json', message: `${file.name} line ${lineNo}: not an audit record (${defect})` });
        continue;
      }
      const record = parsed as Record<string, unknown> & { seq: number; hash: string; prev: string; kind: string; detail?: unknown };
      const at = `${file.name} line ${lineNo} (seq ${record.seq})`;
      if (computeRecordHash(record) !== record.hash) {
        this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'edited', message: `${at}: the record's content does not match its hash — it was edited after it was written` });
      } else if (text.endsWith('\r') && JSON.stringify(record) === text.slice(0, -1)) {
        crlf.lines += 1;
        if (crlf.firstLine === 0) crlf.firstLine = lineNo;
      } else if (JSON.stringify(record) !== text) {
        // The hub writes each record as JSON.stringify gives it, byte for byte. A line that only parses to
        // it was rewritten: a member given twice (`"outcome":"error",…,"outcome":"ok"`) hashes as the last
        // one here (JSON.parse), while a reader that keeps the first (or refuses duplicates) reads another
        // record — the hash vouched for text an auditor's tool may read otherwise.
        this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'edited', message: `${at}: the line is not as the hub wrote it (a member given twice, or its text rewritten) — its hash matches one reading of it, but other tools may read it otherwise` });
      }
      this.index.push(record.seq, f, lineNo, record.hash, record.prev);
      const acknowledged = this.justAcknowledged;
      this.justAcknowledged = [];
      if (record.kind === 'records_unwritten') {
        this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'unwritten', message: unwrittenMessage(at, record.detail) });
        // The hub's reopening acknowledged a torn line and then noted records it could not write: the line
        // is one of them, cut short by the disk (ENOSPC, EIO), not a crash.
        for (const torn of acknowledged) {
          torn.cause = 'write_failed';
          torn.message = torn.message.replace(', crash residue), acknowledged by', `, a write cut short while records could not be written — see the note at ${at}, not crash residue), acknowledged by`);
        }
      }
      const detail = record.kind === 'rotate' && isObject(record.detail) ? (record.detail as Partial<RotateDetail>) : undefined;
      this.acknowledgeTorn(at, first ? detail : undefined);
      if (first) this.checkFileStart(file, previousFile, gapBefore, lineNo, record, detail);
      else if (record.kind === 'rotate') {
        this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'chain_break', message: `${at}: a rotate record in the middle of a file — files were concatenated or records moved between files` });
      }
      if (detail) this.noteRotate(file, lineNo, record.seq, detail);
      first = false;
    }
    if (crlf.lines > 0) {
      const lines = `${crlf.lines} line${crlf.lines === 1 ? '' : 's'}`;
      this.add({ file: file.name, line: crlf.firstLine, kind: 'edited', message: `${file.name}: ${lines} end in CR LF (from line ${crlf.firstLine}), not as the hub wrote them: the line endings were converted (a copy through Windows, git's autocrlf, an editor). Otherwise those records are as written (their hashes match); put back the original file, or convert it back (dos2unix ${file.name}), and verify again` });
    }
  }

  private checkFileStart(file: AuditFile, previousFile: AuditFile | undefined, gapBefore: boolean, lineNo: number, record: { seq: number; kind: string }, detail: Partial<RotateDetail> | undefined): void {
    const at = `${file.name} line ${lineNo} (seq ${record.seq})`;
    if (file.number === 1 && !detail) return;
    if (!detail) {
      this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'chain_break', message: `${at}: the file does not begin with a rotate record — its first records were removed, or it is not a snowmux audit file` });
      return;
    }
    if (detail.file !== file.name) {
      this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'reordered', message: `${at}: this file begins with the rotate record written for ${String(detail.file)} — the file was renamed` });
    }
    if (!gapBefore && (previousFile?.name ?? '') !== (detail.previousFile ?? '')) {
      this.add({ file: file.name, line: lineNo, seq: record.seq, kind: 'removed', message: `${at}: the rotate record names ${detail.previousFile || 'no file'} as the previous file, but the file before it is ${previousFile?.name ?? 'none'} — files were removed, renamed or added` });
    }
  }

  private noteRotate(file: AuditFile, lineNo: number, seq: number, detail: Partial<RotateDetail>): void {
    const kept = typeof detail.oldestKept === 'string' ? auditFileNumber(detail.oldestKept) : undefined;
    if (kept !== undefined) this.oldestKept = Math.max(this.oldestKept ?? 0, kept);
    if (detail.reason === 'head_mismatch' || detail.head !== undefined) {
      const head = isObject(detail.head) ? (detail.head as { seq?: unknown }) : {};
      this.add({
        file: file.name,
        line: lineNo,
        seq,
        kind: 'removed',
        message: `${file.name} line ${lineNo} (seq ${seq}): when the hub reopened the log, its anchor named seq ${String(head.seq)} but the log ended at seq ${String(detail.lastSeq)} — records were removed or the log was rolled back before this point`,
      });
    }
  }

  /** Torn tails before this record must be exactly the ones its rotate record acknowledges. */
  private acknowledgeTorn(at: string, detail: Partial<RotateDetail> | undefined): void {
    const acks: Partial<TornAcknowledgement>[] = Array.isArray(detail?.torn) ? (detail.torn as Partial<TornAcknowledgement>[]) : [];
    if (this.pendingTorn.length === 0 && acks.length === 0) return;
    const unmatched = [...acks];
    for (const torn of this.pendingTorn) {
      const k = unmatched.findIndex((a) => a.file === torn.file && a.offset === torn.offset && a.bytes === torn.bytes && a.sha256 === torn.sha256);
      if (k !== -1) {
        unmatched.splice(k, 1);
        const problem: VerifyProblem = { file: torn.file, line: torn.lineNo, kind: 'torn', cause: 'crash', message: `${torn.file} line ${torn.lineNo}: torn last line (${torn.bytes} bytes, crash residue), acknowledged by ${at}` };
        this.add(problem);
        this.justAcknowledged.push(problem);
      } else {
        this.add({ file: torn.file, line: torn.lineNo, kind: 'bad_json', message: `${torn.file} line ${torn.lineNo}: an unterminated line followed by later records (${at}) that do not acknowledge it — bytes were added or changed by hand` });
      }
    }
    for (const ack of unmatched) {
      this.add({ file: String(ack.file), line: 0, kind: 'edited', message: `${at} acknowledges a torn line in ${String(ack.file)} at byte ${String(ack.offset)} (${String(ack.bytes)} bytes) that is not there as recorded — that file was changed afterwards` });
    }
    this.pendingTorn = [];
  }

  /** Record indexes in seq order with duplicates reported and dropped; moved records reported. */
  private chainOrder(): number[] {
    const { index } = this;
    const bySeq = Array.from({ length: index.length }, (_, i) => i).sort((a, b) => (index.seq[a] as number) - (index.seq[b] as number) || a - b);
    const order: number[] = [];
    for (let k = 0; k < bySeq.length; ) {
      const seq = index.seq[bySeq[k] as number] as number;
      let end = k;
      while (end < bySeq.length && index.seq[bySeq[end] as number] === seq) end++;
      const group = bySeq.slice(k, end);
      const before = order[order.length - 1];
      const canonical = group.find((i) => before !== undefined && index.seq[before] === seq - 1 && index.links(before, i)) ?? (group[0] as number);
      order.push(canonical);
      for (const dup of group) {
        if (dup === canonical) continue;
        this.add({ file: this.files[index.fileIdx[dup] as number]?.name ?? '?', line: index.line[dup] as number, seq, kind: 'chain_break', message: `${this.where(dup)}: seq ${seq} appears again (also at ${this.where(canonical)}) — a record was duplicated or forged` });
      }
      k = end;
    }
    this.reportMoved(order);
    return order;
  }

  /** Records outside the longest run that is in seq order when read in file order were moved. */
  private reportMoved(order: number[]): void {
    const readOrder = [...order].sort((a, b) => a - b);
    const keep = longestIncreasing(readOrder.map((i) => this.index.seq[i] as number));
    let run: number[] = [];
    const flush = (): void => {
      const firstI = run[0];
      const lastI = run[run.length - 1];
      if (firstI === undefined || lastI === undefined) return;
      const a = this.index.seq[firstI] as number;
      const b = this.index.seq[lastI] as number;
      const span = a === b ? `seq ${a} is` : `records seq ${a}..${b} are`;
      const belongs = order.find((i) => this.index.seq[i] === a - 1);
      const hint = belongs === undefined ? '' : `: it belongs after seq ${a - 1} (${this.where(belongs)})`;
      this.add({ file: this.files[this.index.fileIdx[firstI] as number]?.name ?? '?', line: this.index.line[firstI] as number, seq: a, kind: 'reordered', message: `${this.where(firstI)}: ${span} out of order${hint} — records were moved or swapped` });
      run = [];
    };
    readOrder.forEach((i, pos) => {
      if (keep.has(pos)) {
        flush();
        return;
      }
      const prevI = run[run.length - 1];
      if (prevI !== undefined && this.index.seq[i] !== (this.index.seq[prevI] as number) + 1) flush();
      run.push(i);
    });
    flush();
  }

  private checkChain(order: number[]): void {
    const { index } = this;
    const first = order[0];
    if (first === undefined) return;
    const firstSeq = index.seq[first] as number;
    if (firstSeq === 1 && index.prev(first) !== GENESIS_HASH) {
      this.add({ file: this.fileOf(first), line: index.line[first] as number, seq: 1, kind: 'chain_break', message: `${this.where(first)}: the first record does not start from the genesis hash — the beginning of the chain was replaced` });
    }
    if (firstSeq > 1 && this.files[0]?.number === 1) {
      this.add({ file: this.fileOf(first), line: index.line[first] as number, seq: firstSeq, kind: 'removed', message: `records seq 1..${firstSeq - 1} are missing: the log begins at seq ${firstSeq} (${this.where(first)})` });
    }
    for (let k = 1; k < order.length; k++) {
      const p = order[k - 1] as number;
      const r = order[k] as number;
      const ps = index.seq[p] as number;
      const rs = index.seq[r] as number;
      const at = this.where(r);
      const base = { file: this.fileOf(r), line: index.line[r] as number, seq: rs };
      if (rs === ps + 1) {
        if (!index.links(p, r)) {
          this.add({ ...base, kind: 'chain_break', message: `${at} (seq ${rs}): prev does not match the hash of seq ${ps} (${this.where(p)}) — seq ${ps} was rewritten with a new hash, or this record was forged` });
        }
      } else if (index.links(p, r)) {
        this.add({ ...base, kind: 'seq_gap', message: `${at}: seq jumps from ${ps} to ${rs} although the hashes link — the seq numbers were altered` });
      } else {
        const missing = rs - ps - 1 === 1 ? `record seq ${ps + 1} is` : `records seq ${ps + 1}..${rs - 1} are`;
        this.add({ ...base, kind: 'removed', message: `${missing} missing between ${this.where(p)} (seq ${ps}) and ${at} (seq ${rs}) — removed` });
      }
    }
  }

  private checkHead(order: number[], head: Awaited<ReturnType<typeof readHead>>): 'checked' | 'absent' {
    if (head.state === 'absent') return 'absent';
    if (head.state === 'unreadable') {
      this.add({ file: HEAD_FILE, line: 1, kind: 'bad_json', message: `${HEAD_FILE} is unreadable (${head.reason}) — it is written atomically, so it was changed by hand` });
      return 'checked';
    }
    const { seq, hash, file } = head.head;
    const { index } = this;
    const match = order.find((i) => index.seq[i] === seq);
    const last = order[order.length - 1];
    const lastSeq = last === undefined ? 0 : (index.seq[last] as number);
    if (match !== undefined) {
      if (index.hash(match) !== hash) {
        this.add({ file: this.fileOf(match), line: index.line[match] as number, seq, kind: 'edited', message: `${this.where(match)}: ${HEAD_FILE} recorded a different hash for seq ${seq} — the chain was rewritten from this record on` });
      }
    } else if (seq > lastSeq) {
      this.add({ file: file, line: 0, seq, kind: 'removed', message: `${HEAD_FILE} says the log reached seq ${seq} (in ${file}) but it ends at seq ${lastSeq}: records ${lastSeq + 1}..${seq} were removed (the tail was cut off)` });
    }
    return 'checked';
  }

  /**
   * Files named like an external rotation's copies of an audit file (`audit-000001.jsonl.1`, `.2.gz`,
   * `-20260101`: logrotate's copytruncate or create). Not part of the chain, so verify does not read them
   * as such; named, with the records they hold, because the chain's file they came from now misses them.
   */
  private async noteStrayCopies(): Promise<void> {
    let names: string[];
    try {
      names = await listStrayCopies(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const of = strayAuditCopy(name) as string;
      let holds = '';
      if (/\.(gz|bz2|xz|zst|lz4|z)$/i.test(name)) holds = ' (compressed)';
      else {
        try {
          let first: number | undefined;
          let last: number | undefined;
          for await (const { text } of readLines(join(this.dir, name), () => undefined)) {
            const seq = seqOf(text);
            if (seq === undefined) continue;
            first ??= seq;
            last = seq;
          }
          holds = first === undefined ? ' (no records)' : `, holding records seq ${first}..${String(last)},`;
        } catch {
          holds = ' (unreadable)';
        }
      }
      this.add({
        file: name,
        line: 0,
        kind: 'stray',
        message: `${name}${holds} is not part of the chain: it is named like the copy an external rotation (logrotate's copytruncate or create) makes of ${of}, whose records it likely holds. If ${of} is now empty or missing those records, put them back under its name (decompressed, before any records ${of} holds now) and verify again; do not rotate the audit directory externally (the hub rotates it: [audit] max_file_mb, max_files)`,
      });
    }
  }

  /** The highest seq read from the files (0 for none). */
  private lastReadSeq(): number {
    let max = 0;
    for (const seq of this.index.seq) if (seq > max) max = seq;
    return max;
  }

  private fileOf(i: number): string {
    return this.files[this.index.fileIdx[i] as number]?.name ?? '?';
  }
}

/** Positions (into `values`) of one longest strictly increasing subsequence. O(n log n). */
function longestIncreasing(values: number[]): Set<number> {
  const tailsIdx: number[] = [];
  const parent = new Int32Array(values.length).fill(-1);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    let lo = 0;
    let hi = tailsIdx.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((values[tailsIdx[mid] as number] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) parent[i] = tailsIdx[lo - 1] as number;
    tailsIdx[lo] = i;
  }
  const keep = new Set<number>();
  for (let i = tailsIdx[tailsIdx.length - 1] ?? -1; i !== -1; i = parent[i] as number) keep.add(i);
  return keep;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Verifies the audit log in `dir`. Throws SnowmuxError-free Node errors only when the directory itself
 * cannot be read (the CLI turns those into a usage error).
 */
export async function verifyAudit(dir: string, hooks: VerifyHooks = {}): Promise<VerifyResult> {
  await stat(dir);
  let result: VerifyResult;
  for (let attempt = 1; ; attempt++) {
    const verifier = new Verifier(dir, hooks);
    result = await verifier.run();
    // A running hub with max_files prunes its oldest file when it rotates: one listed a moment ago can be
    // gone when verify opens it. Verifying again from a fresh listing sees the prune as the hub's rotate
    // record explains it; a file that keeps vanishing is reported as removed.
    if (!verifier.fileVanished || attempt >= MAX_VERIFY_ATTEMPTS) break;
  }
  const held = await heldRecords(dir);
  return held.length === 0 ? result : { ...result, held };
}

/** Test seams: run between the steps of one verification, to change the log as a running hub would. */
export interface VerifyHooks {
  afterListing?: () => Promise<void>;
}

const MAX_VERIFY_ATTEMPTS = 3;

/** The side files waiting to be chained in, and how many records each holds (unreadable ones as 0, broken lines counted). */
async function heldRecords(dir: string): Promise<NonNullable<VerifyResult['held']>> {
  const held: NonNullable<VerifyResult['held']> = [];
  for (const file of await listHeldFiles(dir)) {
    try {
      const { entries, broken } = await readHeldFile(join(dir, file.name));
      held.push({ file: file.name, pid: file.pid, records: entries.length, broken });
    } catch {
      held.push({ file: file.name, pid: file.pid, records: 0, broken: 0 });
    }
  }
  return held;
}

/** The seq of an audit record's line, or undefined. */
function seqOf(text: string): number | undefined {
  try {
    const seq = (JSON.parse(text) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}

/** What a `records_unwritten` record says: calls the hub served but could not record, and when. */
function unwrittenMessage(at: string, detail: unknown): string {
  const d = isObject(detail) ? (detail as { records?: unknown; from?: unknown; to?: unknown; codes?: unknown; carriedOver?: unknown }) : {};
  const codes = Array.isArray(d.codes) ? ` (${d.codes.join(', ')})` : '';
  const carried = typeof d.carriedOver === 'number' ? `; ${d.carriedOver} of them counted by a hub that stopped before it could note them (audit-unwritten)` : '';
  return `${at}: the hub could not write ${String(d.records ?? '?')} audit record(s) between ${String(d.from ?? '?')} and ${String(d.to ?? '?')}${codes}${carried} — those calls are not in the log; check the disk and the hub's log for that time`;
}
