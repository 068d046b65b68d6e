/** A tools/call the hub's socket refuses before its MCP server sees it still leaves an audit record and shows in status. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { initialize, rawLink, runCli, startHub, tempHome } from '../helpers/harness.js';

test('a malformed tools/call is answered and audited (INVALID_REQUEST), and the chain verifies', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const link = await rawLink(t, join(home, 'hub.sock'));
  await initialize(link);
  const answer = await link.request(7, 'tools/call', { name: 'execute_query', arguments: 'SELECT 1' });
  assert.equal((answer.error as { code: number }).code, -32602);
  // The next call is answered only after the refusal's record was handed to the log (records keep call order).
  await link.request(8, 'tools/call', { name: 'execute_query', arguments: { query: 'SELECT 1' } });
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { recent: { tool: string; outcome: string; errorCode: string | null }[] };
  assert.ok(status.recent.some((c) => c.tool === 'execute_query' && c.outcome === 'refused' && c.errorCode === 'INVALID_REQUEST'), JSON.stringify(status.recent));
  const dir = join(home, 'audit');
  const records = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
  const refused = records.find((r) => r.kind === 'tool_call' && r.errorCode === 'INVALID_REQUEST');
  assert.ok(refused, 'the refused call has an audit record');
  assert.equal(refused.tool, 'execute_query');
  assert.equal(refused.outcome, 'refused');
  assert.deepEqual(refused.request, { arguments: 'SELECT 1' });
  const verify = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});
