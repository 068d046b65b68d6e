/**
 * Reading the small files snowmux takes settings from (config.toml, connections.toml, key and token files)
 * so that a name pointing at something else cannot hang or swell the hub: a FIFO made open() wait for a
 * writer (every editor's call froze with it), and /dev/zero was read until the hub had gigabytes.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { shellWord } from '../shell-word.js';

/** Far above any real settings file (a config is a few KiB), far below what would hurt the hub. */
export const MAX_SETTINGS_FILE_BYTES = 1024 * 1024;

/** What the read refused, as an errno-like code the callers' reason texts map (see readProblem). */
export type BoundedReadCode = 'ENOTREG' | 'EFBIG';

function refusal(code: BoundedReadCode, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Opens `path` for reading without waiting (O_NONBLOCK: a FIFO opens at once instead of blocking the
 * thread until someone writes) and returns the descriptor with its stat; throws ENOTREG for anything but
 * a regular file (closing it), else what open throws. The caller closes the descriptor.
 */
export function openRegularFile(path: string): { fd: number; stat: Stats } {
  const nonBlocking = constants.O_NONBLOCK ?? 0;
  const fd = openSync(path, constants.O_RDONLY | nonBlocking);
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeQuietly(fd);
    if (stat.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    throw refusal('ENOTREG', `${path} is not a regular file`);
  }
  return { fd, stat };
}

/**
 * Opens one of the files snowmux keeps in its home (a lock, a pid file, a log, the sample database) with
 * `flags` without ever waiting: O_NONBLOCK makes a FIFO open at once (or fail, ENXIO, for writing with no
 * reader) instead of blocking the thread until someone opens its other end — a FIFO at hub-start.lock or
 * hub-stderr.log hung the shim in open(), where not even SIGTERM ended it. Anything but a regular file is
 * refused (closed first): ENOTREG for a FIFO, socket or device, EISDIR for a directory, each with a message
 * naming what it is (stateFileFix says what to do). Otherwise throws what open throws. The caller closes
 * the descriptor.
 */
export function openStateFile(path: string, flags: number, mode = 0o600): { fd: number; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(path, flags | (constants.O_NONBLOCK ?? 0), mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A FIFO (or socket) opened for writing with nobody at the other end: not a file either.
    if (code === 'ENXIO' || code === 'EISDIR' || code === 'EOPNOTSUPP') throw notAFile(path, lstatOrNull(path), err);
    throw err;
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeQuietly(fd);
    throw notAFile(path, stat);
  }
  return { fd, stat };
}

/** Reads a small state file whole (at most `maxBytes`), refusing what is not a regular file (see openStateFile). */
export function readStateFile(path: string, maxBytes = 64 * 1024): string {
  const { fd } = openStateFile(path, constants.O_RDONLY);
  try {
    return readOpened(fd, path, maxBytes);
  } finally {
    closeQuietly(fd);
  }
}

/** Whether `err` is openStateFile's refusal of something that is not a regular file. */
export function isNotAFile(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOTREG' || code === 'EISDIR';
}

/** What to do about a state file's name taken by something else. */
export function stateFileFix(path: string): string {
  return `snowmux never makes one there, and does not wait on it: check what it is (ls -l ${shellWord(path)}), remove it (rm -r ${shellWord(path)}), and start again.`;
}

function notAFile(path: string, stat: Stats | null, cause?: unknown): NodeJS.ErrnoException {
  if (stat?.isDirectory()) return Object.assign(new Error(`${path} is a directory, not a file`, { cause }), { code: 'EISDIR' });
  const kind = stat === null ? 'not a regular file' : stat.isFIFO() ? 'a FIFO (named pipe), not a file' : stat.isSocket() ? 'a socket, not a file' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device, not a file' : 'not a regular file';
  return refusalWithCause('ENOTREG', `${path} is ${kind}`, cause);
}

function refusalWithCause(code: BoundedReadCode, message: string, cause: unknown): NodeJS.ErrnoException {
  return Object.assign(new Error(message, { cause }), { code });
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** Reads the opened file as UTF-8, at most `maxBytes` (EFBIG past it: the file grew, or is not settings). */
export function readOpened(fd: number, path: string, maxBytes = MAX_SETTINGS_FILE_BYTES): string {
  return readOpenedBytes(fd, path, maxBytes).toString('utf8');
}

/** The opened file's bytes, at most `maxBytes` (EFBIG past it), for a reader that judges their encoding itself. */
export function readOpenedBytes(fd: number, path: string, maxBytes = MAX_SETTINGS_FILE_BYTES): Buffer {
  const buffer = Buffer.alloc(maxBytes + 1);
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
  }
  if (length > maxBytes) throw refusal('EFBIG', `${path} is larger than ${maxBytes} bytes`);
  return buffer.subarray(0, length);
}

/** The reason text for a refusal of this module, undefined for any other error. */
export function readProblem(err: unknown, maxBytes = MAX_SETTINGS_FILE_BYTES): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOTREG') return 'it is not a regular file (a FIFO, device or socket); point it at the file itself';
  if (code === 'EFBIG') return `it is larger than ${maxBytes / 1024} KiB, more than any settings file; point it at the right file`;
  return undefined;
}

/** Why a settings file could not be read, in words (permission, a directory, this module's refusals, else the errno). */
export function ioProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return readProblem(err) ?? code ?? 'read failed';
}

/** Closes a descriptor whose close cannot fail in a way the reader could act on. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* nothing to do */
  }
}
