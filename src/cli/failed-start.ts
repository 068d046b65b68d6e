/**
 * Why the last hub an editor's shim started here stopped on an error, from the log the shim gives it
 * (hub-stderr.log): `snowmux status` says it next to "no hub is running", where the person looks, instead
 * of leaving them to find the file. Only the tail is read; a start that reached "listening on" after the
 * error is not a failure any more.
 */
import { closeSync, constants, fstatSync, readSync } from 'node:fs';
import { openStateFile } from '../wire/bounded-read.js';
import { join } from 'node:path';

const TAIL_BYTES = 16 * 1024;
const ERROR_PREFIX = 'snowmux hub: ';
/** How the CLI ends the line of the error a command stopped on (`snowmux hub: … [CODE]`); its notices have none. */
const FATAL = /^snowmux hub: .* \[[A-Z][A-Z0-9_]*\]$/;

export interface FailedStart {
  /** The hub's last error line, without its prefix. */
  reason: string;
  log: string;
  /** When the log was last written. */
  at: Date;
}

export function lastFailedStart(home: string): FailedStart | undefined {
  const log = join(home, 'hub-stderr.log');
  let fd: number;
  try {
    ({ fd } = openStateFile(log, constants.O_RDONLY)); // never blocking `status` on a FIFO there
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const length = Math.min(TAIL_BYTES, st.size);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, st.size - length);
    const lines = buf.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const error = lines.findLastIndex((l) => FATAL.test(l));
    if (error < 0 || lines.slice(error + 1).some((l) => l.includes('listening on'))) return undefined;
    return { reason: lines[error]!.slice(ERROR_PREFIX.length), log, at: st.mtime };
  } finally {
    closeSync(fd);
  }
}
