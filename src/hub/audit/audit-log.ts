/**
 * The append-only, hash-chained audit log writer.
 *
 * - JSON lines in `audit-000001.jsonl`, `audit-000002.jsonl`, …; each record is one `write()` of the whole
 *   line, so a crash can leave at most an unterminated ("torn") last line.
 * - Appends are queued and written strictly in order by one drain loop; they never interleave.
 * - Durability policy: 'always' resolves append() only after an fsync covering the record (records queued
 *   together share one fsync); 'interval' fsyncs at most every fsyncIntervalMs and on close; 'never' leaves it
 *   to the OS (tests and benchmarks).
 * - Rotation: once a file reaches maxFileBytes, the next record goes to a new file that starts with a
 *   `rotate` record chained to the last record of the previous file.
 * - Reopening after a crash: a torn tail is never modified or deleted. Writing continues in a NEW file whose
 *   first record (`rotate`, reason 'torn_tail') acknowledges the torn bytes by file, offset, length and sha256,
 *   and chains to the last complete record. verify reports the torn line as crash residue, and anything that
 *   differs from what the rotate record acknowledged as tampering.
 * - append() never rejects: it resolves with { ok: false, error } on failure, counts it, and emits 'error'
 *   (only when someone listens, so a missing listener cannot crash the hub). The hub decides what to do.
 * See docs/audit.md.
 */
import { EventEmitter } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SnowmuxError, errorMessage } from '../../errors.js';
import { mkdirBelow, mkdirParents } from '../../mkdir-below.js';
import type { ErrorCode } from '../../error-codes.js';
import { auditFileName, changedUnderWriter, heldFileName, lineNumberAt, listAuditFiles, listHeldFiles, openAuditFile, openUnwrittenState, readFileEnd, readHead, readHeldFile, listStrayCopies, readUnwrittenState, removeDeadWritersHeadTemps, stillNamed, syncDir, UNWRITTEN_FILE, verifyAuditDir, verifyAuditDirPlace, writeHead, writeUnwrittenState } from './audit-files.js';
import type { AuditFile, ExternalChange, HeldFile } from './audit-files.js';
import { redactEntry, SecretScrubber } from './audit-redact.js';
import { timerDelay } from '../../timer-delay.js';
import {
  GENESIS_HASH,
  computeRecordHash,
  hubLifecycleEntry,
  orderedForWriting,
  recordShapeDefect,
  type AuditEntry,
  type AuditKind,
  type AuditRecord,
  type RotateDetail,
  type TornAcknowledgement,
} from './audit-record.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export const DEFAULT_FSYNC_INTERVAL_MS = 200;
export const DEFAULT_HEAD_INTERVAL_MS = 1000;
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Queued records past which calls wait for their own record to be written (docs/audit.md, durability). */
export const MAX_UNWRITTEN = 64;
/** The most one write() of queued records carries (about 2,000 records of ~500 bytes). */
const MAX_RUN_BYTES = 1024 * 1024;
/** While records cannot be written, how often the log tries again by itself (no call needed to notice space came back). */
export const DEFAULT_PROBE_INTERVAL_MS = 5000;
/** Held records chained in per write batch when a side file is taken over. */
const ADOPT_BATCH = 1_000;

export interface AuditLogOptions {
  dir: string;
  fsync: FsyncPolicy;
  /** 'interval' policy: longest time a written record waits for its fsync. Default 200 ms. */
  fsyncIntervalMs?: number;
  /** A file that has reached this size gets no more records; the next one starts a new file. */
  maxFileBytes: number;
  /** A directory that must already exist (the home): the log's directory is created below it, never it. */
  root?: string;
  /** Keep at most this many files; older ones are deleted on rotation (and the deletion is recorded). Default: keep all. */
  maxFiles?: number;
  /** Milliseconds since the epoch, for record timestamps. Default Date.now. */
  clock?: () => number;
  /** Secret strings (profile passwords, tokens, keys) scrubbed from every record. More can be added later. */
  secrets?: readonly string[];
  /** Version stamped into the client field of records the log writes itself (rotate). */
  hubVersion?: string;
  /** Most often the audit-head anchor is rewritten (plus on rotation and close). Default 1000 ms. */
  headIntervalMs?: number;
  /**
   * Whether this process is still the log's one writer (the home's audit-writer claim). Asked right before
   * each write of queued records (one small file read, ~10 µs, shared by the records of the batch): a hub
   * taken over while frozen (`hub --replace`) that resumed and appended forked the chain for good, and a
   * once-a-second check still let it append within that second.
   */
  stillWriter?: () => boolean;
  /**
   * Checks the directories above the log's (whoever may rename one could move the trail aside and put a
   * directory of theirs in its place): throws AUDIT_DIR_UNSAFE, or returns warnings. The hub gives the walk
   * its settings files get (hub/audit-dir-trust.ts); this layer imports nothing of it. `madeIn`: the
   * directory is not there yet, and this one above it, which is, would hold what is made (its path is walked).
   */
  trustPath?: (dir: string, madeIn?: string) => string[];
  /**
   * Which process a side file names: its start time (for the name) and whether it still runs (its file is
   * then not taken over). Given by the hub (pids are reused; start times tell); by default a pid that exists.
   */
  processes?: HolderProcesses;
  /** While records cannot be written, how often the log retries on its own (the `records_unwritten` note). Default 5 s. */
  probeIntervalMs?: number;
}

export interface HolderProcesses {
  startTicks(pid: number): string | null;
  live(holder: { pid: number; started: string | undefined }): boolean;
}

/** Without start times: a pid that exists (or belongs to another user) counts as the holder. */
const PIDS_ONLY: HolderProcesses = {
  startTicks: () => null,
  live: ({ pid }) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

export type AppendResult = { ok: true; seq: number; hash: string } | { ok: false; error: SnowmuxError };

export interface TornTail extends TornAcknowledgement {
  /** 1-based line number of the torn line in its file. */
  lineNo: number;
}

/** What opening (or recovering) found and did. Torn tails are reported here and recorded in the chain. */
export interface AuditOpenReport {
  /** File new records go to. */
  file: string;
  /** Seq of the last complete record found on disk (0 for a new log). */
  lastSeq: number;
  /** True when no audit file existed. */
  created: boolean;
  torn: TornTail[];
  /** A new file was started with a rotate record (torn tail, anchor mismatch, or an empty file resumed). */
  startedFile?: { file: string; reason: RotateDetail['reason'] };
  warnings: string[];
}

export interface AuditStats {
  lastSeq: number;
  lastHash: string;
  file: string;
  /** Seq of the last record known to be fsynced. */
  durableSeq: number;
  appended: number;
  failedAppends: number;
  ioErrors: number;
  fsyncs: number;
  rotations: number;
  recoveries: number;
  queued: number;
  /**
   * While records cannot be written (the last append failed, none has succeeded since): when that began
   * and why. Null once a record is written again. What health warns of, as the counters above cannot
   * tell failing now from failed once.
   */
  failing: { since: string; code: string; message: string } | null;
  /**
   * While audit-head cannot be rewritten (ENOSPC…): since when, why, and the seq it still names (null when
   * this process has not written it yet). Records after that seq could be cut off without verify noticing,
   * which the anchor is there to catch. Null once a rewrite succeeds.
   */
  headStale: { since: string; code: string; message: string; headSeq: number | null } | null;
  /** While the log holds its records in a side file (another hub writes the chain): the file and how many. */
  holding?: { file: string; records: number };
  /**
   * An audit file changed under the hub (logrotate's copytruncate or create, another writer): when, which
   * file, how, the file the hub went on in (chained), and the copies named like an external rotation's.
   * Kept for the hub's life: verify reports the file's records missing until they are put back.
   */
  externalChange?: { at: string; file: string; how: ExternalChange; continuedIn: string; copies: string[] };
}

const HOW: Readonly<Record<ExternalChange, string>> = {
  truncated: 'truncated (cut shorter than the hub wrote it)',
  grown: 'written to by something else (longer than the hub wrote it)',
  moved: 'moved or replaced (the name no longer points at the file the hub writes)',
};

/** Not a record: asks the drain loop to try the failing log again (recovery, the records_unwritten note). */
const PROBE = Object.freeze({ kind: 'probe' }) as unknown as AuditEntry;

interface QueuedAppend {
  entry: AuditEntry;
  resolve: (result: AppendResult) => void;
}

interface Anchor {
  seq: number;
  hash: string;
}

export interface AuditLogEvents {
  error: [SnowmuxError];
  rotate: [{ from: string; to: string }];
  /** An fsync completed: records up to `seq` are durable. */
  synced: [{ seq: number }];
  recovered: [AuditOpenReport];
  /** audit-head was rewritten: it now names record `seq`. */
  head: [{ seq: number }];
  /** A record was written (the JSON line, without its newline), for copies elsewhere (a team's stream). */
  written: [{ seq: number; line: string }];
}

export class AuditLog extends EventEmitter<AuditLogEvents> {
  private readonly dir: string;
  private readonly policy: FsyncPolicy;
  private readonly fsyncIntervalMs: number;
  private readonly headIntervalMs: number;
  private readonly maxFileBytes: number;
  private readonly root: string | undefined;
  private readonly maxFiles: number | undefined;
  private readonly clock: () => number;
  private readonly scrubber: SecretScrubber;
  private readonly hubVersion: string;
  private readonly stillWriter: (() => boolean) | undefined;
  private readonly trustPath: ((dir: string, madeIn?: string) => string[]) | undefined;
  private readonly processes: HolderProcesses;
  private readonly probeIntervalMs: number;
  private probeTimer: NodeJS.Timeout | undefined;
  /** audit-unwritten, open for in-place updates (see UnwrittenState); undefined until it could be made. */
  private unwrittenFh: FileHandle | undefined;
  /** The chain's last seq when the latest unwritten record failed (saved with the count). */
  private gapAfterSeq = 0;
  /** The gap changed since audit-unwritten was last written. */
  private gapDirty = false;
  /**
   * Set while another process writes the chain (a take-over not finished, or one that took this log over):
   * records go to this hub's side file instead, in order, under the same durability policy, until claim()
   * (or the next hub's open, if this one ends first) chains them in.
   */
  private holding: { file: string; records: number; torn: boolean } | undefined;
  /** Taken over, and no side file could be started: nothing more is written, each record fails with this. */
  private superseded: SnowmuxError | undefined;
  /** claim() is moving from the side file to the chain: appends queue meanwhile (and answers wait past 64). */
  private claiming: Promise<void> | undefined;

  private fh: FileHandle | undefined;
  private fileName = '';
  private fileNumber = 0;
  private fileSize = 0;
  private seq = 0;
  private prev = GENESIS_HASH;
  private rotateBeforeNext = false;
  private needsRecovery = false;

  private unsynced = false;
  private durable: Anchor & { file: string } = { seq: 0, hash: GENESIS_HASH, file: '' };
  private headSeq = -1;
  private headWrittenAt = -Infinity;

  private queue: QueuedAppend[] = [];
  private draining: Promise<void> | undefined;
  private syncDue = false;
  private syncTimer: NodeJS.Timeout | undefined;
  /** A rewrite of audit-head held back by its once-a-second bound: done when the bound allows. */
  private headDue = false;
  private headTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  private counters = { appended: 0, failedAppends: 0, ioErrors: 0, fsyncs: 0, rotations: 0, recoveries: 0 };
  private failing: AuditStats['failing'] = null;
  private headStale: AuditStats['headStale'] = null;
  private externalChange: AuditStats['externalChange'];
  /** Records that could not be written since the last one that was: told in the chain by the next write. */
  private gap: { records: number; from: string; to: string; codes: string[]; kinds: Record<string, number>; carriedOver?: number } | undefined;
  private report!: AuditOpenReport;

  private constructor(options: AuditLogOptions) {
    super();
    if (!(options.maxFileBytes > 0)) throw new SnowmuxError('AUDIT_BAD_OPTIONS', 'audit maxFileBytes must be a positive number of bytes. Fix the audit configuration.');
    if (options.maxFiles !== undefined && !(Number.isInteger(options.maxFiles) && options.maxFiles >= 2)) {
      throw new SnowmuxError('AUDIT_BAD_OPTIONS', 'audit maxFiles must be an integer of at least 2 (or unset to keep every file). Fix the audit configuration.');
    }
    this.dir = options.dir;
    this.policy = options.fsync;
    this.root = options.root;
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
    this.headIntervalMs = options.headIntervalMs ?? DEFAULT_HEAD_INTERVAL_MS;
    this.stillWriter = options.stillWriter;
    this.trustPath = options.trustPath;
    this.processes = options.processes ?? PIDS_ONLY;
    this.probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    this.maxFileBytes = options.maxFileBytes;
    this.maxFiles = options.maxFiles;
    this.clock = options.clock ?? Date.now;
    this.scrubber = new SecretScrubber(options.secrets ?? []);
    this.hubVersion = options.hubVersion ?? '';
  }

  /**
   * Opens (or creates) the log in `dir` and positions it after the last complete record.
   * Throws SnowmuxError AUDIT_OPEN_FAILED / AUDIT_TAIL_CORRUPT when the directory cannot be used.
   */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const log = new AuditLog(options);
    try {
      log.report = await log.resume(undefined);
      // A hub that ended while it held records (killed, or stopped before its hand-over): they go first.
      await log.adoptHeld(undefined);
      await log.loadUnwritten();
      await removeDeadWritersHeadTemps(log.dir, (pid) => log.processes.live({ pid, started: undefined })).catch(() => []);
    } catch (err) {
      await log.fh?.close().catch(() => undefined);
      await log.unwrittenFh?.close().catch(() => undefined);
      if (err instanceof SnowmuxError) throw err;
      throw new SnowmuxError('AUDIT_OPEN_FAILED', `Could not open the audit log in ${options.dir}: ${errorMessage(err)}. Check the directory exists and is writable by the hub user.`, { cause: err });
    }
    return log;
  }

  /**
   * Opens the log for a hub that may not write the chain yet (the previous hub still does): records are
   * held in this hub's side file until claim(). Throws AUDIT_OPEN_FAILED when the side file cannot be made.
   */
  static async hold(options: AuditLogOptions): Promise<AuditLog> {
    const log = new AuditLog(options);
    try {
      log.report = { file: '', lastSeq: 0, created: false, torn: [], warnings: await log.startHolding() };
    } catch (err) {
      await log.closeFile();
      if (err instanceof SnowmuxError) throw err;
      throw new SnowmuxError('AUDIT_OPEN_FAILED', `Could not start holding audit records in ${options.dir}: ${errorMessage(err)}. Check the directory exists and is writable by the hub user.`, { cause: err });
    }
    return log;
  }

  /**
   * Whether hold() would work in `dir`, checked as it checks (the place, the directory's owner and mode, a
   * file made in it), leaving nothing there but the directory itself: `hub --replace` asks before it takes
   * the socket over, since a take-over that fails after that leaves neither hub serving (the replaced one
   * sees its socket taken and drains). Throws what hold() would.
   */
  static async preflight(options: AuditLogOptions): Promise<void> {
    const log = new AuditLog(options);
    try {
      await log.checkPlace();
      if (log.root !== undefined) await mkdirBelow(log.root, log.dir, 0o700);
      else await mkdirParents(log.dir, 0o700);
      await verifyAuditDir(log.dir);
      const probe = join(log.dir, `.preflight-${process.pid}-${Date.now()}.tmp`);
      const fh = await open(probe, 'wx', 0o600);
      await fh.close();
      await unlink(probe);
    } catch (err) {
      if (err instanceof SnowmuxError) throw err;
      throw new SnowmuxError('AUDIT_OPEN_FAILED', `Could not start holding audit records in ${options.dir}: ${errorMessage(err)}. Check the directory exists and is writable by the hub user.`, { cause: err });
    }
  }

  /** Whether records still go to the side file (claim() not done). */
  get isHolding(): boolean {
    return this.holding !== undefined;
  }

  /** The side file records are held in, while holding. */
  get heldFile(): string | undefined {
    return this.holding?.file;
  }

  /**
   * The first live hub, other than this one, holding records in `dir` in a side file older than `own` (any,
   * without `own`): it goes first, so the chain keeps the order in which hubs took over.
   */
  static async heldAhead(dir: string, own: string | undefined, processes: HolderProcesses = PIDS_ONLY): Promise<number | null> {
    for (const file of await listHeldFiles(dir).catch((): HeldFile[] => [])) {
      if (own !== undefined && file.name >= own) return null;
      if (file.pid !== process.pid && processes.live(file)) return file.pid;
    }
    return null;
  }

  /**
   * This process is now the one writer (it holds the home's claim): continues the chain as open() does,
   * chains in the side files of hubs that ended while holding, then this log's own, and writes on. Appends
   * made meanwhile wait in the queue. Throws what open() throws; the records stay in the side files then.
   */
  claim(): Promise<void> {
    if (!this.holding || this.closing) return this.claiming ?? Promise.resolve();
    this.claiming ??= this.claimChain().finally(() => {
      this.claiming = undefined;
      this.kick();
    });
    return this.claiming;
  }

  private async claimChain(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.policy !== 'never') await this.syncNow();
    await this.closeFile();
    const own = this.holding?.file;
    this.holding = undefined;
    try {
      this.report = await this.resume(undefined);
    } catch (err) {
      // The next write retries as after any failure; our side file is chained in by the next hub to open.
      this.needsRecovery = true;
      throw err instanceof SnowmuxError ? err : new SnowmuxError('AUDIT_OPEN_FAILED', `Could not open the audit log in ${this.dir} after the hand-over: ${errorMessage(err)}. The held records stay in ${own ?? 'the side file'}; the next hub to open the log writes them.`, { cause: err });
    }
    await this.adoptHeld(own);
    await this.loadUnwritten();
  }

  /**
   * Opens audit-unwritten for later updates, and takes over the count it holds when the chain has no note
   * for it yet (a hub stopped, or was killed, while records could not be written): the next record written
   * is a records_unwritten note for them, so a stop on a full disk does not erase the trace of its calls.
   */
  private async loadUnwritten(): Promise<void> {
    const state = await readUnwrittenState(this.dir);
    try {
      this.unwrittenFh ??= await openUnwrittenState(this.dir);
    } catch (err) {
      this.report.warnings.push(`${UNWRITTEN_FILE} could not be made in ${this.dir} (${errorMessage(err)}): a count of audit records that cannot be written would not survive a stop`);
    }
    if (!state || this.report.lastSeq > state.afterSeq) return;
    const gap = (this.gap ??= { records: 0, from: state.from, to: state.to, codes: [], kinds: {} });
    gap.records += state.records;
    gap.carriedOver = (gap.carriedOver ?? 0) + state.records;
    if (state.from && state.from < gap.from) gap.from = state.from;
    for (const code of state.codes) if (!gap.codes.includes(code) && gap.codes.length < 8) gap.codes.push(code);
    for (const [kind, n] of Object.entries(state.kinds)) if (typeof n === 'number') gap.kinds[kind] = (gap.kinds[kind] ?? 0) + n;
    this.report.warnings.push(`${state.records} audit record(s) could not be written between ${state.from} and ${state.to} (${state.codes.join(', ') || 'unknown error'}), before the log was last closed: the next record is a records_unwritten note for them`);
    this.gapAfterSeq = this.seq;
    await this.saveGap();
  }

  /** Writes the count of unwritten records (or that none is pending) to audit-unwritten, in place. */
  private async saveGap(): Promise<void> {
    this.gapDirty = false;
    const gap = this.gap;
    try {
      this.unwrittenFh ??= await openUnwrittenState(this.dir);
      await writeUnwrittenState(this.unwrittenFh, gap && { records: gap.records, afterSeq: this.gapAfterSeq, from: gap.from, to: gap.to, codes: gap.codes, kinds: gap.kinds });
    } catch {
      // The count stays in memory and is noted by the next record written; only a stop now would lose it.
    }
  }

  /**
   * Chains in the side files of hubs that no longer run (they ended, or were killed, while holding) and
   * `own`, oldest first, each removed once its records are written (and fsynced). What could not be read
   * back (a line a crash cut short) is declared by a records_unwritten note.
   */
  private async adoptHeld(own: string | undefined): Promise<void> {
    let files;
    try {
      files = await listHeldFiles(this.dir);
    } catch {
      return;
    }
    for (const file of files) {
      if (file.name !== own && this.processes.live(file)) continue;
      const path = join(this.dir, file.name);
      let read;
      try {
        read = await readHeldFile(path);
      } catch (err) {
        this.report.warnings.push(`the held audit records in ${file.name} could not be read (${errorMessage(err)}); left in place`);
        continue;
      }
      let failed = false;
      for (let at = 0; at < read.entries.length; at += ADOPT_BATCH) {
        const results: AppendResult[] = [];
        const batch = read.entries.slice(at, at + ADOPT_BATCH).map((entry) => ({ entry: entry as unknown as AuditEntry, resolve: () => undefined }));
        await this.writeBatch(batch, results);
        if (results.some((r) => !r.ok) || this.holding) failed = true;
        if (failed) break;
      }
      if (!failed && this.policy !== 'never' && (await this.syncNow()) !== undefined) failed = true;
      if (failed) {
        this.report.warnings.push(`the held audit records in ${file.name} were not all written; the file is left in place`);
        return;
      }
      // Lines a crash (or a full disk) cut short: declared before the next record, as failed appends are.
      if (read.broken > 0) this.noteUnwritten(read.broken, 'AUDIT_WRITE_FAILED', 'held');
      await unlink(path).catch(() => undefined);
      if (file.name !== own) this.report.warnings.push(`chained in ${read.entries.length} audit record(s) that hub pid ${file.pid} held when it ended (${file.name})`);
    }
  }

  /** Opens this hub's side file (see `holding`). Returns warnings about the directory. */
  private async startHolding(): Promise<string[]> {
    await this.checkPlace();
    if (this.root !== undefined) await mkdirBelow(this.root, this.dir, 0o700);
    else await mkdirParents(this.dir, 0o700);
    const warnings = await verifyAuditDir(this.dir);
    const file = heldFileName(Date.now(), process.pid, this.processes.startTicks(process.pid));
    this.fh = await open(join(this.dir, file), 'wx', 0o600);
    this.fileName = file;
    this.fileSize = 0;
    this.unsynced = false;
    this.holding = { file, records: 0, torn: false };
    if (this.policy !== 'never') await syncDir(this.dir);
    return warnings;
  }

  /**
   * Refuses an unsafe audit directory, or an unsafe place to make it, before anything is created there
   * (verifyAuditDirPlace, and the walk of the path to what exists); the full checks run again once it is made.
   */
  private async checkPlace(): Promise<void> {
    const existing = await verifyAuditDirPlace(this.dir);
    if (this.trustPath && existing !== this.dir) this.trustPath(this.dir, existing);
  }

  /** What opening found (torn tails, warnings) — log it once at start-up. */
  get openReport(): AuditOpenReport {
    return this.report;
  }

  /** Adds secret strings to scrub from every later record (e.g. when a profile is loaded). */
  addSecrets(secrets: readonly string[]): void {
    this.scrubber.add(secrets);
  }

  /** Queues one record. Never rejects; resolves when written (and fsynced under 'always'). */
  append(entry: AuditEntry): Promise<AppendResult> {
    if (this.closing) return Promise.resolve(this.fail(new SnowmuxError('AUDIT_CLOSED', 'The audit log is closed; the record was not written. This happens only while the hub shuts down.')));
    if ((entry?.kind as AuditKind) === 'rotate') {
      return Promise.resolve(this.fail(new SnowmuxError('AUDIT_BAD_ENTRY', 'rotate records are written by the audit log itself. Append tool_call, hub_start or hub_stop records only.')));
    }
    return new Promise<AppendResult>((resolve) => {
      this.queue.push({ entry, resolve });
      this.kick();
    });
  }

  /** Writes everything queued and fsyncs now (unless the policy is 'never'). */
  async flush(): Promise<void> {
    if (this.policy !== 'never') this.syncDue = true;
    this.kick();
    await this.idle();
  }

  /**
   * Whether whoever answers for a record should wait until it is written (or durable, under 'always')
   * before answering: always under 'always' (an answered call is an audited one), else only while more
   * than MAX_UNWRITTEN records wait, which bounds what a SIGKILL can take with it.
   */
  get holdsAnswers(): boolean {
    return this.policy === 'always' || this.queue.length > MAX_UNWRITTEN;
  }

  /** While records cannot be written: since when and why (AuditStats.failing), without building the stats. */
  get failingNow(): AuditStats['failing'] {
    return this.failing;
  }

  /** The directory the records go to. */
  get directory(): string {
    return this.dir;
  }

  /** Last record in the chain (seq 0 and the genesis hash for an empty log). */
  head(): Anchor {
    return { seq: this.seq, hash: this.prev };
  }

  stats(): AuditStats {
    const holding = this.holding ? { holding: { file: this.holding.file, records: this.holding.records } } : {};
    return { lastSeq: this.seq, lastHash: this.prev, file: this.fileName, durableSeq: this.durable.seq, queued: this.queue.length, ...this.counters, failing: this.failing, headStale: this.headStale, ...holding, ...(this.externalChange ? { externalChange: this.externalChange } : {}) };
  }

  /** Writes what is queued, fsyncs (unless 'never'), rewrites audit-head and closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.idle();
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = undefined;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    await this.unwrittenFh?.close().catch(() => undefined);
    this.unwrittenFh = undefined;
    if (this.holding) {
      // Left for the next hub that opens the log, durable as any record under the policy.
      if (this.policy !== 'never') await this.syncNow();
      await this.closeFile();
      return;
    }
    if (!this.fh || this.needsRecovery || !this.stillTheWriter()) {
      await this.closeFile();
      return;
    }
    if (this.policy !== 'never') await this.syncNow();
    await this.writeHeadAnchor(true);
    await this.closeFile();
    if (this.policy !== 'never') await syncDir(this.dir).catch((err: unknown) => this.ioError('AUDIT_FSYNC_FAILED', 'Could not fsync the audit directory on close', err));
  }

  // ---- the drain loop: the only code that touches the file ----

  private kick(): void {
    if (this.draining || this.claiming) return;
    if (this.queue.length === 0 && !this.syncDue && !this.headDue) return;
    const run = this.drainLoop();
    this.draining = run;
    void run.finally(() => {
      if (this.draining === run) this.draining = undefined;
      // An append that arrived after the loop's last check but before this callback.
      this.kick();
    });
  }

  private async idle(): Promise<void> {
    while (this.claiming || this.draining || this.queue.length > 0) {
      if (this.claiming) await this.claiming.catch(() => undefined);
      this.kick();
      await this.draining;
    }
  }

  private async drainLoop(): Promise<void> {
    while (this.queue.length > 0 || this.syncDue || this.headDue) {
      this.headDue = false;
      let batch = this.queue.splice(0);
      // A probe is for the chain: a hub that holds its records (or may write none) has nothing to try.
      if (this.holding || this.superseded) batch = batch.filter((item) => item.entry !== PROBE);
      const results: AppendResult[] = [];
      try {
        await this.writeBatch(batch, results);
      } catch (err) {
        // A bug, not an I/O error (those are handled inside): fail the batch rather than leave callers hanging.
        this.needsRecovery = true;
        this.syncDue = false;
        if (this.policy === 'always') results.length = 0; // nothing in this batch is known to be durable
        this.ioError('AUDIT_WRITE_FAILED', 'Internal error in the audit writer (report this as a snowmux bug)', err);
      } finally {
        batch.forEach((item, i) => item.resolve(results[i] ?? this.fail(new SnowmuxError('AUDIT_WRITE_FAILED', 'The audit record was not written because of an internal error. Report this as a snowmux bug.'), false)));
      }
      // Only after a failure or the note that follows one: nothing is written here while records are.
      if (this.gapDirty && !this.holding) await this.saveGap();
    }
  }

  /** False once another process has claimed the log. */
  private stillTheWriter(): boolean {
    return this.holding !== undefined || !this.stillWriter || this.stillWriter();
  }

  private async writeBatch(batch: QueuedAppend[], results: AppendResult[]): Promise<void> {
    if (this.superseded) {
      for (const item of batch) results.push(this.unwritten(item.entry, this.superseded));
      return;
    }
    if (batch.length > 0 && !this.stillTheWriter()) {
      // Taken over while stopped or frozen past the successor's wait: appending would fork the chain. What
      // is left goes to a side file, which the next hub to open the log chains in once this one has ended.
      await this.closeFile();
      let warned: SnowmuxError | undefined;
      try {
        await this.startHolding();
        warned = new SnowmuxError('AUDIT_CLOSED', `Another hub writes this audit log now (this one was taken over while it was stopped or frozen). This hub's remaining records go to ${this.holding?.file ?? 'a side file'} in the audit directory, which the next hub to open the log writes into the chain after this one has exited.`);
      } catch (err) {
        warned = new SnowmuxError('AUDIT_CLOSED', `Another hub writes this audit log now (this one was taken over while it was stopped or frozen), and this hub could not start a side file for its remaining records (${errorMessage(err)}): they are not written. Nothing needs doing for the log itself: the other hub's chain is intact.`, { cause: err });
      }
      this.counters.ioErrors += 1;
      this.notify('error', warned);
      if (!this.holding) {
        this.superseded = warned;
        for (const item of batch) results.push(this.unwritten(item.entry, warned));
        return;
      }
    }
    if (this.holding) {
      await this.holdBatch(batch, results);
      return;
    }
    if (batch.length > 0 && this.fh && !this.needsRecovery && !this.rotateBeforeNext) await this.followExternalChange();
    let wrote = false;
    for (let at = 0; at < batch.length; ) {
      // The usual case writes the queue's records in one write() (one thread-pool round trip): one write
      // per record gave the drain loop one record per event-loop turn, and under load it fell ever further
      // behind the answered calls. Recovery, rotation and a gap note go one record at a time, as before.
      if (this.needsRecovery || this.rotateBeforeNext || this.gap || !this.fh || batch[at]!.entry === PROBE) {
        const result = await this.writeEntry(batch[at]!.entry);
        if (result.ok) wrote = true;
        results.push(result);
        at += 1;
        continue;
      }
      const taken = await this.writeRun(batch, at, results);
      if (results.slice(at, at + taken).some((r) => r.ok)) wrote = true;
      at += taken;
    }
    if (wrote && this.policy === 'always') {
      this.syncDue = false;
      const syncError = await this.syncNow();
      if (syncError) {
        for (let i = 0; i < results.length; i++) {
          if (results[i]?.ok) results[i] = this.fail(syncError, false);
        }
      }
    } else if (this.syncDue) {
      this.syncDue = false;
      if (this.policy !== 'never') await this.syncNow();
    } else if (wrote && this.policy === 'interval') {
      this.scheduleSync();
    }
    await this.writeHeadAnchor(false);
  }

  /** The batch into the side file, as one write(), fsynced as the policy says: entries, not yet chained. */
  private async holdBatch(batch: QueuedAppend[], results: AppendResult[]): Promise<void> {
    const holding = this.holding!;
    if (batch.length > 0) {
      const heldFrom = new Date(this.clock()).toISOString();
      const lines: string[] = [];
      const taken: QueuedAppend[] = [];
      for (const item of batch) {
        try {
          // Scrubbed before it touches the disk; the log stamps a record when it chains it: say when it happened.
          const detail = { heldFrom, ...item.entry.detail };
          lines.push(JSON.stringify(redactEntry({ ...item.entry, detail }, this.scrubber)));
          taken.push(item);
        } catch (err) {
          results[batch.indexOf(item)] = this.unwritten(item.entry, new SnowmuxError('AUDIT_BAD_ENTRY', `The audit entry could not be serialised (${errorMessage(err)}); it was not written. Report this as a snowmux bug.`));
        }
      }
      // After a cut-off write, a newline first: the fragment stays a line of its own, read back as broken.
      const payload = Buffer.from(`${holding.torn ? '\n' : ''}${lines.join('\n')}\n`, 'utf8');
      let failure: unknown;
      try {
        const { bytesWritten } = await this.fh!.write(payload, 0, payload.length);
        if (bytesWritten !== payload.length) failure = new Error(`short write (${bytesWritten} of ${payload.length} bytes)`);
      } catch (err) {
        failure = err;
      }
      holding.torn = failure !== undefined;
      for (const item of taken) {
        const i = batch.indexOf(item);
        if (failure === undefined) {
          holding.records += 1;
          this.failing = null;
          results[i] = { ok: true, seq: 0, hash: '' };
        } else {
          results[i] = this.unwritten(item.entry, asAuditError(failure, 'AUDIT_WRITE_FAILED', `Could not write a held audit record to ${holding.file}`));
        }
      }
      if (failure === undefined) this.unsynced = true;
    }
    if (this.policy === 'always' && this.unsynced) {
      this.syncDue = false;
      const syncError = await this.syncNow();
      if (syncError) for (let i = 0; i < results.length; i++) if (results[i]?.ok) results[i] = this.fail(syncError, false);
    } else if (this.syncDue) {
      this.syncDue = false;
      if (this.policy !== 'never') await this.syncNow();
    } else if (this.unsynced && this.policy === 'interval') {
      this.scheduleSync();
    }
  }

  /** Records lost before they could be written or read back: the next chained record is a records_unwritten note. */
  private noteUnwritten(records: number, code: string, kind: string): void {
    const now = new Date(this.clock()).toISOString();
    this.gapAfterSeq = this.seq;
    this.gapDirty = true;
    const gap = (this.gap ??= { records: 0, from: now, to: now, codes: [], kinds: {} });
    gap.records += records;
    gap.to = now;
    if (!gap.codes.includes(code) && gap.codes.length < 8) gap.codes.push(code);
    gap.kinds[kind] = (gap.kinds[kind] ?? 0) + records;
  }

  /**
   * Writes the records of `batch` from `from` on with one write(), up to the file's rotation size and
   * MAX_RUN_BYTES; pushes one result per entry it took and returns how many it took (at least one). Only
   * whole lines the kernel took join the chain; the first record not wholly written fails as a single
   * record's write would (the next append recovers the file), and the entries after it are left to the caller.
   */
  private async writeRun(batch: QueuedAppend[], from: number, results: AppendResult[]): Promise<number> {
    const built: { record: AuditRecord; text: string; bytes: number }[] = [];
    let tail: Anchor = { seq: this.seq, hash: this.prev };
    let size = 0;
    let at = from;
    for (; at < batch.length; at++) {
      if (built.length > 0 && (size >= MAX_RUN_BYTES || this.fileSize + size >= this.maxFileBytes)) break;
      let record: AuditRecord;
      try {
        record = this.buildRecord(redactEntry(batch[at]!.entry, this.scrubber), tail);
      } catch (err) {
        if (built.length > 0) break; // written first; this entry then fails on its own
        results.push(this.unwritten(batch[at]!.entry, new SnowmuxError('AUDIT_BAD_ENTRY', `The audit entry could not be serialised (${errorMessage(err)}); it was not written. Report this as a snowmux bug.`)));
        return 1;
      }
      const text = JSON.stringify(record);
      const bytes = Buffer.byteLength(text, 'utf8') + 1;
      built.push({ record, text, bytes });
      tail = { seq: record.seq, hash: record.hash };
      size += bytes;
    }
    const payload = Buffer.from(`${built.map((b) => b.text).join('\n')}\n`, 'utf8');
    let landed = 0;
    let failure: unknown;
    try {
      landed = (await this.fh!.write(payload, 0, payload.length)).bytesWritten;
      if (landed !== payload.length) failure = new Error(`short write (${landed} of ${payload.length} bytes)`);
    } catch (err) {
      failure = err;
    }
    let offset = 0;
    let whole = 0;
    for (const { record, text, bytes } of built) {
      if (offset + bytes > landed) break;
      offset += bytes;
      whole += 1;
      this.committed(record, text, bytes);
      this.counters.appended += 1;
      this.failing = null;
      results.push({ ok: true, seq: record.seq, hash: record.hash });
    }
    if (failure === undefined) return whole;
    // The file may now end in a partial line: the next append recovers it, as after a single record's failure.
    this.needsRecovery = true;
    const seq = built[whole]!.record.seq;
    results.push(this.unwritten(batch[from + whole]!.entry, asAuditError(failure, 'AUDIT_WRITE_FAILED', `Could not write audit record seq ${seq} to ${this.fileName}`)));
    return whole + 1;
  }

  /** A record whose whole line the kernel took: it joins the chain. */
  private committed(record: AuditRecord, text: string, bytes: number): void {
    this.notify('written', { seq: record.seq, line: text });
    this.seq = record.seq;
    this.prev = record.hash;
    this.fileSize += bytes;
    this.unsynced = true;
    if (this.fileSize >= this.maxFileBytes) this.rotateBeforeNext = true;
  }

  private scheduleHead(ms: number): void {
    if (this.headTimer || this.closing) return;
    this.headTimer = setTimeout(() => {
      this.headTimer = undefined;
      this.headDue = true;
      this.kick();
    }, Math.ceil(ms));
    this.headTimer.unref();
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.closing) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.syncDue = true;
      this.kick();
    }, timerDelay(this.fsyncIntervalMs));
    // Close() fsyncs; a pending timer must not keep an otherwise finished process alive.
    this.syncTimer.unref();
  }

  private async writeEntry(entry: AuditEntry): Promise<AppendResult> {
    if (this.needsRecovery) {
      try {
        await this.recover();
      } catch (err) {
        return this.lost(entry, asAuditError(err, 'AUDIT_RECOVERY_FAILED', 'Could not reopen the audit log after an earlier failure'));
      }
    }
    if (this.rotateBeforeNext) {
      try {
        await this.rotate();
      } catch (err) {
        this.needsRecovery = true;
        return this.lost(entry, asAuditError(err, 'AUDIT_ROTATE_FAILED', 'Could not start the next audit file'));
      }
    }
    if (this.gap) {
      // The records that could not be written (a full disk, a failing device) leave a trace in the chain
      // before the next one that can: a chain that verifies must not pass for a complete one.
      const gap = this.gap;
      const carried = gap.carriedOver === undefined ? {} : { carriedOver: gap.carriedOver };
      const note = hubLifecycleEntry('records_unwritten', {
        version: this.hubVersion,
        outcome: 'error',
        errorCode: gap.codes[0],
        detail: { records: gap.records, from: gap.from, to: gap.to, codes: gap.codes, kinds: gap.kinds, ...carried },
      });
      const written = await this.writeBuilt(this.buildRecord(note));
      if (written) return this.lost(entry, written);
      this.gap = undefined;
      this.gapDirty = true;
    }
    if (entry === PROBE) {
      // Nothing of its own to write: reopening and the note above were the test (or, with neither due, an fsync).
      if (this.policy !== 'never' && this.unsynced) {
        const syncError = await this.syncNow();
        if (syncError) return this.lost(entry, syncError);
      }
      this.failing = null;
      return { ok: true, seq: this.seq, hash: this.prev };
    }
    let record: AuditRecord;
    try {
      record = this.buildRecord(redactEntry(entry, this.scrubber));
    } catch (err) {
      return this.unwritten(entry, new SnowmuxError('AUDIT_BAD_ENTRY', `The audit entry could not be serialised (${errorMessage(err)}); it was not written. Report this as a snowmux bug.`));
    }
    const failed = await this.writeBuilt(record);
    if (failed) return this.unwritten(entry, failed);
    this.counters.appended += 1;
    this.failing = null;
    return { ok: true, seq: record.seq, hash: record.hash };
  }

  /** Writes a built record; the error when it could not be (the next append then recovers, as a restart would). */
  private async writeBuilt(record: AuditRecord): Promise<SnowmuxError | undefined> {
    try {
      await this.writeRecord(record);
      return undefined;
    } catch (err) {
      // The file may now end in a partial line.
      this.needsRecovery = true;
      return asAuditError(err, 'AUDIT_WRITE_FAILED', `Could not write audit record seq ${record.seq} to ${this.fileName}`);
    }
  }

  /** A record that could not be written, or a probe that failed (not a record: not counted, tried again later). */
  private lost(entry: AuditEntry, error: SnowmuxError): AppendResult {
    if (entry !== PROBE) return this.unwritten(entry, error);
    this.failing = { since: this.failing?.since ?? new Date(this.clock()).toISOString(), code: error.code, message: error.message };
    this.scheduleProbe();
    return { ok: false, error };
  }

  /** While records fail, try again now and then on our own: status and /readyz recover without a call. */
  private scheduleProbe(): void {
    if (this.probeTimer || this.closing || this.superseded) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.queue.push({ entry: PROBE, resolve: () => undefined });
      this.kick();
    }, timerDelay(this.probeIntervalMs));
    this.probeTimer.unref();
  }

  /** A record that will never be in the chain: counted for the `records_unwritten` record that follows. */
  private unwritten(entry: AuditEntry, error: SnowmuxError): AppendResult {
    const now = new Date(this.clock()).toISOString();
    this.gapAfterSeq = this.seq;
    this.gapDirty = true;
    const gap = (this.gap ??= { records: 0, from: now, to: now, codes: [], kinds: {} });
    gap.records += 1;
    gap.to = now;
    if (!gap.codes.includes(error.code) && gap.codes.length < 8) gap.codes.push(error.code);
    gap.kinds[entry.kind] = (gap.kinds[entry.kind] ?? 0) + 1;
    return this.fail(error);
  }

  private buildRecord(body: Omit<AuditRecord, 'seq' | 'ts' | 'prev' | 'hash'>, after: Anchor = { seq: this.seq, hash: this.prev }): AuditRecord {
    const unhashed = { ...body, seq: after.seq + 1, ts: new Date(this.clock()).toISOString(), prev: after.hash };
    return orderedForWriting({ ...unhashed, hash: computeRecordHash(unhashed) });
  }

  /** One write() of the whole line. Advances the chain only when every byte was written. */
  private async writeRecord(record: AuditRecord): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error('no audit file is open');
    const text = JSON.stringify(record);
    const line = Buffer.from(`${text}\n`, 'utf8');
    const { bytesWritten } = await fh.write(line, 0, line.length);
    if (bytesWritten !== line.length) throw new Error(`short write (${bytesWritten} of ${line.length} bytes)`);
    this.committed(record, text, line.length);
  }

  private async syncNow(): Promise<SnowmuxError | undefined> {
    if (!this.unsynced || !this.fh) return undefined;
    const covered = { seq: this.seq, hash: this.prev, file: this.fileName };
    try {
      await this.fh.sync();
    } catch (err) {
      return this.ioError('AUDIT_FSYNC_FAILED', `Could not fsync ${this.fileName}; records up to seq ${covered.seq} may not be durable`, err);
    }
    this.counters.fsyncs += 1;
    if (this.holding) {
      this.unsynced = false;
      return undefined;
    }
    this.durable = covered;
    if (this.seq === covered.seq) this.unsynced = false;
    this.notify('synced', { seq: covered.seq });
    return undefined;
  }

  /** Rewrites audit-head with the last durable record ('never': the last written one, on rotation/close only). */
  private async writeHeadAnchor(force: boolean): Promise<void> {
    if (this.policy === 'never' && !force) return;
    const anchor = this.policy === 'never' ? { seq: this.seq, hash: this.prev, file: this.fileName } : this.durable;
    if (anchor.seq === this.headSeq || anchor.seq === 0) return;
    const now = performance.now();
    if (!force && now - this.headWrittenAt < this.headIntervalMs) {
      // Deferred, not dropped: on a hub that goes idle after a burst, the anchor would otherwise lag for
      // good, and a tail cut after a crash would verify as intact.
      this.scheduleHead(this.headIntervalMs - (now - this.headWrittenAt));
      return;
    }
    // Here, at most once a second: two stats through the thread pool on every write cost ~20 µs a call.
    if (this.fh && !(await stillNamed(this.fh, this.dir, this.fileName).catch(() => true))) {
      // The directory (or the file) was removed under the hub: records went to a file nobody can read. The
      // next record recovers (recreating the directory) and chains what happened; none is taken for durable.
      this.needsRecovery = true;
      this.ioError('AUDIT_WRITE_FAILED', `The audit file ${this.fileName} is no longer in ${this.dir} (removed or replaced while the hub ran); records since seq ${this.headSeq < 0 ? 1 : this.headSeq + 1} may be lost`, new Error('file removed'));
      return;
    }
    try {
      await writeHead(this.dir, { seq: anchor.seq, hash: anchor.hash, file: anchor.file, ts: new Date(this.clock()).toISOString() }, this.policy !== 'never');
      this.headSeq = anchor.seq;
      this.headWrittenAt = now;
      this.headStale = null;
      this.notify('head', { seq: anchor.seq });
    } catch (err) {
      const error = this.ioError('AUDIT_HEAD_WRITE_FAILED', 'Could not rewrite the audit-head anchor', err);
      this.headStale = { since: this.headStale?.since ?? new Date(this.clock()).toISOString(), code: error.code, message: error.message, headSeq: this.headSeq >= 0 ? this.headSeq : null };
    }
  }

  // ---- files: rotation, start-up and recovery ----

  private async rotate(): Promise<void> {
    const from = this.fileName;
    if (this.policy !== 'never') {
      const err = await this.syncNow();
      if (err) throw err;
    }
    await this.closeFile();
    await this.startFile(this.fileNumber + 1, { reason: 'size', previousFile: from }, 'wx');
    this.counters.rotations += 1;
    await this.writeHeadAnchor(true);
    await this.prune();
    this.notify('rotate', { from, to: this.fileName });
  }

  /**
   * Before a batch is written: the file the hub writes was cut, moved aside or appended to by something
   * else (logrotate's copytruncate or create). Writing on would put records at offset 0 of a truncated file
   * (seq 5 where verify expects seq 1) or into the renamed copy; a recovery would re-read the directory and
   * restart the chain at the records left there. Instead the hub starts the next file, chained to its last
   * record as a size rotation is (reason 'external'), and says so: an error event, and status's warning.
   */
  private async followExternalChange(): Promise<void> {
    const from = this.fileName;
    let how: ExternalChange | undefined;
    try {
      how = changedUnderWriter(this.fh!.fd, join(this.dir, from), this.fileSize);
    } catch {
      return; // the anchor's check (stillNamed) and the write itself report a directory that is gone
    }
    if (how === undefined) return;
    const foundBytes = await this.fh!.stat().then((st) => st.size, () => -1);
    // What was written so far stays where the descriptor points (the moved copy) and is made durable first.
    if (this.policy !== 'never') await this.syncNow();
    const copies = await listStrayCopies(this.dir).catch(() => []);
    await this.closeFile();
    try {
      await this.startFile(this.fileNumber + 1, { reason: 'external', previousFile: from, external: { how, writtenBytes: this.fileSize, foundBytes } }, 'wx');
      this.counters.rotations += 1;
      await this.writeHeadAnchor(true);
    } catch (err) {
      this.needsRecovery = true;
      this.ioError('AUDIT_FILE_CHANGED', `The audit file ${from} in ${this.dir} was ${HOW[how]} while the hub wrote it, and the next file could not be started`, err);
      return;
    }
    this.externalChange = { at: new Date(this.clock()).toISOString(), file: from, how, continuedIn: this.fileName, copies };
    this.counters.ioErrors += 1;
    const seen = copies.length > 0 ? ` (${copies.join(', ')} ${copies.length === 1 ? 'is' : 'are'} in the directory: likely the moved records)` : '';
    this.notify('error', new SnowmuxError('AUDIT_FILE_CHANGED', `The audit file ${from} in ${this.dir} was ${HOW[how]} while the hub wrote it (logrotate's copytruncate or create?)${seen}. The hub goes on in ${this.fileName}, chained to its last record; \`snowmux audit verify\` reports ${from}'s records missing until they are back under its name. Do not rotate the audit directory externally: the hub rotates it ([audit] max_file_mb, max_files).`));
  }

  /** Opens file `number` and writes its rotate record (the file's first line). */
  private async startFile(number: number, detail: Omit<RotateDetail, 'file'>, flags: 'wx' | 'a'): Promise<void> {
    const name = auditFileName(number);
    const fh = flags === 'wx' ? await open(join(this.dir, name), flags, 0o600) : await openAuditFile(join(this.dir, name), flags);
    this.fh = fh;
    this.fileName = name;
    this.fileNumber = number;
    this.fileSize = (await fh.stat()).size;
    this.rotateBeforeNext = false;
    const full: RotateDetail = { ...detail, file: name };
    if (this.maxFiles !== undefined && number - this.maxFiles + 1 > 1) full.oldestKept = auditFileName(number - this.maxFiles + 1);
    const record = this.buildRecord({
      kind: 'rotate',
      identity: 'hub',
      sessionId: '',
      client: { name: 'snowmux-hub', version: this.hubVersion },
      tool: '',
      queueWaitMs: 0,
      runMs: 0,
      rows: 0,
      bytes: 0,
      outcome: 'ok',
      detail: { ...full } as Record<string, unknown>,
    });
    await this.writeRecord(record);
    if (this.policy !== 'never') {
      const err = await this.syncNow();
      if (err) throw err;
      await syncDir(this.dir);
    }
  }

  private async prune(): Promise<void> {
    if (this.maxFiles === undefined) return;
    const cutoff = this.fileNumber - this.maxFiles;
    if (cutoff < 1) return;
    try {
      for (const file of await listAuditFiles(this.dir)) {
        if (file.number <= cutoff) await unlink(join(this.dir, file.name));
      }
    } catch (err) {
      this.ioError('AUDIT_PRUNE_FAILED', 'Could not delete old audit files beyond maxFiles', err);
    }
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  /** After a failed write or rotation: re-read the directory exactly as a restart would, anchored to what we know. */
  private async recover(): Promise<void> {
    await this.closeFile();
    const report = await this.resume({ seq: this.seq, hash: this.prev });
    this.needsRecovery = false;
    this.counters.recoveries += 1;
    this.notify('recovered', report);
  }

  /**
   * Finds the last complete record, collects torn tails after it, compares with the anchor (audit-head, or
   * the in-memory head during recovery) and positions the writer — starting a new file when anything
   * must be acknowledged in the chain.
   */
  private async resume(memory: Anchor | undefined): Promise<AuditOpenReport> {
    await this.checkPlace();
    if (this.root !== undefined) await mkdirBelow(this.root, this.dir, 0o700);
    else await mkdirParents(this.dir, 0o700);
    const warnings: string[] = [];
    // A directory another user owns or may write: they could rewrite records or plant names written through.
    warnings.push(...(await verifyAuditDir(this.dir)));
    if (this.trustPath) warnings.push(...this.trustPath(this.dir));
    const files = await listAuditFiles(this.dir);
    const anchor = await this.loadAnchor(memory, warnings);

    const torn: TornTail[] = [];
    let last: { record: AuditRecord; file: AuditFile } | undefined;
    let newestSize = 0;
    for (let i = files.length - 1; i >= 0 && !last; i--) {
      const file = files[i] as AuditFile;
      const path = join(this.dir, file.name);
      const end = await readFileEnd(path);
      if (i === files.length - 1) newestSize = end.size;
      if (end.tail) torn.unshift({ file: file.name, ...end.tail, lineNo: await lineNumberAt(path, end.tail.offset) });
      if (end.lastLine) last = { record: this.parseTailRecord(file.name, end.lastLine.text, warnings), file };
    }
    this.seq = last?.record.seq ?? 0;
    this.prev = last?.record.hash ?? GENESIS_HASH;
    this.durable = { seq: this.seq, hash: this.prev, file: last?.file.name ?? '' };
    this.unsynced = false;
    for (const t of torn) warnings.push(`torn last line in ${t.file} line ${t.lineNo} (${t.bytes} bytes, an unfinished write): left in place and acknowledged by the next record`);

    const behindAnchor = anchor !== undefined && (anchor.seq > this.seq || (anchor.seq === this.seq && anchor.hash !== this.prev));
    if (behindAnchor) {
      warnings.push(`the audit log ends at seq ${this.seq} but the last known head is seq ${anchor.seq}: records were removed or the log was rolled back; recorded in the chain`);
    }

    const newest = files[files.length - 1];
    const report: AuditOpenReport = { file: '', lastSeq: this.seq, created: newest === undefined, torn, warnings };
    if (torn.length > 0 || behindAnchor) {
      // A missing durable record outranks crash residue: verify flags every head_mismatch record.
      const reason: RotateDetail['reason'] = behindAnchor ? 'head_mismatch' : 'torn_tail';
      // A newest file left empty (its rotate record could not be written: the disk was still full) is
      // reused, not followed by another: each failed append while the disk stays full made one more file.
      const reuse = newest !== undefined && newestSize === 0 && newest.number > 1;
      const previous = reuse ? files[files.length - 2] : newest;
      const detail: Omit<RotateDetail, 'file'> = { reason, previousFile: previous?.name ?? '' };
      if (torn.length > 0) detail.torn = torn.map(({ file, offset, bytes, sha256 }) => ({ file, offset, bytes, sha256 }));
      if (behindAnchor) Object.assign(detail, { head: { seq: anchor.seq, hash: anchor.hash }, lastSeq: this.seq });
      await this.startFile(reuse ? newest.number : (newest?.number ?? 0) + 1, detail, reuse ? 'a' : 'wx');
      report.startedFile = { file: this.fileName, reason };
      await this.prune();
    } else if (newest === undefined) {
      this.fh = await openAuditFile(join(this.dir, auditFileName(1)), 'a');
      this.fileName = auditFileName(1);
      this.fileNumber = 1;
      this.fileSize = 0;
      if (this.policy !== 'never') await syncDir(this.dir);
    } else if (newestSize === 0 && newest.number > 1) {
      // Crash between creating a file and writing its rotate record: give it that record now.
      const before = files[files.length - 2];
      await this.startFile(newest.number, { reason: 'resume', previousFile: before?.name ?? '' }, 'a');
      report.startedFile = { file: this.fileName, reason: 'resume' };
    } else {
      this.fh = await openAuditFile(join(this.dir, newest.name), 'a');
      this.fileName = newest.name;
      this.fileNumber = newest.number;
      this.fileSize = newestSize;
      this.rotateBeforeNext = newestSize >= this.maxFileBytes;
    }
    report.file = this.fileName;
    return report;
  }

  private async loadAnchor(memory: Anchor | undefined, warnings: string[]): Promise<Anchor | undefined> {
    const head = await readHead(this.dir);
    if (head.state === 'unreadable') warnings.push(`audit-head is unreadable (${head.reason}); truncation of the log tail cannot be checked against it`);
    const fromFile = head.state === 'ok' ? { seq: head.head.seq, hash: head.head.hash } : undefined;
    if (!memory || memory.seq === 0) return fromFile;
    if (!fromFile) return memory;
    return fromFile.seq > memory.seq ? fromFile : memory;
  }

  private parseTailRecord(file: string, text: string, warnings: string[]): AuditRecord {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const defect = parsed === undefined ? 'not JSON' : recordShapeDefect(parsed);
    if (defect !== undefined) {
      throw new SnowmuxError('AUDIT_TAIL_CORRUPT', `The last complete line of ${file} in the audit log is not an audit record (${defect}), so the chain cannot be continued. Run \`snowmux audit verify\`, then move the damaged audit directory aside to start a new chain.`);
    }
    const record = parsed as AuditRecord;
    if (computeRecordHash(record as unknown as Record<string, unknown>) !== record.hash) {
      warnings.push(`the last record of ${file} (seq ${record.seq}) does not match its hash: it was edited; continuing the chain from its stored hash (verify reports it)`);
    }
    return record;
  }

  // ---- errors ----

  /**
   * Emits only to existing listeners ('error' without a listener would throw) and keeps a throwing
   * listener from breaking the writer: it becomes a process warning instead of a stuck queue.
   */
  private notify<K extends keyof AuditLogEvents>(event: K, ...args: AuditLogEvents[K]): void {
    if (this.listenerCount(event) === 0) return;
    try {
      (this.emit as (e: K, ...a: AuditLogEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      process.emitWarning(`an audit log '${String(event)}' listener threw: ${errorMessage(err)}`, { code: 'SNOWMUX_AUDIT_LISTENER' });
    }
  }

  private ioError(code: ErrorCode, what: string, err: unknown): SnowmuxError {
    const error = asAuditError(err, code, what);
    this.counters.ioErrors += 1;
    this.notify('error', error);
    return error;
  }

  private fail(error: SnowmuxError, emit = true): AppendResult {
    this.counters.failedAppends += 1;
    if (error.code !== 'AUDIT_CLOSED' && error.code !== 'AUDIT_BAD_ENTRY') {
      this.failing = { since: this.failing?.since ?? new Date(this.clock()).toISOString(), code: error.code, message: error.message };
      this.scheduleProbe();
    }
    if (emit) {
      this.counters.ioErrors += error.code === 'AUDIT_CLOSED' || error.code === 'AUDIT_BAD_ENTRY' ? 0 : 1;
      this.notify('error', error);
    }
    return { ok: false, error };
  }
}

export function asAuditError(err: unknown, code: ErrorCode, what: string): SnowmuxError {
  if (err instanceof SnowmuxError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  // Out of descriptors, the disk and the directory are fine: the advice names what is short.
  const advice = errno === 'EMFILE' || errno === 'ENFILE'
    ? `The hub has too many open files (${errno === 'EMFILE' ? 'its own limit' : 'the system\'s limit'}), most likely from many open connections: raise the limit (ulimit -n, LimitNOFILE=) or limit connections in front of the hub.`
    : 'Check free disk space and permissions of the audit directory.';
  return new SnowmuxError(code, `${what}: ${errorMessage(err)}. ${advice}`, {
    cause: err,
    details: errno ? { errno } : undefined,
  });
}
