/**
 * Quota usage kept in the hub's home (`quota-usage.json`) across a restart or a `hub --replace`: without it a
 * restarted hub gave every identity its whole hourly and daily budget again, and a team replica that started
 * while Redis was down knew nothing of the team's usage. The hub writes the open windows at most once a
 * second after they change, and when it stops; the file is the user's own, closed to others, never read
 * through a symlink (as keys.json), and written whole (tmp file and rename).
 */
import { closeSync, constants, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readOpened } from '../../wire/bounded-read.js';
import type { KeptWindow } from '../guard/quota.js';
import { takeInPlaceNote, writeInPlaceNote } from './in-place-note.js';
import { ownFileProblem } from './own-file.js';

export const QUOTA_USAGE_FILE = 'quota-usage.json';
/**
 * That quota-usage.json could not be written (a full disk, EIO) since when, until when, and why: what the next
 * start restores is then older than the usage the hub counted, and it says so. A file of fixed size made when
 * the hub starts keeping usage (while there is room) and then only overwritten in place, so a full disk does
 * not refuse it (as result-owners.unwritten); cleared once usage is written again.
 */
export const QUOTA_UNWRITTEN_FILE = 'quota-usage.unwritten';

/** Quota usage the hub could not write: the first and last failed write (ms since the epoch), and why. */
export interface QuotaUnwritten {
  since: number;
  to: number;
  error: string;
}
/** Far above what MAX_HOLDERS windows take (a few hundred bytes each). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export function quotaUsagePath(home: string): string {
  return join(home, QUOTA_USAGE_FILE);
}

/** The windows kept, or why the file could not be used (then nothing is taken from it). */
export function readKeptQuotas(path: string): { windows: KeptWindow[] } | { problem: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { windows: [] };
    return { problem: code === 'ELOOP' ? 'is a symbolic link, which snowmux never follows there' : `could not be opened (${code ?? (err as Error).message})` };
  }
  try {
    const problem = ownFileProblem(fstatSync(fd), 'any usage');
    if (problem !== undefined) return { problem };
    let data: unknown;
    try {
      data = JSON.parse(readOpened(fd, path, MAX_FILE_BYTES));
    } catch (err) {
      return { problem: `could not be read (${(err as Error).message})` };
    }
    const list = (data as { windows?: unknown } | null)?.windows;
    if (!Array.isArray(list)) return { problem: 'does not hold a list of windows' };
    return { windows: list.filter(isKeptWindow) };
  } finally {
    closeSync(fd);
  }
}

/** Writes the windows whole: a reader sees the earlier file or this one, never half of it. */
export function writeKeptQuotas(path: string, windows: readonly KeptWindow[]): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ version: 1, windows })}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function isUsage(u: unknown): boolean {
  if (typeof u !== 'object' || u === null) return false;
  return ['queries', 'rows', 'bytes'].every((k) => typeof (u as Record<string, unknown>)[k] === 'number');
}

function isKeptWindow(x: unknown): x is KeptWindow {
  const w = x as Partial<KeptWindow> | null;
  return (
    typeof w === 'object' &&
    w !== null &&
    typeof w.identity === 'string' &&
    (w.role === undefined || typeof w.role === 'string') &&
    typeof w.windowMs === 'number' &&
    Number.isInteger(w.windowMs) &&
    w.windowMs >= 1000 &&
    typeof w.windowStart === 'number' &&
    isUsage(w.own) &&
    (w.others === undefined || isUsage(w.others))
  );
}

function unwrittenPath(usagePath: string): string {
  return join(dirname(usagePath), QUOTA_UNWRITTEN_FILE);
}

const NOTE_WRITES = 'a note of their choosing';

/**
 * What the previous process left in quota-usage.unwritten (usage it could not write before it stopped), and
 * the note made its full size and cleared for this process to overwrite in place (in-place-note.ts).
 */
export function takeQuotaUnwritten(usagePath: string): QuotaUnwritten | undefined {
  const text = takeInPlaceNote(unwrittenPath(usagePath), NOTE_WRITES, () => ({}));
  return text === undefined ? undefined : parseUnwritten(text);
}

/** Notes (or, undefined, clears) usage not written, in place: no new block is needed on a full disk. Best effort. */
export function noteQuotaUnwritten(usagePath: string, state: QuotaUnwritten | undefined): void {
  writeInPlaceNote(unwrittenPath(usagePath), NOTE_WRITES, state ?? {});
}

function parseUnwritten(text: string): QuotaUnwritten | undefined {
  try {
    const d = JSON.parse(text.trim() || '{}') as Partial<QuotaUnwritten>;
    if (typeof d.since !== 'number' || typeof d.to !== 'number' || !Number.isFinite(d.since) || !Number.isFinite(d.to)) return undefined;
    return { since: d.since, to: d.to, error: String(d.error ?? 'unknown error').slice(0, 100) };
  } catch {
    return undefined;
  }
}
