/**
 * Whether another user could change what a file snowmux takes settings or credentials from says: the
 * config, Snowflake's connections.toml, a private key or token file, a remote shim's API key file. Such a
 * file can point a login at a host of that user's choosing (the editor's password goes there), swap in a
 * token or key of their own (every query then runs, and is recorded, under their identity), or rewrite the
 * rules. One judgement for all of them, on what was opened (so a swap after the check reads nothing).
 */
import type { Stats } from 'node:fs';
import { closeQuietly, ioProblem, openRegularFile, readOpenedBytes, MAX_SETTINGS_FILE_BYTES } from './bounded-read.js';
import { pathSteps, type PathStep } from './path-steps.js';
import { describeGroup, describeUser } from './account-names.js';

const WRITABLE_BY_OTHERS = 0o002;
const WRITABLE_BY_GROUP = 0o020;
const STICKY = 0o1000;

/** How the file is named in the judgement's sentences. */
export interface TrustedFileLabel {
  /** What the file decides, as the start of a sentence: "Config file /x decides every session's role and profile". */
  what: string;
  /** What to keep elsewhere, in advice: "the config", "the key file". */
  noun: string;
  /** What to do with a file another user owns, after "read it, and ": default, keep what you mean to keep in a file you own. */
  ownerAdvice?: string;
  /**
   * A file another user (not root) owns is refused, with this advice, instead of warned of: for a credential
   * that says who the caller is (an API key file), where the bind-mount case is no reason to trust its owner.
   */
  refuseOtherOwner?: string;
}

/** A file another user could change: `message` says which, how, and what to do. */
export class UntrustedFileError extends Error {
  readonly code = 'EUNTRUSTED';
}

export interface FileTrust {
  /** Why the file must not be used, when another user could change what it says. */
  refuse?: string;
  /** What the owner should know but that does not stop its use (another owner that may be the user's container host; a group). */
  warn: string[];
}

/**
 * Refused: anyone, when others may write the file, or may write without the sticky bit any directory the
 * path goes through (each ancestor of the name, of each symlink's target and of the real file: whoever may
 * rename an entry there can put a tree of their own in its place); another user than us, root or the
 * file's owner, when they own such a directory, or own an entry of a sticky directory every user may
 * write (they may replace their entry). Warned: the file's owner when not us or root (a container's file
 * is bind-mounted from its host user, who runs the container anyway), and a group that may write the file
 * or a directory (with a private group per user, as umask 002 gives, the group is the user alone). Not
 * checked where there are no uids (Windows).
 */
export function fileTrust(path: string, file: Stats, label: TrustedFileLabel, uid = typeof process.getuid === 'function' ? process.getuid() : undefined): FileTrust {
  if (uid === undefined) return { warn: [] };
  const { what } = label;
  if ((file.mode & WRITABLE_BY_OTHERS) !== 0) {
    return { refuse: `${what}, and every user may write it (mode ${(file.mode & 0o777).toString(8)}). Run: chmod o-w ${path}`, warn: [] };
  }
  const warn = new Set<string>();
  if (file.uid !== uid && file.uid !== 0) {
    if (label.refuseOtherOwner !== undefined) return { refuse: `${what}, and it belongs to another user, ${describeUser(file.uid)}, who could change it at any time. ${label.refuseOtherOwner}`, warn: [] };
    warn.add(`${what}, and it belongs to another user, ${describeUser(file.uid)}, who could change it. Unless that user is who runs snowmux (a container's bind mount), read it, and ${label.ownerAdvice ?? 'keep what you mean to keep in a file you own'}: copied as it is, it would keep whatever that user put in it.`);
  }
  if ((file.mode & WRITABLE_BY_GROUP) !== 0) warn.add(`${what}, and its ${describeGroup(file.gid)} may write it (mode ${(file.mode & 0o777).toString(8)}). Unless that group is you alone, run: chmod g-w ${path}`);
  const onPath = pathTrust(path, file, label, uid);
  return onPath.refuse !== undefined ? onPath : { warn: [...warn, ...onPath.warn] };
}

/**
 * The walk alone, for what is not a settings file but must not be swapped either (the audit directory):
 * refused when another user than us, root or the target's owner could replace anything the path goes
 * through (see fileTrust), or when the path no longer names `target` (stats of what was opened or
 * checked); a group that may replace it is warned of.
 */
export function pathTrust(path: string, target: Stats, label: TrustedFileLabel, uid: number): FileTrust {
  const { what, noun } = label;
  const warn = new Set<string>();
  // The target's owner is warned of by the caller; anyone else who could replace it is not the bind-mount case.
  const trusted = (owner: number) => owner === uid || owner === 0 || owner === target.uid;
  let steps: PathStep[];
  try {
    steps = pathSteps(path);
  } catch (err) {
    return { refuse: `${what}, and the way to it could not be checked (${ioProblem(err)}): it changed while it was read, or a directory on it cannot be searched. Try again; if it persists, keep ${noun} in a directory of your own.`, warn: [] };
  }
  for (const step of steps) {
    const refuse = stepProblem(step, trusted, noun);
    if (refuse !== undefined) return { refuse: `${what}, and ${refuse}`, warn: [] };
    const { dir, dirStats } = step;
    if ((dirStats.mode & STICKY) === 0 && (dirStats.mode & WRITABLE_BY_GROUP) !== 0) warn.add(`${what}, and the ${describeGroup(dirStats.gid)} of ${dir}, on its path, may replace it (mode ${(dirStats.mode & 0o7777).toString(8)}). Unless that group is you alone, run: chmod g-w ${dir}`);
  }
  // What was opened must be what the checked path names now: a symlink switched to another tree for the
  // open and back for the check would otherwise pass.
  const last = steps.at(-1)?.entryStats;
  if (last === undefined || last.dev !== target.dev || last.ino !== target.ino) {
    return { refuse: `${what}, and it changed while it was read (the path now names another file). Try again; if it persists, someone is switching it: keep ${noun} in a directory of your own.`, warn: [] };
  }
  return { warn: [...warn] };
}

/**
 * Reads a small settings or credential file that only its user can change: a regular file (a FIFO or
 * device neither hangs nor swells the reader), at most `maxBytes`, judged by fileTrust on what was opened.
 * Throws UntrustedFileError when it is refused, else what the read throws (see bounded-read.ts).
 */
export function readTrustedFile(path: string, label: TrustedFileLabel, maxBytes = MAX_SETTINGS_FILE_BYTES): { text: string; bytes: Buffer; warnings: string[]; stat: Stats } {
  const { fd, stat } = openRegularFile(path);
  try {
    const trust = fileTrust(path, stat, label);
    if (trust.refuse !== undefined) throw new UntrustedFileError(trust.refuse);
    // The bytes too, for a reader that must refuse what is not UTF-8 rather than read it changed (a TOML file).
    const bytes = readOpenedBytes(fd, path, maxBytes);
    return { text: bytes.toString('utf8'), bytes, warnings: trust.warn, stat };
  } finally {
    closeQuietly(fd);
  }
}

/** Why another user could replace what this lookup finds, if they could. */
function stepProblem(step: PathStep, trusted: (uid: number) => boolean, noun: string): string | undefined {
  const { dir, dirStats, entry, entryStats } = step;
  const mode = (dirStats.mode & 0o7777).toString(8);
  const sticky = (dirStats.mode & STICKY) !== 0;
  if (!sticky && (dirStats.mode & WRITABLE_BY_OTHERS) !== 0) {
    return `every user may replace it: its path goes through ${dir}, which is writable by others without the sticky bit (mode ${mode}). Run: chmod o-w ${dir}, or keep ${noun} elsewhere.`;
  }
  if (!trusted(dirStats.uid)) {
    return `${dir}, on its path, belongs to another user (uid ${dirStats.uid}), who could replace it. Keep ${noun} in a directory of your own (or root's).`;
  }
  if (sticky && (dirStats.mode & WRITABLE_BY_OTHERS) !== 0 && !trusted(entryStats.uid)) {
    return `${entry}, on its path, belongs to another user (uid ${entryStats.uid}), who may replace it in ${dir} (every user may write there). Keep ${noun}, and any link to it, in a directory of your own.`;
  }
  return undefined;
}
