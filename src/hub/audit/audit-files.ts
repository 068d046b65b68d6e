/**
 * The audit directory on disk: file names, the head anchor, and the two ways the files are read
 * (forwards line by line for verification, backwards from the end to resume writing).
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, fstatSync, statSync, type Stats } from 'node:fs';
import { lstat, open, readdir, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SnowmuxError } from '../../errors.js';

export const HEAD_FILE = 'audit-head';
const FILE_PATTERN = /^audit-(\d{6,})\.jsonl$/;
const NEWLINE = 0x0a;

/** Where the hub keeps its audit log unless configured otherwise: `<snowmux home>/audit` (e.g. ~/.snowmux/audit). */
export function defaultAuditDir(snowmuxHome: string): string {
  return join(snowmuxHome, 'audit');
}

export function auditFileName(n: number): string {
  return `audit-${String(n).padStart(6, '0')}.jsonl`;
}

export function auditFileNumber(name: string): number | undefined {
  const m = FILE_PATTERN.exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Where `snowmux stdio` processes keep their own chains, one directory each, under the audit dir. */
export const STDIO_CHAINS_DIR = 'stdio';

/** This process's chain directory under the audit dir: `stdio/<UTC time>-<pid>`, sorting by start. */
export function stdioChainSubdir(now = new Date(), pid = process.pid): string {
  return join(STDIO_CHAINS_DIR, `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${pid}`);
}

/** The chain directories `snowmux stdio` processes left under `dir` (none when there are none), oldest first. */
export async function stdioChainDirs(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(dir, STDIO_CHAINS_DIR), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isDirectory()).map((e) => join(dir, STDIO_CHAINS_DIR, e.name)).sort();
}

export interface AuditFile {
  name: string;
  number: number;
}

/** Audit files in chain order (by number). Other names in the directory are ignored. */
export async function listAuditFiles(dir: string): Promise<AuditFile[]> {
  const names = await readdir(dir);
  const files: AuditFile[] = [];
  for (const name of names) {
    const number = auditFileNumber(name);
    if (number !== undefined) files.push({ name, number });
  }
  return files.sort((a, b) => a.number - b.number);
}

/**
 * Opening a FIFO waits for its other end, for ever: an `audit-000087.jsonl` made with mkfifo hung the hub's
 * start and `audit verify` (a cron verify then reports nothing). So the open never waits (O_NONBLOCK, which
 * a regular file ignores) and what it opened must be a regular file, else it is closed and refused at once.
 * Windows has no FIFOs of this kind, nor the flag.
 */
const NONBLOCK = fsConstants.O_NONBLOCK ?? 0;
// O_NOFOLLOW: an audit file that is a symbolic link is refused, never followed. Planted by someone who may
// write in the directory, it would send the chain's records into a file of the user's elsewhere (and verify
// would read that file as the log).
const NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
const READ_FLAGS = fsConstants.O_RDONLY | NONBLOCK | NOFOLLOW;
const APPEND_FLAGS = fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | NONBLOCK | NOFOLLOW;

/**
 * Opens an audit file, or audit-head, to read ('r') or append ('a'; created 0600 when absent). Throws
 * AUDIT_OPEN_FAILED, naming the file and what to do, when it is not a regular file (a FIFO, a socket, a
 * device, a directory, a symbolic link, which is not followed): `details.fileType` says what it is.
 */
export async function openAuditFile(path: string, flags: 'r' | 'a'): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, flags === 'r' ? READ_FLAGS : APPEND_FLAGS, 0o600);
  } catch (err) {
    // A FIFO nobody reads refuses a non-blocking open for writing.
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw notRegularFile(path, 'a FIFO (named pipe)');
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw notRegularFile(path, 'a symbolic link');
    throw err;
  }
  const st = await fh.stat().catch(async (err: unknown) => {
    await fh.close();
    throw err;
  });
  if (st.isFile()) return fh;
  await fh.close();
  throw notRegularFile(path, fileType(st));
}

function fileType(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function notRegularFile(path: string, type: string): SnowmuxError {
  return new SnowmuxError(
    'AUDIT_OPEN_FAILED',
    `${path} is ${type}, not a regular file: the hub never makes one, and reading or appending to it would wait for ever. Move it out of the audit directory (keep it if it may be evidence), then start the hub or run \`snowmux audit verify\` again.`,
    { details: { path, fileType: type } },
  );
}

/** Whether `err` is openAuditFile's refusal of a file that is not a regular file. */
export function isNotRegularFile(err: unknown): err is SnowmuxError {
  return err instanceof SnowmuxError && typeof err.details?.['fileType'] === 'string';
}

/**
 * A hub's side file for the records it holds while another hub still writes the chain (a take-over):
 * `held-<ms since the epoch, 13 digits>-<pid>-<start ticks or x>.jsonl`. One audit entry per line, not
 * chained; names sort by when the hub began to hold, the order in which they are chained in.
 */
const HELD_PATTERN = /^held-(\d{13,})-(\d+)-(\d+|x)\.jsonl$/;

export interface HeldFile {
  name: string;
  pid: number;
  /** The holder's start time (ticks), where known: with the pid it names one process. */
  started: string | undefined;
}

export function heldFileName(now: number, pid: number, startTicks: string | null): string {
  return `held-${String(now).padStart(13, '0')}-${pid}-${startTicks ?? 'x'}.jsonl`;
}

/** Side files of holding hubs in `dir`, oldest first. */
export async function listHeldFiles(dir: string): Promise<HeldFile[]> {
  const files: HeldFile[] = [];
  for (const name of await readdir(dir)) {
    const m = HELD_PATTERN.exec(name);
    if (m) files.push({ name, pid: Number(m[2]), started: m[3] === 'x' ? undefined : m[3] });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The entries of a side file, in order, and how many lines were not whole entries (a write cut short by a
 * crash or a full disk). Opened without following a symlink, and only as a regular file: a FIFO planted
 * under the name would block the hub's start.
 */
export async function readHeldFile(path: string): Promise<{ entries: Record<string, unknown>[]; broken: number }> {
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  let text: string;
  try {
    if (!(await fh.stat()).isFile()) throw new SnowmuxError('AUDIT_DIR_UNSAFE', `${path} is not a regular file; move it out of the audit directory.`);
    text = await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
  const entries: Record<string, unknown>[] = [];
  let broken = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { kind?: unknown }).kind === 'string') entries.push(parsed as Record<string, unknown>);
      else broken += 1;
    } catch {
      broken += 1;
    }
  }
  return { entries, broken };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The anchor: the last record known to be durable, rewritten atomically (tmp + rename) from time to time
 * and on close. It lets verify notice a log whose tail was cut off (see docs/audit.md for what it buys).
 */
export interface AuditHead {
  seq: number;
  hash: string;
  file: string;
  ts: string;
}

export type HeadRead = { state: 'absent' } | { state: 'unreadable'; reason: string } | { state: 'ok'; head: AuditHead };

export async function readHead(dir: string): Promise<HeadRead> {
  let text: string;
  try {
    const fh = await openAuditFile(join(dir, HEAD_FILE), 'r');
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    return { state: 'unreadable', reason: (err as Error).message };
  }
  try {
    const parsed = JSON.parse(text) as Partial<AuditHead>;
    if (typeof parsed.seq === 'number' && typeof parsed.hash === 'string' && typeof parsed.file === 'string') {
      return { state: 'ok', head: { seq: parsed.seq, hash: parsed.hash, file: parsed.file, ts: String(parsed.ts ?? '') } };
    }
    return { state: 'unreadable', reason: 'missing seq, hash or file' };
  } catch {
    return { state: 'unreadable', reason: 'not JSON' };
  }
}

/** The temp file a writer of audit-head uses while it rewrites the anchor (one name per process). */
const HEAD_TEMP = new RegExp(`^${HEAD_FILE}\\.(\\d+)\\.tmp$`);

/**
 * Removes the audit-head temp files of writers that are gone: a hub killed between writing its temp file and
 * renaming it left one behind, one more for every such kill. A live writer's (a hub taking over from another
 * that still runs) is kept. Returns the names removed.
 */
export async function removeDeadWritersHeadTemps(dir: string, live: (pid: number) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const pid = Number(HEAD_TEMP.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(pid) || pid === process.pid || live(pid)) continue;
    // unlink removes the name, never what a symlink planted there points at.
    if (await unlink(join(dir, name)).then(() => true, () => false)) removed.push(name);
  }
  return removed;
}

export async function writeHead(dir: string, head: AuditHead, durable: boolean): Promise<void> {
  // One temp name per writer: a hub taken over and its successor may both rewrite the anchor for a moment,
  // and a shared name made one's rename fail (ENOENT) after the other's.
  const tmp = join(dir, `${HEAD_FILE}.${process.pid}.tmp`);
  // Created anew, never opened as found: a name planted there (a symlink to a file of the hub user's) would
  // be truncated and written through. A leftover is unlinked (the link, not its target), then 'wx'
  // (O_CREAT|O_EXCL, which follows no symlink) fails rather than use anything put back meanwhile.
  await unlink(tmp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(`${JSON.stringify(head)}\n`);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, HEAD_FILE));
  } catch (err) {
    // A full disk must not leave a temp file per attempt: the anchor is as it was, and the next write retries.
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

const WRITABLE_BY_GROUP = 0o020;
const WRITABLE_BY_OTHERS = 0o002;
const STICKY = 0o1000;

/**
 * Throws AUDIT_DIR_UNSAFE unless the audit directory (through a symlink, the directory it names) is a
 * directory of the hub user that no other user may write: whoever may write or owns it can rewrite every
 * record, and plant a name (a symlink as the next file) the hub would write through. A group that may
 * write it is returned as a warning (with a private group per user, as umask 002 gives, it is the user
 * alone). Not checked where there are no uids (Windows). Called after the directory is created.
 */
export async function verifyAuditDir(dir: string): Promise<string[]> {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  // Through a symlink, what counts is the directory the records land in: its target, named in the fix.
  const real = (await lstat(dir)).isSymbolicLink() ? await realpath(dir) : dir;
  const st = await stat(real);
  const what = real === dir ? `The audit directory ${dir}` : `The audit directory ${dir} (a symbolic link to ${real})`;
  const fix = `Use a directory of your own, closed to others ([audit] dir in config.toml), or fix this one: chown $(id -u) ${real} && chmod 700 ${real}.`;
  if (!st.isDirectory()) throw new SnowmuxError('AUDIT_DIR_UNSAFE', `${what} is not a directory. Point [audit] dir at a directory, or remove what is there.`);
  if (uid === undefined) return [];
  if (st.uid !== uid) {
    throw new SnowmuxError('AUDIT_DIR_UNSAFE', `${what} belongs to another user (uid ${st.uid}), who could delete or rewrite every record and plant names the hub writes through. ${fix}`);
  }
  const mode = (st.mode & 0o7777).toString(8);
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0) {
    throw new SnowmuxError('AUDIT_DIR_UNSAFE', `${what}: other users may write it (mode ${mode}), so they could delete or rewrite records and plant names the hub writes through. Run: chmod 700 ${real}`);
  }
  if ((st.mode & WRITABLE_BY_GROUP) !== 0) return [`${what}: its group (gid ${st.gid}) may write it (mode ${mode}). Unless that group is the hub user alone, run: chmod 700 ${real}`];
  return [];
}

/**
 * Before the audit directory (or any level of it) is made: checked as verifyAuditDir checks it when it is
 * there; when it is not, the nearest directory above it that is — what would hold the new levels — must be
 * the user's or root's, and not writable by others without the sticky bit. A directory made first and
 * refused after was left behind, empty, in the very place judged unsafe. Returns the directory that exists
 * (the audit directory, or the one the new levels go in) for the walk of its path.
 */
export async function verifyAuditDirPlace(dir: string): Promise<string> {
  let at = dir;
  for (;;) {
    try {
      await stat(at);
      break;
    } catch (err) {
      const parent = dirname(at);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) return at;
      at = parent;
    }
  }
  if (at === dir) {
    await verifyAuditDir(dir);
    return dir;
  }
  const st = await stat(at);
  const what = `The audit directory ${dir} does not exist yet and would be made in ${at}`;
  const fix = `Use a directory of your own, closed to others ([audit] dir in config.toml), or make ${dir} yourself (mode 700) where only you can write.`;
  if (!st.isDirectory()) return at; // mkdir says it: ENOTDIR
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid === undefined) return at;
  if (st.uid !== uid && st.uid !== 0) {
    throw new SnowmuxError('AUDIT_DIR_UNSAFE', `${what}, which belongs to another user (uid ${st.uid}), who could move the new directory aside and put one of theirs in its place. Nothing was created. ${fix}`);
  }
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0 && (st.mode & STICKY) === 0) {
    throw new SnowmuxError('AUDIT_DIR_UNSAFE', `${what}, which other users may write without the sticky bit (mode ${(st.mode & 0o7777).toString(8)}), so they could move the new directory aside and put one of theirs in its place. Nothing was created. Run: chmod o-w ${at}, or: ${fix}`);
  }
  return at;
}

/**
 * False when the open audit file is no longer what `dir/name` names: it, or the whole directory, was
 * removed (a tmp cleaner, a cleanup script) or replaced. Appends to it would still succeed, into a file
 * no one can read again, so the writer must treat this like a failed write and recover (recreate the
 * directory, chain a note). One fstat and one stat: cheap enough for the once-a-second head rewrite.
 */
export async function stillNamed(fh: FileHandle, dir: string, name: string): Promise<boolean> {
  const opened = await fh.stat();
  if (opened.nlink === 0) return false;
  try {
    const named = await stat(join(dir, name));
    return named.dev === opened.dev && named.ino === opened.ino;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
}

/** Make a created/renamed/removed directory entry durable. Best effort where directories cannot be synced. */
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw err;
  } finally {
    await fh?.close();
  }
}

export interface FileLine {
  /** 1-based line number. */
  lineNo: number;
  /** Byte offset of the line's first byte. */
  offset: number;
  text: string;
}

/** Bytes after the last newline of a file: a write that never completed (or something appended by hand). */
export interface UnterminatedTail {
  lineNo: number;
  offset: number;
  bytes: number;
  sha256: string;
}

/**
 * Reads a file forwards, yielding newline-terminated lines; the unterminated remainder, if any, is passed to
 * `onTail` at the end. Streams in chunks so a large file is never held whole.
 */
export async function* readLines(path: string, onTail: (tail: UnterminatedTail) => void): AsyncGenerator<FileLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  let offset = 0; // offset of the first pending byte
  const fh = await openAuditFile(path, 'r');
  // The stream closes the handle when it ends or is destroyed (a consumer that stops early).
  for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      const lineBytes = pendingBytes === 0 ? piece : Buffer.concat([...pending, piece]);
      lineNo += 1;
      yield { lineNo, offset, text: lineBytes.toString('utf8') };
      offset += lineBytes.length + 1;
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      pending.push(rest);
      pendingBytes += rest.length;
    }
  }
  if (pendingBytes > 0) {
    const raw = Buffer.concat(pending);
    onTail({ lineNo: lineNo + 1, offset, bytes: raw.length, sha256: sha256Hex(raw) });
  }
}

export interface FileEnd {
  size: number;
  /** The last newline-terminated line, if the file has one. */
  lastLine?: { text: string; offset: number };
  /** Bytes after the last newline, if any. */
  tail?: { offset: number; bytes: number; sha256: string };
}

const TAIL_CHUNK = 64 * 1024;

/**
 * Reads a file backwards just far enough to find its last complete line and any unterminated tail. Each
 * chunk is read once and searched where it lies: gathering them into one buffer copied a long tail without a
 * newline again at every chunk (quadratic), and 64 MiB of NULs, which a power loss can leave at a file's
 * end, held the hub's start for ~50 s. The tail is then hashed in chunks, never held whole.
 */
export async function readFileEnd(path: string): Promise<FileEnd> {
  const fh = await openAuditFile(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(TAIL_CHUNK);
    let lastNl = -1;
    let prevNl = -1;
    for (let pos = size; pos > 0 && prevNl === -1; ) {
      const readSize = Math.min(TAIL_CHUNK, pos);
      pos -= readSize;
      const { bytesRead } = await fh.read(buf, 0, readSize, pos);
      for (let i = bytesRead; i > 0; ) {
        const nl = buf.lastIndexOf(NEWLINE, i - 1);
        if (nl === -1) break;
        if (lastNl !== -1) {
          prevNl = pos + nl;
          break;
        }
        lastNl = pos + nl;
        i = nl;
      }
    }
    const end: FileEnd = { size };
    const tailStart = lastNl + 1; // 0 when there is no newline at all
    if (tailStart < size) {
      const hash = createHash('sha256');
      let at = tailStart;
      while (at < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(TAIL_CHUNK, size - at), at);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
      end.tail = { offset: tailStart, bytes: at - tailStart, sha256: hash.digest('hex') };
    }
    if (lastNl !== -1) {
      const line = Buffer.alloc(lastNl - (prevNl + 1));
      let got = 0;
      while (got < line.length) {
        const { bytesRead } = await fh.read(line, got, line.length - got, prevNl + 1 + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      end.lastLine = { text: line.toString('utf8', 0, got), offset: prevNl + 1 };
    }
    return end;
  } finally {
    await fh.close();
  }
}

/** 1-based number of the line starting at `offset` (counts newlines before it). */
export async function lineNumberAt(path: string, offset: number): Promise<number> {
  if (offset <= 0) return 1;
  let count = 0;
  const fh = await openAuditFile(path, 'r');
  for await (const chunk of fh.createReadStream({ start: 0, end: offset - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) count += 1;
  }
  return count + 1;
}

/**
 * The count of records the hub could not write, kept where a stop cannot erase it: `audit-unwritten` beside
 * audit-head, a file of fixed size made when the log opens (while there is space) and then only overwritten
 * in place, so a full disk does not refuse the update (it needs no new block). `afterSeq` is the chain's last
 * record when the latest of them failed: a chain that ends there has no `records_unwritten` note for them yet.
 */
export const UNWRITTEN_FILE = 'audit-unwritten';
const UNWRITTEN_BYTES = 1024;

export interface UnwrittenState {
  records: number;
  afterSeq: number;
  from: string;
  to: string;
  codes: string[];
  kinds: Record<string, number>;
}

/** Opens (creating, sized and fsynced) the state file for in-place updates. Refuses anything but a regular file. */
export async function openUnwrittenState(dir: string): Promise<FileHandle> {
  const fh = await open(join(dir, UNWRITTEN_FILE), fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW | NONBLOCK, 0o600);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegularFile(join(dir, UNWRITTEN_FILE), fileType(st));
    if (st.size !== UNWRITTEN_BYTES) {
      const text = st.size > 0 ? await fh.readFile('utf8') : '';
      const kept = parseUnwritten(text);
      await fh.truncate(0);
      await fh.write(encodeUnwritten(kept), 0, UNWRITTEN_BYTES, 0);
      await fh.sync();
    }
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Overwrites the state in place (no allocation), and fsyncs it: it is written only while records fail. */
export async function writeUnwrittenState(fh: FileHandle, state: UnwrittenState | undefined): Promise<void> {
  await fh.write(encodeUnwritten(state), 0, UNWRITTEN_BYTES, 0);
  await fh.sync();
}

/** What the state file says, or undefined (absent, empty, unreadable, nothing pending). */
export async function readUnwrittenState(dir: string): Promise<UnwrittenState | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(join(dir, UNWRITTEN_FILE), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    const buf = Buffer.alloc(UNWRITTEN_BYTES * 2);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parseUnwritten(buf.toString('utf8', 0, bytesRead));
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

function parseUnwritten(text: string): UnwrittenState | undefined {
  try {
    const d = JSON.parse(text.trim() || '{}') as Partial<UnwrittenState>;
    if (typeof d.records !== 'number' || !(d.records > 0) || typeof d.afterSeq !== 'number') return undefined;
    return {
      records: d.records,
      afterSeq: d.afterSeq,
      from: String(d.from ?? ''),
      to: String(d.to ?? ''),
      codes: Array.isArray(d.codes) ? d.codes.map(String).slice(0, 8) : [],
      kinds: d.kinds !== null && typeof d.kinds === 'object' ? (d.kinds as Record<string, number>) : {},
    };
  } catch {
    return undefined;
  }
}

function encodeUnwritten(state: UnwrittenState | undefined): Buffer {
  let text = JSON.stringify(state ?? { records: 0 });
  if (text.length >= UNWRITTEN_BYTES) text = JSON.stringify({ ...state, codes: state?.codes.slice(0, 1), kinds: {} });
  const buf = Buffer.alloc(UNWRITTEN_BYTES, 0x20);
  buf.write(text, 0, 'utf8');
  buf[UNWRITTEN_BYTES - 1] = NEWLINE;
  return buf;
}

/**
 * How the audit file the hub writes changed under it, found by what the writer knows (its descriptor and
 * the size it wrote), or undefined when it is as the hub left it. Once per write batch, so most often one
 * sync stat of the name (no thread-pool round trip): while the name still leads to the inode the
 * descriptor was last seen to have, that stat's size is the file's. Otherwise the descriptor is stat'ed too.
 * 'truncated' is logrotate's copytruncate (or any cut), 'grown' another writer's bytes, 'moved' a rename
 * with a new file in its place (logrotate's create) or none. A file removed outright (no link left) is left
 * to the anchor's check (stillNamed).
 */
export type ExternalChange = 'truncated' | 'grown' | 'moved';

/** The inode a writer's descriptor had when last stat'ed (a descriptor number reused for another file differs in it, or is the same file). */
let lastSeen: { fd: number; dev: number; ino: number } | undefined;

export function changedUnderWriter(fd: number, path: string, writtenBytes: number): ExternalChange | undefined {
  if (lastSeen?.fd === fd) {
    let named: Stats | undefined;
    try {
      named = statSync(path, { throwIfNoEntry: false });
    } catch {
      named = undefined; // the full check below says what it is
    }
    if (named !== undefined && named.dev === lastSeen.dev && named.ino === lastSeen.ino) {
      return named.size < writtenBytes ? 'truncated' : named.size > writtenBytes ? 'grown' : undefined;
    }
  }
  const opened = fstatSync(fd);
  lastSeen = { fd, dev: opened.dev, ino: opened.ino };
  if (opened.nlink === 0) return undefined;
  if (opened.size < writtenBytes) return 'truncated';
  if (opened.size > writtenBytes) return 'grown';
  try {
    const named = statSync(path);
    return named.dev === opened.dev && named.ino === opened.ino ? undefined : 'moved';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'moved';
    throw err;
  }
}

/** `audit-000001.jsonl.1`, `.2.gz`, `-20260101`…: names an external rotation (logrotate) gives an audit file's copies. */
export function strayAuditCopy(name: string): string | undefined {
  const m = /^(audit-\d{6,}\.jsonl)[.-].+$/.exec(name);
  return m?.[1];
}

/** The entries of `dir` named like external copies of audit files, sorted. */
export async function listStrayCopies(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => strayAuditCopy(name) !== undefined).sort();
}
