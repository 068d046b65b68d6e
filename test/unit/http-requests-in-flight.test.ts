/**
 * The JSON-RPC requests one identity has in flight on /mcp are bounded (hub.http_max_requests_per_identity):
 * without it, one key opening many POSTs (or one batch of many large queries) made the hub build every
 * answer before a byte was sent, which the bound of unread answers counts only once produced. Past the bound
 * a POST is refused 429 with Retry-After and data.code SESSION_BUSY before anything runs; a place is given
 * back once its answer is handed on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubFace, legacySession, MCP_URL, rpcMessages } from '../helpers/in-process-face.js';

const call = (id: number, query: string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } });

test('an identity past its requests in flight on /mcp is refused 429 SESSION_BUSY with Retry-After, before the call runs, and served again once an answer is handed on', async (t) => {
  const { fetch, warehouse } = hubFace(t, { maxRequestsPerIdentity: 3 });
  const headers = await legacySession(fetch, '2025-03-26');
  // Three calls held in the warehouse, each on its own POST.
  const open: Response[] = [];
  const sqls: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const started = warehouse.nextStart();
    open.push(await fetch(MCP_URL, { method: 'POST', headers, body: call(i, `select ${i} from held`) }));
    sqls.push(await started);
  }
  const queriesBefore = warehouse.releases.size;
  const refused = await fetch(MCP_URL, { method: 'POST', headers, body: call(4, 'select 4') });
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('retry-after'), '1');
  const answer = (await refused.json()) as { id: unknown; error: { message: string; data: { code: string; retryable: boolean } } };
  assert.equal(answer.id, 4);
  assert.deepEqual(answer.error.data, { code: 'SESSION_BUSY', retryable: true });
  assert.match(answer.error.message, /^Too many requests in flight for "[^"]+": 3 of its requests are still running or being answered, and a key may have at most 3 at once on this hub \(hub\.http_max_requests_per_identity\); this POST carries 1\. Wait for answers before sending more/);
  assert.equal(warehouse.releases.size, queriesBefore, 'the refused call did not run');
  // One answer handed on: its place is free again.
  warehouse.releases.get(sqls[0]!)!();
  const first = await rpcMessages(open[0]!);
  assert.equal(first[0]?.id, 1);
  const served = await fetch(MCP_URL, { method: 'POST', headers, body: call(5, 'select 5') });
  assert.equal(served.status, 200);
  assert.deepEqual((await rpcMessages(served)).map((m) => m.id), [5]);
  for (const [i, res] of open.slice(1).entries()) {
    warehouse.releases.get(sqls[i + 1]!)!();
    await res.text();
  }
  // Everything answered: the whole bound is free (a batch of 3 fits).
  const batch = await fetch(MCP_URL, { method: 'POST', headers, body: `[${call(6, 'select 6')},${call(7, 'select 7')},${call(8, 'select 8')}]` });
  assert.equal(batch.status, 200);
  assert.deepEqual((await rpcMessages(batch)).map((m) => m.id).sort(), [6, 7, 8]);
});

test('a batch holding more requests than an identity may have in flight is refused whole, saying to send smaller batches', async (t) => {
  const { fetch } = hubFace(t, { maxRequestsPerIdentity: 3 });
  const headers = await legacySession(fetch, '2025-03-26');
  const res = await fetch(MCP_URL, { method: 'POST', headers, body: `[${[1, 2, 3, 4].map((i) => call(i, `select ${i}`)).join(',')}]` });
  assert.equal(res.status, 429);
  const answer = (await res.json()) as { error: { message: string; data: { code: string } } };
  assert.equal(answer.error.data.code, 'SESSION_BUSY');
  assert.match(answer.error.message, /this batch holds 4, and a key may have at most 3 in flight on this hub \(hub\.http_max_requests_per_identity\)\. Send them in smaller batches/);
  // Nothing stayed charged: a POST of 3 is served.
  const ok = await fetch(MCP_URL, { method: 'POST', headers, body: `[${[5, 6, 7].map((i) => call(i, `select ${i}`)).join(',')}]` });
  assert.equal(ok.status, 200);
  assert.equal((await rpcMessages(ok)).length, 3);
});
