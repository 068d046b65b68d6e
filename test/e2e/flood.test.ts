/**
 * A client that floods the hub with requests for large results and never reads the answers: the hub's
 * memory stays bounded (it stops reading that client, and cuts it off once what it owes passes the cap),
 * and other editors are served all along.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, initialize, rawLink, runCli, startHub, tempHome } from '../helpers/harness.js';

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function sessions(home: string): Promise<{ id: string; client: { name: string } | null; calls: number }[]> {
  return (JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { sessions: never[] }).sessions;
}

test('a client that never reads: bounded hub memory, the flooder is stopped, others are served', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmax_result_bytes = 4194304\n\n[limits]\nmax_queued = 100000\nmax_queued_per_session = 100000\nrate = { per_second = 1000000, burst = 1000000 }\n');
  const hub = await startHub(t, home, [], { SNOWMUX_STALLED_OUTPUT_MS: '1000' });
  const editor = await connectClient(t, { home, kind: 'v2-legacy', name: 'bystander' });
  await editor.callTool('execute_query', { query: 'SELECT 1' });
  const baseline = rssMiB(hub.pid);

  const flooder = await rawLink(t, join(home, 'hub.sock'));
  await initialize(flooder, { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'flooder', version: '1' } });
  flooder.socket.pause(); // never reads again
  // 2000 requests, each for a ~2 MB answer (text and structured copies): ~4 GB if the hub buffered them.
  const request = (id: number) => `${JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query: "SELECT repeat('x', 1000000) AS big" } } })}\n`;
  for (let i = 1; i <= 2000; i++) flooder.socket.write(request(i));

  // The flooder stops reading: the hub stops reading it, then cuts it off. Meanwhile memory stays bounded.
  let peak = 0;
  for (;;) {
    peak = Math.max(peak, rssMiB(hub.pid));
    if (!(await sessions(home)).some((s) => s.client?.name === 'flooder')) break;
  }
  peak = Math.max(peak, rssMiB(hub.pid));
  assert.ok(peak - baseline < 400, `hub RSS grew ${Math.round(peak - baseline)} MiB (baseline ${Math.round(baseline)} MiB)`);
  assert.match(readFileSync(join(home, 'hub.log'), 'utf8'), /client does not read its answers; closing the session/);

  // The bystander is served while the flooder sits there.
  const r = await editor.callTool('execute_query', { query: 'SELECT 42 AS ANSWER' });
  assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[42]]);

  assert.equal((await sessions(home)).length, 1);
});
