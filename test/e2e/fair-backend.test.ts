/**
 * Fair all the way down: the hub's fair queue hands out no more calls than the backend runs at once, so a
 * light editor's query waits for the next free slot, not behind every long query another editor already
 * pushed into the backend's own FIFO.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, runCli, startHub, tempHome } from '../helpers/harness.js';

const LONG = 'SELECT sum(a.range * b.range) AS s FROM range(8000) a, range(8000) b';

test('a light call waits for the next backend slot, not behind a flooder\'s backlog', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const flooder = await connectClient(t, { home, kind: 'v2-legacy', name: 'flooder' });
  const light = await connectClient(t, { home, kind: 'v1', name: 'light' });
  await light.callTool('execute_query', { query: 'SELECT 1' });
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { warehouses: { kind: string; detail: { maxConcurrentStatements: number } }[]; governance: { queue: { pools: { name: string; maxConcurrent: number }[] } } };
  const capacity = status.warehouses.find((w) => w.kind === 'duckdb')!.detail.maxConcurrentStatements;
  assert.equal(status.governance.queue.pools.find((p) => p.name === 'embedded')?.maxConcurrent, capacity, "the embedded pool's part of the fair queue is sized to the backend");

  let flooderDone = 0;
  const flood = Array.from({ length: 16 }, () => flooder.callTool('execute_query', { query: LONG }, { timeout: 120_000 }).then(() => void (flooderDone += 1)));
  // Wait until the flooder's backlog is queued in the hub: it runs all slots but one, the one kept for others.
  for (;;) {
    const s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { queue: { running: number; queued: number } } };
    assert.ok(s.governance.queue.running <= capacity - 1, `one session runs at most ${capacity - 1} of the ${capacity} slots`);
    if (s.governance.queue.running === capacity - 1 && s.governance.queue.queued > 0) break;
  }
  const before = flooderDone;
  const r = await light.callTool('execute_query', { query: 'SELECT 42 AS ANSWER' }, { timeout: 120_000 });
  assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[42]]);
  const ahead = flooderDone - before;
  assert.ok(ahead <= capacity + 2, `${ahead} flooder calls finished while the light call waited (backend runs ${capacity} at once)`);
  await Promise.all(flood);
});
