#!/usr/bin/env node
/**
 * Runs after the test suite: fails it when a snowmux process the tests started (a hub or shim whose home is
 * a test temp home, `<tmp>/smx-*`) is still alive, and ends those processes so they do not outlive the run.
 * Linux only (reads /proc); elsewhere it says so and passes.
 */
import { readdirSync, readFileSync } from 'node:fs';
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
if (leftovers.length === 0) {
  console.log('check-leftovers: no snowmux process left behind by the tests');
  process.exit(0);
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
