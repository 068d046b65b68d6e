/**
 * Creating a directory inside the snowmux home without ever re-creating the home itself: a hub still
 * starting after its home was removed (a test's temp dir, an uninstall) must fail, not resurrect the
 * directory and leave it behind.
 */
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/**
 * Creates `dir` and the missing directories between `root` and it, one level at a time; `root` must
 * exist (ENOENT otherwise). A `dir` outside `root` is created with its parents, as `mkdir -p` would.
 */
export async function mkdirBelow(root: string, dir: string, mode: number): Promise<void> {
  const rel = relative(root, dir);
  if (rel === '') return;
  if (rel.startsWith('..') || isAbsolute(rel)) {
    await mkdir(dir, { recursive: true, mode });
    return;
  }
  let current = root;
  for (const part of rel.split(sep)) {
    current = join(current, part);
    try {
      await mkdir(current, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
