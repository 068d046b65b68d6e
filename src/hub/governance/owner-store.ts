/**
 * Who ran which query id (result owners), kept for as long as Snowflake keeps a result (24 h), at most
 * MAX_RESULT_OWNERS, and — on a hub — in a journal in its home (`result-owners.jsonl`), so a restart or a
 * `hub --replace` does not forget them. Forgotten, an owner is "unknown", and an unknown owner used to mean
 * "anyone with an unrestricted role may page it": after a restart, every identity could page every other
 * identity's earlier results by id.
 *
 * What the hub may still not know, it says (gap()): while an owner the hub issued within a result's lifetime
 * may be missing from memory — the journal could not be read or trusted at start, or more ids than the bound
 * were issued within 24 h — an unknown id is refused to everyone (stages/object-policy.ts), since it may be
 * anyone's. Once 24 h have passed since the gap, an unknown id is one this hub did not issue in a result's
 * lifetime (a query run in Snowsight, or one expired), as before.
 *
 * The journal is a file of the hub's own (not a symlink, ours, closed to others, as keys.json): one JSON line
 * per owner, appended before the answer leaves (opened by path each time, so a hub draining after a replace
 * writes where its successor reads), compacted at start and when it holds twice the bound.
 */
import { closeSync, constants, fstatSync, openSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { shellWord } from '../../shell-word.js';
import { takeInPlaceNote, writeInPlaceNote } from './in-place-note.js';
import { ownFileProblem } from './own-file.js';

/**
 * Who ran a query: the identity, and the role its call had. The role is kept because one identity may call
 * under several roles (a role can be given by client name): a result computed under a wider role must not
 * reach a narrower one by paging. So are that role's object rules as they were (EffectiveRole.objectRules):
 * a reload may tighten a role without renaming it, and what it computed before must not page under the new
 * rules. Role and rules are undefined for an owner written by an older replica (Redis).
 */
export interface ResultOwner {
  identity: string;
  role: string | undefined;
  rules?: string | undefined;
}

export const RESULT_OWNERS_FILE = 'result-owners.jsonl';
/**
 * Owners the hub could not append to the journal (a full disk, EIO): how many, first and last when, why. A
 * file of fixed size made at start (while there is room) and then only overwritten in place, so a full disk
 * does not refuse it; the next start reads it, since until those results expire an unknown id may be one.
 */
export const UNWRITTEN_OWNERS_FILE = 'result-owners.unwritten';
const NOTE_WRITES = 'a count of their choosing';
/** How long Snowflake keeps a query's result: an owner older than that names nothing to page. */
export const RESULT_LIFETIME_MS = 24 * 60 * 60_000;
export const MAX_RESULT_OWNERS = 100_000;
/** A line longer than this is not one the hub wrote (ids are at most 200 characters, identities 64). */
const MAX_LINE_CHARS = 4096;
/** Past this the journal is not read (twice the bound of lines, each far below MAX_LINE_CHARS, is ~40 MB at most). */
const MAX_JOURNAL_BYTES = 256 * 1024 * 1024;

export interface OwnerGap {
  /** Until when (ms since the epoch) an unknown id may be an owner the hub forgot. */
  until: number;
  /** Why, as the end of a sentence: "the hub restarted and could not read …". */
  why: string;
}

export interface OwnerStoreOptions {
  /** The hub's home: the journal is kept there. Absent: in memory only (snowmux stdio, tests). */
  home?: string | undefined;
  max?: number;
  now?: () => number;
  /** Told once of a journal that cannot be read, trusted or written (the hub's log and status). */
  warn?: (message: string) => void;
}

interface Entry {
  owner: ResultOwner;
  at: number;
}

export class ResultOwnerStore {
  private readonly entries = new Map<string, Entry>();
  private readonly max: number;
  private readonly now: () => number;
  private readonly warn: (message: string) => void;
  /** The journal; undefined when in memory only, or once it proved unusable. */
  private path: string | undefined;
  private gapUntil = 0;
  private gapWhy = '';
  /** The journal as last read (inode and length), to read what a draining predecessor appended since. */
  private read: { ino: number; dev: number; size: number } | undefined;
  private appended = 0;
  private writeFailed = false;
  /** Owners not written to the journal, as kept in UNWRITTEN_OWNERS_FILE (undefined: none within a lifetime). */
  private unwritten: Unwritten | undefined;

  constructor(opts: OwnerStoreOptions = {}) {
    this.max = opts.max ?? MAX_RESULT_OWNERS;
    this.now = opts.now ?? Date.now;
    this.warn = opts.warn ?? (() => undefined);
    this.path = opts.home === undefined ? undefined : join(opts.home, RESULT_OWNERS_FILE);
    if (this.path !== undefined) this.load(true);
    if (this.path !== undefined) this.loadUnwritten(opts.home!);
  }

  get(queryId: string): ResultOwner | undefined {
    const found = this.fresh(queryId);
    if (found !== undefined || this.path === undefined) return found;
    // A hub being replaced appends the owners of its last calls to the same journal: read what it added.
    this.load(false);
    return this.fresh(queryId);
  }

  set(queryId: string, owner: ResultOwner): void {
    const at = this.now();
    this.put(queryId, { owner, at });
    if (this.path === undefined) return;
    this.append(`${JSON.stringify(lineOf(queryId, owner, at))}\n`);
    if (this.appended > this.max) this.compact();
  }

  /** The owners held now, each with what is left of its result's lifetime (ms): for a team replica to hand to Redis. */
  held(): { queryId: string; owner: ResultOwner; leftMs: number }[] {
    const now = this.now();
    const out: { queryId: string; owner: ResultOwner; leftMs: number }[] = [];
    for (const [queryId, e] of this.entries) {
      const leftMs = e.at + RESULT_LIFETIME_MS - now;
      if (leftMs > 0) out.push({ queryId, owner: e.owner, leftMs });
    }
    return out;
  }

  /** While an unknown id may be an owner this hub issued and forgot: until when, and why. */
  gap(): OwnerGap | undefined {
    return this.gapUntil > this.now() ? { until: this.gapUntil, why: this.gapWhy } : undefined;
  }

  /** For status: how many owners are known, and the gap if any. */
  snapshot(): { known: number; kept: boolean; unknownRefusedUntil?: string; why?: string } {
    const gap = this.gap();
    return { known: this.entries.size, kept: this.path !== undefined, ...(gap ? { unknownRefusedUntil: new Date(gap.until).toISOString(), why: gap.why } : {}) };
  }

  private fresh(queryId: string): ResultOwner | undefined {
    const e = this.entries.get(queryId);
    if (e === undefined) return undefined;
    if (this.now() - e.at >= RESULT_LIFETIME_MS) {
      this.entries.delete(queryId);
      return undefined;
    }
    return e.owner;
  }

  private put(queryId: string, entry: Entry): void {
    this.entries.delete(queryId);
    this.entries.set(queryId, entry);
    while (this.entries.size > this.max) {
      const [oldId, oldest] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldId);
      // An owner dropped for room while its result may still be paged: an unknown id may be it.
      this.noteGap(oldest.at + RESULT_LIFETIME_MS, `more than ${this.max} query results were run within 24 hours, so the hub no longer holds the owner of the oldest of them`);
    }
  }

  private noteGap(until: number, why: string): void {
    if (until <= this.gapUntil) return;
    this.gapUntil = until;
    this.gapWhy = why;
  }

  /**
   * Reads the journal: whole at start (`start`, then compacted), else only what was appended since the last
   * read (the whole file again when it was replaced). A journal that cannot be trusted or read is a gap.
   */
  private load(start: boolean): void {
    const path = this.path!;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // a home no hub ran queries in yet (or a journal removed by its owner)
      if (start) this.distrust(code === 'ELOOP' ? 'is a symbolic link, which snowmux never follows there' : `could not be opened (${code ?? (err as Error).message})`);
      return;
    }
    try {
      const stat = fstatSync(fd);
      const problem = journalProblem(stat);
      if (problem !== undefined) {
        if (start) this.distrust(problem);
        return;
      }
      const same = this.read !== undefined && this.read.ino === stat.ino && this.read.dev === stat.dev;
      if (same && stat.size === this.read!.size) return;
      const from = same && stat.size > this.read!.size ? this.read!.size : 0;
      if (stat.size - from > MAX_JOURNAL_BYTES) {
        if (start) this.distrust(`is larger than ${MAX_JOURNAL_BYTES / 1024 / 1024} MiB, more than the hub ever writes there`);
        return;
      }
      const { bad, bytes } = this.takeLines(fd, from, stat.size);
      this.read = { ino: stat.ino, dev: stat.dev, size: from + bytes };
      // A line the hub did not write (an edit, a crash that cut one short) may have been someone's owner.
      if (bad > 0 && start) this.noteGap(this.now() + RESULT_LIFETIME_MS, `${bad} line(s) of ${path} could not be read, so the owners they held are not known`);
    } finally {
      closeSync(fd);
    }
    if (start) this.compact();
  }

  /**
   * Puts the owners of the whole lines of `fd` from byte `from` to `to` (a line being appended right now is
   * read at the next miss). Returns how many lines were not owners the hub wrote, and the bytes taken.
   */
  private takeLines(fd: number, from: number, to: number): { bad: number; bytes: number; text: string } {
    const buffer = Buffer.alloc(Math.max(0, to - from));
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, from + length);
      if (n === 0) break;
      length += n;
    }
    const whole = buffer.subarray(0, length === 0 ? 0 : buffer.lastIndexOf(0x0a, length - 1) + 1);
    const text = whole.toString('utf8');
    const now = this.now();
    let bad = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const parsed = line.length > MAX_LINE_CHARS ? undefined : parseLine(line);
      if (parsed === undefined) bad += 1;
      else if (now - parsed.at < RESULT_LIFETIME_MS && parsed.at <= now + RESULT_LIFETIME_MS) this.put(parsed.id, { owner: parsed.owner, at: parsed.at });
    }
    return { bad, bytes: whole.length, text };
  }

  /** A journal the hub cannot read or trust: neither read nor written, and every unknown id may be someone's. */
  private distrust(problem: string): void {
    const path = this.path!;
    this.noteGap(this.now() + RESULT_LIFETIME_MS, `the hub started without being able to use ${path}, where it keeps who ran which query (it ${problem})`);
    this.warn(
      `${path}, where the hub keeps who ran which query, ${problem}: the owners of results run before this start are not known, so for 24 hours a result whose owner the hub does not know is paged by no one. ` +
        `Results run from now on are kept in memory only. Remove the file (rm ${shellWord(path)}) and restart the hub (snowmux hub --replace) to keep them across restarts again.`,
    );
    this.path = undefined;
  }

  private append(line: string): void {
    const path = this.path!;
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0), 0o600);
      try {
        const problem = journalProblem(fstatSync(fd));
        if (problem !== undefined) throw new Error(problem);
        writeSync(fd, line);
      } finally {
        closeSync(fd);
      }
      this.appended += 1;
      if (this.writeFailed) {
        this.writeFailed = false;
        this.warn(`${path} is written again.`);
      }
    } catch (err) {
      this.noteUnwritten(err as NodeJS.ErrnoException);
      if (this.writeFailed) return;
      this.writeFailed = true;
      this.warn(`Could not record who ran a query in ${path} (${(err as Error).message}): the hub knows it until it stops, but a restart would forget it (no one else may then page that result).`);
    }
  }

  /**
   * Reads what a previous process could not write (a gap until those results expire, said once), and makes
   * the file its full size now, while there is room, for this process to overwrite in place.
   */
  private loadUnwritten(home: string): void {
    // Without the note, a failed append is this process's warning only, as before.
    takeInPlaceNote(join(home, UNWRITTEN_OWNERS_FILE), NOTE_WRITES, (text) => {
      const found = parseUnwritten(text);
      if (found !== undefined && found.to + RESULT_LIFETIME_MS > this.now()) {
        this.unwritten = found;
        const why = `the hub that ran before this one could not record who ran ${found.records} query(ies) in ${this.path!} (${found.error}) between ${new Date(found.from).toISOString()} and ${new Date(found.to).toISOString()}`;
        this.noteGap(found.to + RESULT_LIFETIME_MS, why);
        this.warn(`${why}: their owners are not known, so until ${new Date(found.to + RESULT_LIFETIME_MS).toISOString()} a result whose owner the hub does not know is paged by no one. Check the disk of the hub's home.`);
      }
      // Kept while its results may still be paged (a restart before they expire says it again); else cleared.
      return this.unwritten ?? { records: 0 };
    });
  }

  /** Counts an owner the journal did not take, where the next start reads it (in place: no new block needed). */
  private noteUnwritten(err: NodeJS.ErrnoException): void {
    const at = this.now();
    this.unwritten = { records: (this.unwritten?.records ?? 0) + 1, from: this.unwritten?.from ?? at, to: at, error: err.code ?? err.message };
    writeInPlaceNote(join(dirname(this.path!), UNWRITTEN_OWNERS_FILE), NOTE_WRITES, this.unwritten);
  }

  /** Rewrites the journal with the owners held now (tmp file and rename: never half a journal). */
  private compact(): void {
    const path = this.path;
    if (path === undefined) return;
    // The old file goes with the rename, and with it any line only it holds: a hub draining after a replace
    // appends there. What it appended since the last read is taken first; what it appends until the rename
    // is read through a descriptor kept on the old file, and carried over after.
    this.load(false);
    const old = this.openRead(path);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      const lines: string[] = [];
      for (const [id, e] of this.entries) lines.push(JSON.stringify(lineOf(id, e.owner, e.at)));
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      let written: Stats;
      try {
        writeSync(fd, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
        written = fstatSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      this.appended = 0;
      this.read = { ino: written.ino, dev: written.dev, size: written.size };
      if (old !== undefined) {
        const late = this.takeLines(old.fd, old.size, fstatSync(old.fd).size);
        if (late.text !== '') this.append(late.text);
      }
    } catch (err) {
      rmSync(tmp, { force: true });
      this.warn(`Could not rewrite ${path} (${(err as Error).message}); it keeps growing until the next start.`);
    } finally {
      if (old !== undefined) closeSync(old.fd);
    }
  }

  /** The journal as last read, opened again (undefined when it is no longer that file, or cannot be opened). */
  private openRead(path: string): { fd: number; size: number } | undefined {
    const read = this.read;
    if (read === undefined) return undefined;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
    } catch {
      return undefined;
    }
    const stat = fstatSync(fd);
    if (stat.ino === read.ino && stat.dev === read.dev) return { fd, size: read.size };
    closeSync(fd);
    return undefined;
  }
}

interface Unwritten {
  records: number;
  from: number;
  to: number;
  error: string;
}

function parseUnwritten(text: string): Unwritten | undefined {
  try {
    const d = JSON.parse(text.trim() || '{}') as Partial<Unwritten>;
    if (typeof d.records !== 'number' || !(d.records > 0) || typeof d.from !== 'number' || typeof d.to !== 'number') return undefined;
    return { records: d.records, from: d.from, to: d.to, error: String(d.error ?? 'unknown error').slice(0, 100) };
  } catch {
    return undefined;
  }
}

function journalProblem(stat: Stats): string | undefined {
  return ownFileProblem(stat, 'owners of their choosing');
}

function lineOf(id: string, owner: ResultOwner, at: number): Record<string, unknown> {
  return { q: id, i: owner.identity, ...(owner.role === undefined ? {} : { r: owner.role }), ...(owner.rules === undefined ? {} : { f: owner.rules }), t: at };
}

function parseLine(line: string): { id: string; owner: ResultOwner; at: number } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) return undefined;
  const { q, i, r, f, t } = o;
  if (typeof q !== 'string' || q === '' || typeof i !== 'string' || typeof t !== 'number' || !Number.isFinite(t)) return undefined;
  if ((r !== undefined && typeof r !== 'string') || (f !== undefined && typeof f !== 'string')) return undefined;
  return { id: q, owner: { identity: i, role: r as string | undefined, ...(f === undefined ? {} : { rules: f as string }) }, at: t };
}
