/**
 * `npm run bench`: every bench script in turn, each in its own process (as docs/benchmarks.md runs them),
 * with short default arguments so the whole set finishes in a few minutes. Pass `--full` for the
 * arguments the published figures use.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './lib.js';

const full = process.argv.includes('--full');
const BENCHES: [script: string, quick: string[], published: string[]][] = [
  ['shim-startup.js', ['10'], ['25']],
  ['roundtrip.js', ['500'], ['2000']],
  ['hot-path.js', ['1', '1'], ['3', '3']],
  ['hub-direct.js', ['SELECT 1', '1', '1'], ['SELECT 1', '3', '4']],
  ['duckdb-execute-paths.js', ['1', '1000'], ['3', '3000']],
  ['http.js', ['1', '1'], ['3', '3']],
  ['load.js', ['1', '1,10'], ['3', '1,10,100']],
  ['restart.js', ['2', '10'], ['5', '10,50']],
  ['snowflake-first-result.js', ['3', '500', '1'], ['6', '500', '3']],
  ['metadata-cache.js', ['1', '1', '4'], ['3', '3', '8']],
  ['replicas.js', ['1', '1'], ['3', '3']],
  ['flood.js', ['500'], ['2000']],
];

let failed = 0;
for (const [script, quick, published] of BENCHES) {
  const args = full ? published : quick;
  process.stdout.write(`\n## node dist/bench/${script} ${args.join(' ')}\n\n`);
  const r = spawnSync(process.execPath, [join(root, 'dist', 'bench', script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed += 1;
    process.stdout.write(`(${script} failed: exit ${r.status ?? r.signal})\n`);
  }
}
process.exitCode = failed ? 1 : 0;
