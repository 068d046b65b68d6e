#!/usr/bin/env node
'use strict';
// CommonJS on purpose. The shim (what editors launch, many times a day) is required from a one-file
// CommonJS bundle of its small module graph (dist/shim.cjs, built by esbuild): starting Node's ESM loader
// would add ~20 ms to every editor start, and resolving a dozen files another ~7 ms.
// Other commands load the ESM build. This also runs before anything touches libuv's thread pool, so the
// pool can still be sized: each running DuckDB statement holds a pool thread, and logs and audit need others.
const argv = process.argv.slice(2);
const command = argv[0];
// Node's default action for SIGUSR1 opens its inspector on 127.0.0.1:9229, unauthenticated, for the rest
// of the process's life: any local user could then run code as this one (a hub or shim holds Snowflake
// credentials), and an operator's "USR1 reopens the logs" habit is enough to do it. Any listener replaces
// that action, so one is in place before anything else runs, for every command. The hub also logs it.
let inspectorSignalSaid = false;
process.on('SIGUSR1', () => {
  if (inspectorSignalSaid) return;
  inspectorSignalSaid = true;
  process.stderr.write(`snowmux${command ? ` ${command}` : ''}: SIGUSR1 ignored: snowmux does not open Node's inspector on a signal (anyone on this machine could use it). To debug, start node with --inspect.\n`);
});
// package.json "engines": an older Node ran every command (and `setup` wrote its path into editor configs)
// until something broke far from the cause. Said first, before anything is loaded.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 11)) {
  process.stderr.write(`snowmux: needs Node 20.11 or later; this is Node ${process.versions.node} (${process.execPath}). Install a newer Node (nodejs.org, or nvm install 20), then run snowmux with it.\n`);
  process.exit(1);
}
const { statSync } = require('node:fs');
const { join } = require('node:path');

/** The bundled shim, unless a later `tsc` left it older than the ESM build (then it is stale). */
function cjsShim() {
  const bundle = join(__dirname, '..', 'dist', 'shim.cjs');
  const esm = join(__dirname, '..', 'dist', 'src', 'shim', 'shim.js');
  try {
    return statSync(bundle).mtimeMs >= statSync(esm).mtimeMs ? require(bundle) : null;
  } catch {
    return null;
  }
}

const shim = command === 'shim' ? cjsShim() : null;
if (shim) {
  shim
    .shimCommand(argv.slice(1), { stdout: process.stdout, stderr: process.stderr })
    .catch((err) => {
      process.stderr.write(`snowmux shim: ${err && err.message ? err.message : String(err)}${err && err.code ? ` [${err.code}]` : ''}\n`);
      // As every other command: 2 for a usage error, 1 for anything else.
      process.exit(err && err.code === 'USAGE' ? 2 : 1);
    });
} else {
  if ((command === 'hub' || command === 'stdio') && !process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '8';
  import('../dist/src/cli/main.js').then((m) => m.main(argv));
}
