/** Repository paths that work both from test/*.ts (tsx) and dist/test/*.js (compiled). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'tsconfig.json')) === false) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot();
/** The CLI users run: bin/snowmux.js → dist/src/cli/main.js (so `npm run build` must have run). */
export const cliPath = join(repoRoot, 'bin', 'snowmux.js');
