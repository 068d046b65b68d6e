#!/usr/bin/env node
/**
 * Runs test files under `node --test` inside a temp root of their own, then fails the run on what the tests
 * left behind there: a snowmux process (hub or shim) whose home is under the root, or any file or directory;
 * and on any new file in the working directory (the checkout), where no test may write.
 * Leftover processes are ended and the root is removed, so a failed run leaves nothing either.
 *
 * Why a root per run: the tests make their homes with mkdtemp under os.tmpdir(). Judging leftovers by name
 * in the shared /tmp took every new `smx-*` directory for this run's, so two runs at once (two checkouts, a
 * developer and a helper) deleted each other's homes while their hubs used them. Under TMPDIR=<root> a run
 * sees only its own. The root is mode 1777 like /tmp: some tests run a command as another user, who must
 * reach the homes they are given.
 *
 * Usage: node tools/run-tests.mjs <test files…>
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('run-tests: no test files given');
  process.exit(2);
}
const cli = join(dirname(dirname(fileURLToPath(import.meta.url))), 'bin', 'snowmux.js');
// Not named smx-…: the leftover check of older checkouts deleted every new /tmp/smx-* directory.
const root = mkdtempSync(join(tmpdir(), 'smxrun-'));
chmodSync(root, 0o1777);

// The tests run in this directory (the checkout, under npm): anything new in it afterwards was written by a
// test that forgot its home (a logger with no home wrote hub.log here).
const workDir = process.cwd();
const before = new Set(readdirSync(workDir));

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: root },
});
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise((done) => child.on('exit', (status, signal) => done(status ?? (signal ? 1 : 0))));

/** snowmux processes of this checkout whose --home lies under the root; null where there is no /proc. */
function leftoverProcesses() {
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const found = [];
  for (const pid of pids) {
    let args;
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args.includes(cli) || !args.includes('--home')) continue;
    if ((args[args.indexOf('--home') + 1] ?? '').startsWith(root + '/')) found.push({ pid: Number(pid), command: args.join(' ').trim() });
  }
  return found;
}

let failed = false;
let processes = leftoverProcesses();
if (processes === null) {
  console.log('run-tests: no /proc here; leftover processes not checked');
  processes = [];
}
// A hub whose test home was just removed notices within a second (its socket check) and exits: give the
// processes already on their way out a moment before calling them leftovers.
for (const deadline = performance.now() + 5_000; processes.length > 0 && performance.now() < deadline;) {
  await new Promise((r) => setTimeout(r, 100));
  processes = leftoverProcesses() ?? [];
}
if (processes.length > 0) {
  failed = true;
  console.error(`run-tests: ${processes.length} snowmux process(es) started by the tests are still alive (ended now):`);
  for (const p of processes) {
    console.error(`  ${p.pid} ${p.command}`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
const left = readdirSync(root);
if (left.length > 0) {
  failed = true;
  console.error(`run-tests: ${left.length} temp file(s) or director${left.length === 1 ? 'y' : 'ies'} left behind by the tests (removed now):`);
  for (const name of left) console.error(`  ${join(root, name)}`);
}
rmSync(root, { recursive: true, force: true });
const strays = readdirSync(workDir).filter((name) => !before.has(name));
if (strays.length > 0) {
  failed = true;
  console.error(`run-tests: the tests wrote ${strays.length} new file(s) into the working directory ${workDir} (left for you to look at):`);
  for (const name of strays) console.error(`  ${join(workDir, name)}`);
}
if (!failed) console.log('run-tests: no snowmux process and no temp file left behind by the tests');
process.exit(code !== 0 ? code : failed ? 1 : 0);
