/**
 * The audit directory's path, walked as the config file's is (wire/file-trust.ts): a directory above it
 * that every user may write without the sticky bit, or that another user owns (root excepted), lets them
 * move the trail aside and put a directory of theirs where later records and `audit verify` go. The audit
 * log checks the directory itself (owner, mode); it imports nothing but errors, so the hub gives it this.
 */
import { statSync } from 'node:fs';
import { SnowmuxError } from '../errors.js';
import { pathTrust } from '../wire/file-trust.js';

/**
 * Throws AUDIT_DIR_UNSAFE when another user could replace `dir` through its path; returns warnings (a group
 * that could). `madeIn`: `dir` is not there yet and would be made in this directory above it, whose path is
 * walked instead, before anything is made (a directory made first and refused after stayed there, empty).
 */
export function auditDirTrust(dir: string, madeIn?: string): string[] {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid === undefined) return [];
  const target = madeIn ?? dir;
  const what = madeIn === undefined ? `The audit directory ${dir} holds the hub's audit records` : `The audit directory ${dir} does not exist yet and would be made in ${madeIn} (nothing was created)`;
  const onPath = pathTrust(target, statSync(target), { what, noun: 'the audit directory ([audit] dir in config.toml)' }, uid);
  if (onPath.refuse !== undefined) throw new SnowmuxError('AUDIT_DIR_UNSAFE', onPath.refuse);
  return onPath.warn;
}
