/**
 * What a truncated answer costs the hub's memory on the embedded warehouse. DuckDB builds a streamed
 * SELECT's rows ahead of the reader, a whole morsel (~120k rows) at a time and outside its memory_limit,
 * so a call shown 2 rows of `repeat('x', 16000) FROM range(100000)` grew the hub by ~1.2 GB, which it kept;
 * three such calls at once passed 4 GB. The warehouse runs such a statement under a LIMIT just above what it
 * reads (row-limited.ts), so the hub's peak stays near its idle size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connectClient, startHub, tempHome, textOf } from '../helpers/harness.js';

/** The process's peak resident set (VmHWM), in MiB. */
function peakMiB(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(kb !== undefined, 'VmHWM is read from /proc');
  return Number(kb) / 1024;
}

test('a truncated answer over wide rows costs the hub what it reads, not what DuckDB could build ahead', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.ok(!(await c.callTool('execute_query', { query: 'SELECT 1' })).isError);
  const idle = peakMiB(hub.pid);
  const calls = await Promise.all(
    [16000, 16001, 16002].map((width) => c.callTool('execute_query', { query: `SELECT repeat('x', ${width}) AS a FROM range(100000)`, limit: 2 })),
  );
  for (const r of calls) {
    assert.ok(!r.isError, textOf(r));
    assert.equal((r.structuredContent as { row_count: number }).row_count, 2);
  }
  const peak = peakMiB(hub.pid);
  assert.ok(peak - idle < 800, `three calls shown 2 rows each raised the hub's peak memory from ${Math.round(idle)} to ${Math.round(peak)} MiB`);
});
