/**
 * The CLI never exits 0 without a verdict: a command whose awaited operation can never settle fails with
 * a message and exit 1 (main.ts), and a network deadline fires even when nothing else keeps the process alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/paths.js';

const dist = (path: string) => pathToFileURL(join(repoRoot, 'dist', 'src', path)).href;

function runScript(source: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a command still waiting when the event loop runs dry exits 1 with a message, not 0 with nothing', () => {
  const r = runScript(`
    import { failWithoutVerdict } from ${JSON.stringify(dist('cli/main.js'))};
    failWithoutVerdict('doctor', { stdout: process.stdout, stderr: process.stderr });
    new Promise(() => {}); // what it waits for keeps nothing alive
  `);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /snowmux doctor: stopped without a result: .* \[INTERNAL_ERROR\]/);
});

test('a command that finished leaves the exit code alone', () => {
  const r = runScript(`
    import { failWithoutVerdict } from ${JSON.stringify(dist('cli/main.js'))};
    const stop = failWithoutVerdict('status', { stdout: process.stdout, stderr: process.stderr });
    stop();
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('withDeadline rejects an operation that never settles, and keeps the process alive until it does', () => {
  const r = runScript(`
    import { withDeadline } from ${JSON.stringify(dist('cli/deadline.js'))};
    const started = Date.now();
    withDeadline(200, (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => {})))
      .then(() => console.log('settled'), (err) => console.log(err.name, err.message, Date.now() - started >= 190));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'TimeoutError no answer within 200 ms true');
});
