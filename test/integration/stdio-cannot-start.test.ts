/**
 * A `snowmux stdio` that cannot start (here a config.toml it cannot read) answers each request with why until
 * stdin ends, then exits 1. An editor that closed its end of stdout meanwhile ended it with an uncaught EPIPE:
 * Node's "Unhandled 'error' event" stack trace in the editor's MCP log in place of the reason, and exit 1 for
 * the crash rather than for the config. Now the reason stays the last word and nothing crashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, killAtEnd, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

test('snowmux stdio that cannot start and whose client closed stdout exits 1 with the reason, not an EPIPE crash', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), 'bogus = [\n');
  const proc = spawn(process.execPath, [cliPath, 'stdio', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, proc);
  let stderr = '';
  let said!: () => void;
  const reasonSaid = new Promise<void>((resolve) => (said = resolve));
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (stderr.includes('[CONFIG_INVALID]')) said();
  });
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await reasonSaid;
  // The editor is done reading; its requests still come, then stdin ends.
  proc.stdout.destroy();
  const request = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }) + '\n';
  proc.stdin.write(request(1));
  proc.stdin.end(request(2));
  const [code, signal] = await exited;
  assert.equal(signal, null, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Unhandled|node:events/, stderr);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /Config error/);
});
