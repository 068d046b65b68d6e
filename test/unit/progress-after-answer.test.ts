/**
 * Progress notifications end with the call: none after its answer, none after its client cancelled it, however
 * long the warehouse's own progress timer outlives the statement (a backend still winding down, a statement the
 * engine could not interrupt). The spec: progress only while the request runs; a client drops (and some log as
 * errors) progress for a token it no longer knows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryTransport } from '@modelcontextprotocol/client';
import { createMcpServer } from '../../src/hub/core/mcp-server.js';
import type { QueryOptions, QueryResult } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from '../helpers/empty-catalog-warehouse.js';
import { defer } from '../helpers/harness.js';
import { coreOver } from '../helpers/in-memory-hub.js';

/** A warehouse whose progress reports go on (every ms) after its statement ended, until the test stops them. */
class ChattyWarehouse extends EmptyCatalogWarehouse {
  readonly kind = 'duckdb' as const;
  reportsAfterEnd = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Whether the statement waits for its cancel (else it returns a row at once). */
  constructor(private readonly waitForCancel: boolean) {
    super();
  }
  info() {
    return { kind: 'duckdb' as const, name: 'embedded', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 4 };
  }
  async query(_sql: string, o: QueryOptions): Promise<QueryResult> {
    let ended = false;
    this.timers.push(setInterval(() => {
      if (ended) this.reportsAfterEnd += 1;
      o.onProgress?.({ phase: 'running', elapsedMs: 1, message: 'running' });
    }, 1));
    if (this.waitForCancel) {
      o.onProgress?.({ phase: 'running', elapsedMs: 1, message: 'started' });
      await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
      ended = true;
      throw Object.assign(new Error('cancelled'), { code: 'QUERY_CANCELLED' });
    }
    ended = true;
    return { columns: [{ name: 'X', type: 'INTEGER' }], rows: [[1]], rowCount: 1, truncated: false, elapsedMs: 0 };
  }
  stop(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}

type Message = { id?: unknown; method?: string; params?: Record<string, unknown>; result?: unknown };

async function session(t: Parameters<typeof coreOver>[0], warehouse: ChattyWarehouse) {
  const core = coreOver(t, warehouse);
  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  const server = createMcpServer(attached.env);
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  defer(t, () => server.close());
  const seen: Message[] = [];
  const waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  clientSide.onmessage = (m) => {
    seen.push(m as Message);
    for (const w of waiters.splice(0)) {
      if (w.match(m as Message)) w.resolve(m as Message);
      else waiters.push(w);
    }
  };
  await clientSide.start();
  const send = (m: object) => clientSide.send({ jsonrpc: '2.0', ...m } as never);
  const next = (match: (m: Message) => boolean) => {
    const hit = seen.find(match);
    return hit ? Promise.resolve(hit) : new Promise<Message>((resolve) => waiters.push({ match, resolve }));
  };
  await send({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } });
  await next((m) => m.id === 0);
  await send({ method: 'notifications/initialized' });
  return { seen, send, next };
}

/** Waits until the warehouse reported `n` more times after its statement ended. */
async function untilReportedAfterEnd(warehouse: ChattyWarehouse, n: number): Promise<void> {
  const from = warehouse.reportsAfterEnd;
  while (warehouse.reportsAfterEnd < from + n) await new Promise((r) => setTimeout(r, 2));
}

test('no progress notification follows the answer of a call, though its warehouse reports on', async (t) => {
  const warehouse = new ChattyWarehouse(false);
  defer(t, () => warehouse.stop());
  const { seen, send, next } = await session(t, warehouse);
  await send({ id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1 AS x' }, _meta: { progressToken: 'p1' } } });
  const answer = await next((m) => m.id === 1);
  assert.ok(answer.result, JSON.stringify(answer));
  await untilReportedAfterEnd(warehouse, 20);
  const after = seen.slice(seen.indexOf(answer) + 1).filter((m) => m.method === 'notifications/progress');
  assert.equal(after.length, 0, `${after.length} progress notifications after the answer`);
});

test('no progress notification follows a cancel of the call, though its warehouse reports on', async (t) => {
  const warehouse = new ChattyWarehouse(true);
  defer(t, () => warehouse.stop());
  const { seen, send, next } = await session(t, warehouse);
  await send({ id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1 AS x' }, _meta: { progressToken: 'p1' } } });
  await next((m) => m.method === 'notifications/progress');
  await send({ method: 'notifications/cancelled', params: { requestId: 1, reason: 'user' } });
  await untilReportedAfterEnd(warehouse, 20);
  const cancelledAt = seen.length;
  await untilReportedAfterEnd(warehouse, 20);
  const after = seen.slice(cancelledAt).filter((m) => m.method === 'notifications/progress');
  assert.equal(after.length, 0, `${after.length} progress notifications after the cancel`);
  assert.equal(seen.filter((m) => m.id === 1).length, 0, 'a cancelled request gets no answer');
});
