/**
 * The `hub_stop` record that closes a `snowmux stdio` audit chain says why the process ended. It said
 * "stdin ended" whatever ended it — a SIGTERM, the editor gone, a client cut for malformed input — so an
 * operator reading the chain could not tell an editor's orderly end from a kill that cancelled calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, killAtEnd, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

function lastRecord(home: string): Record<string, unknown> {
  const root = join(home, 'audit', 'stdio');
  const [chain] = readdirSync(root);
  const records = readFileSync(join(root, chain!, 'audit-000001.jsonl'), 'utf8').split('\n').filter(Boolean);
  return JSON.parse(records.at(-1)!) as Record<string, unknown>;
}

test('snowmux stdio ended by SIGTERM closes its audit chain saying so, not "stdin ended"', async (t) => {
  const home = tempHome(t);
  const proc = spawn(process.execPath, [cliPath, 'stdio', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const initialized = new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
  proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'ed', version: '1' } } }) + '\n');
  await initialized;
  proc.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 143, stderr);
  const stop = lastRecord(home);
  assert.equal(stop['kind'], 'hub_stop');
  assert.equal((stop['detail'] as { reason?: string }).reason, 'snowmux stdio received SIGTERM');
});
