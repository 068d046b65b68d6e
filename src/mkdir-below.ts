/**
 * Creating directories one level at a time. Inside the snowmux home, without ever re-creating the home
 * itself: a hub still starting after its home was removed (a test's temp dir, an uninstall) must fail, not
 * resurrect the directory and leave it behind. Anywhere, without Node's `recursive: true`, which spins for
 * ever (sync and async) where a parent cannot be created yet reads as missing (a path under /proc): a hub
 * given such a home or audit dir hung at full CPU instead of saying the path cannot be made.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Creates `dir` and the missing directories between `root` and it, one level at a time; `root` must
 * exist (ENOENT otherwise). A `dir` outside `root` is created with its parents, as `mkdir -p` would.
 */
export async function mkdirBelow(root: string, dir: string, mode: number): Promise<void> {
  const rel = relative(root, dir);
  if (rel === '') return;
  if (rel.startsWith('..') || isAbsolute(rel)) {
    await mkdirParents(dir, mode);
    return;
  }
  let current = root;
  for (const part of rel.split(sep)) {
    current = join(current, part);
    await mkdirOne(current, mode);
  }
}

/** `mkdir -p dir`, one level at a time from the nearest directory that exists. */
export async function mkdirParents(dir: string, mode: number): Promise<void> {
  for (const d of missingLevels(dir)) await mkdirOne(d, mode);
}

/** `mkdir -p dir`, synchronously, one level at a time from the nearest directory that exists. */
export function mkdirParentsSync(dir: string, mode: number): void {
  for (const d of missingLevels(dir)) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** The directories from the nearest existing ancestor of `dir` (exclusive) down to `dir`, outermost first. */
function missingLevels(dir: string): string[] {
  const missing: string[] = [];
  for (let at = resolve(dir); !existsSync(at); at = dirname(at)) {
    missing.push(at);
    if (dirname(at) === at) break;
  }
  return missing.reverse();
}

async function mkdirOne(dir: string, mode: number): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
