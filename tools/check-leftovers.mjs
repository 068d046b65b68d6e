#!/usr/bin/env node
/**
 * Runs after the test suite: fails it when a snowmux process the tests started (a hub or shim whose home is
 * a test temp home, `<tmp>/smx-*`) is still alive, and ends those processes so they do not outlive the run.
 * Linux only (reads /proc); elsewhere it says so and passes.
 *
 * `--before` (run before the suite) notes the test-style temp directories (`<tmp>/smx-*`, `<tmp>/snowmux-*`)
 * that already exist; the run after the suite then also fails on any such directory the tests left behind
 * (and removes it). The per-user runtime directory (`<tmp>/snowmux-<uid>`) is meant to stay.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(dirname(fileURLToPath(import.meta.url))), 'bin', 'snowmux.js');
const testHomes = join(tmpdir(), 'smx-');
function findLeftovers() {
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
    if (!args.includes(cli)) continue;
    const home = args[args.indexOf('--home') + 1] ?? '';
    if (args.includes('--home') && home.startsWith(testHomes)) found.push({ pid: Number(pid), command: args.join(' ').trim() });
  }
  return found;
}

const snapshot = join(dirname(dirname(fileURLToPath(import.meta.url))), 'dist', '.tmp-before.json');
const testDirs = () => readdirSync(tmpdir()).filter((n) => /^(smx|snowmux)-/.test(n) && !/^snowmux-\d+$/.test(n));
if (process.argv.includes('--before')) {
  writeFileSync(snapshot, JSON.stringify(testDirs()));
  process.exit(0);
}

let leftovers = findLeftovers();
if (leftovers === null) {
  console.log('check-leftovers: no /proc here; skipped');
  process.exit(0);
}
// A hub whose test home was just removed notices within a second (its socket check) and exits: give the
// processes that are already on their way out a moment before calling them leftovers.
for (const deadline = Date.now() + 5_000; leftovers.length > 0 && Date.now() < deadline;) {
  await new Promise((r) => setTimeout(r, 100));
  leftovers = findLeftovers();
}
let failed = false;
if (existsSync(snapshot)) {
  const before = new Set(JSON.parse(readFileSync(snapshot, 'utf8')));
  const left = testDirs().filter((n) => !before.has(n));
  if (left.length > 0) {
    failed = true;
    console.error(`check-leftovers: ${left.length} temp director${left.length === 1 ? 'y' : 'ies'} left behind by the tests (removed now):`);
    for (const n of left) {
      console.error(`  ${join(tmpdir(), n)}`);
      rmSync(join(tmpdir(), n), { recursive: true, force: true });
    }
  }
  rmSync(snapshot, { force: true });
}
if (leftovers.length === 0) {
  console.log(`check-leftovers: no snowmux process left behind by the tests${failed ? '' : ', and no temp directory'}`);
  process.exit(failed ? 1 : 0);
}
console.error(`check-leftovers: ${leftovers.length} snowmux process(es) started by the tests are still alive:`);
for (const p of leftovers) {
  console.error(`  ${p.pid} ${p.command}`);
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
process.exit(1);
