/**
 * `snowmux stdio` serves without a hub, and its calls are audited all the same: each process keeps its own
 * hash chain under the audit dir's stdio/ (the hub's chain has one writer), and `snowmux audit verify`
 * checks the hub's chain and every stdio chain, naming the one that was altered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startHub, tempHome } from '../helpers/harness.js';

const session = (query: string): string =>
  [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'ci-job', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } },
  ]
    .map((m) => JSON.stringify(m))
    .join('\n') + '\n';

test("snowmux stdio audits its calls in a chain of its own, and audit verify checks it beside the hub's", async (t) => {
  const home = tempHome(t);
  const served = await runCli(['stdio', '--home', home], {}, session('SELECT 42 AS stdio_marker'));
  assert.equal(served.code, 0, served.stderr);
  assert.match(served.stdout, /"id":2/);

  // A home only stdio used: its chain alone is verified (no "hub chain removed" report).
  const alone = await runCli(['audit', 'verify', '--home', home, '--json']);
  assert.equal(alone.code, 0, alone.stdout + alone.stderr);
  assert.equal((JSON.parse(alone.stdout) as { records: number }).records, 3, 'start, the call, stop');

  const chains = readdirSync(join(home, 'audit', 'stdio')).map((d) => join(home, 'audit', 'stdio', d));
  assert.equal(chains.length, 1);
  assert.match(chains[0]!, /stdio\/\d{8}T\d{6}Z-\d+$/);
  const file = join(chains[0]!, 'audit-000001.jsonl');
  const call = readFileSync(file, 'utf8').split('\n').map((l) => (l ? (JSON.parse(l) as Record<string, unknown>) : null)).find((r) => r?.['kind'] === 'tool_call');
  assert.equal(call?.['sql'], 'SELECT 42 AS stdio_marker');
  assert.equal(call?.['tool'], 'execute_query');
  assert.deepEqual(call?.['client'], { name: 'ci-job', version: '1' });

  // With a hub's chain beside it, both are verified and reported per directory.
  const hub = await startHub(t, home);
  await hub.stop();
  const both = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(both.code, 0, both.stdout + both.stderr);
  assert.match(both.stdout, /2 of 2 chains intact/);

  // An edit to the stdio chain is found, in that chain.
  writeFileSync(file, readFileSync(file, 'utf8').replace('SELECT 42 AS stdio_marker', 'SELECT 43 AS stdio_marker'));
  const edited = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(edited.code, 1, edited.stdout);
  assert.match(edited.stdout, new RegExp(`${chains[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\n  audit: 1 file, 3 records, \\d+ problems? found`));
  assert.match(edited.stdout, /1 of 2 chains intact/);
});
