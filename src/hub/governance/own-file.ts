/**
 * Whether a state file the hub keeps in its home (result owners, quota usage) is one it may trust: a regular
 * file of its own that others cannot write (what they wrote there would be believed). `writes` ends the
 * sentence: "who could write <writes> in it".
 */
import type { Stats } from 'node:fs';

export function ownFileProblem(stat: Stats, writes: string): string | undefined {
  if (!stat.isFile()) return 'is not a regular file';
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stat.uid !== uid) return `belongs to another user (uid ${stat.uid}), who could write ${writes} in it`;
  if ((stat.mode & 0o022) !== 0) return `may be written by others (mode ${(stat.mode & 0o777).toString(8)}), who could write ${writes} in it`;
  return undefined;
}
