/**
 * The lookups the kernel makes to reach a path: every directory searched, with the entry found there,
 * along each symlink's target too. Who may change any of them decides what the path names.
 */
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** One lookup: `entry` was found in directory `dir`. */
export interface PathStep {
  dir: string;
  dirStats: Stats;
  entry: string;
  entryStats: Stats;
}

/** As the kernel's limit (Linux MAXSYMLINKS): past it, the path is a loop. */
const MAX_SYMLINKS = 40;

/**
 * Resolves `path` one name at a time, following symlinks as open() would, and returns each lookup made.
 * Throws what lstat/readlink throw (ENOENT when something changed meanwhile), or ELOOP.
 */
export function pathSteps(path: string): PathStep[] {
  const steps: PathStep[] = [];
  let pending = names(resolve(path));
  let current = '/';
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '.') continue;
    // `current` holds no symlink (each was replaced by its target), so its parent is the real one.
    if (name === '..') {
      current = dirname(current);
      continue;
    }
    const entry = join(current, name);
    const entryStats = lstatSync(entry);
    steps.push({ dir: current, dirStats: statSync(current), entry, entryStats });
    if (!entryStats.isSymbolicLink()) {
      current = entry;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw Object.assign(new Error(`too many symbolic links in ${path}`), { code: 'ELOOP' });
    const target = readlinkSync(entry);
    pending = [...names(target), ...pending];
    if (isAbsolute(target)) current = '/';
  }
  return steps;
}

function names(path: string): string[] {
  return path.split('/').filter((name) => name !== '');
}
