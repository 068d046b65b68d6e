/**
 * Reading the small files snowmux takes settings from (config.toml, connections.toml, key and token files)
 * so that a name pointing at something else cannot hang or swell the hub: a FIFO made open() wait for a
 * writer (every editor's call froze with it), and /dev/zero was read until the hub had gigabytes.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

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

/** Reads the opened file as UTF-8, at most `maxBytes` (EFBIG past it: the file grew, or is not settings). */
export function readOpened(fd: number, path: string, maxBytes = MAX_SETTINGS_FILE_BYTES): string {
  const buffer = Buffer.alloc(maxBytes + 1);
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
  }
  if (length > maxBytes) throw refusal('EFBIG', `${path} is larger than ${maxBytes} bytes`);
  return buffer.toString('utf8', 0, length);
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
