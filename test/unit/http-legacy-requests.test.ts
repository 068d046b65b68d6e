/**
 * A 2025-era HTTP session's requests in flight, through the HTTP face in process (no network) on a real
 * hub core: a cancelled request's POST stream ends (the SDK's transport left it open for the session's
 * life, one connection per cancel), also for a batch once its other requests are answered, and for the v1
 * SDK client cancelling a call; a second request under an id still in flight is refused at once, and the
 * first is still answered (it was left unanswered for ever).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { createHttpFace, type HttpFace, type ServedHub } from '../../src/hub/http/http-face.js';
import type { QueryOptions, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';

/** Answers `select <n>` at once; a query naming `held` waits until released or cancelled. */
class Held implements Warehouse {
  readonly kind = 'duckdb' as const;
  readonly started: ((sql: string) => void)[] = [];
  /** Releases of the held queries running, by their SQL. */
  readonly releases = new Map<string, () => void>();
  info() {
    return { kind: 'duckdb' as const, name: 'held', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 8 };
  }
  /** Resolves when the next held query has started. */
  nextStart(): Promise<string> {
    return new Promise((resolve) => this.started.push(resolve));
  }
  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const done: QueryResult = { columns: [{ name: 'N', type: 'INTEGER' }], rows: [[Number(/\d+/.exec(sql)?.[0] ?? 1)]], rowCount: 1, truncated: false, elapsedMs: 0 };
    if (!sql.includes('held')) return done;
    this.started.shift()?.(sql);
    return new Promise((resolve, reject) => {
      this.releases.set(sql, () => resolve(done));
      options.signal.addEventListener('abort', () => reject(Object.assign(new Error('cancelled'), { name: 'AbortError' })), { once: true });
    });
  }
  async listDatabases() {
    return [{ name: 'DB' }];
  }
  async listSchemas() {
    return [];
  }
  async listObjects() {
    return [];
  }
  async describeObject() {
    return [];
  }
  async close() {}
}

function hubFace(t: { after(fn: () => unknown): void }): { face: HttpFace; warehouse: Held; fetch: typeof fetch } {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  const warehouse = new Held();
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'held', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const hub: ServedHub = {
    events: core.events,
    status: () => core.status(),
    statusFor: (v) => core.statusFor(v),
    seesEveryone: (v) => core.seesEveryone(v),
    health: () => core.health(),
    get isDraining() {
      return core.isDraining;
    },
    attachSession: (...args) => core.attachSession(...args),
    acceptRemoteLink: () => {},
  };
  const face = createHttpFace({ hub, keys: null, metrics: null, logger, hosts: [], loopbackOnly: true, allowedOrigins: [] });
  t.after(async () => {
    await face.close();
    governance.close();
  });
  const inProcess = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    request.headers.set('host', '127.0.0.1');
    return face.fetch(request, { remoteAddress: '127.0.0.1' });
  }) as typeof fetch;
  return { face, warehouse, fetch: inProcess };
}

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function initialize(post: (body: unknown, headers?: Record<string, string>) => Promise<Response>): Promise<Record<string, string>> {
  const res = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(res.status, 200);
  await res.text();
  const session = { 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
  return session;
}

function poster(fetchIt: typeof fetch) {
  return (body: unknown, headers: Record<string, string> = {}) => fetchIt('http://127.0.0.1/mcp', { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });
}

/** The JSON-RPC messages of an SSE answer, read to the stream's end. */
async function messages(res: Response): Promise<{ id?: unknown; result?: unknown; error?: { code: number; message: string } }[]> {
  const text = await res.text();
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

const call = (id: string | number, query: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } });
const cancel = (requestId: string | number) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'esc' } });

test('2025 session: a cancelled request\'s POST stream ends, and its id is free again', { timeout: 20_000 }, async (t) => {
  const { warehouse, fetch: inProcess } = hubFace(t);
  const post = poster(inProcess);
  const session = await initialize(post);
  const started = warehouse.nextStart();
  const running = await post(call('c1', 'select 1 from held'), session);
  assert.equal(running.status, 200);
  await started;
  assert.equal((await post(cancel('c1'), session)).status, 202);
  // Without an answer (none is owed), the stream ends: before, it stayed open for the session's life.
  assert.deepEqual(await messages(running), []);
  const again = await messages(await post(call('c1', 'select 7'), session));
  assert.equal(again[0]?.id, 'c1');
  assert.equal((again[0]?.result as { isError?: boolean } | undefined)?.isError, undefined, JSON.stringify(again));
});

test('2025 session: a batch with a cancelled request ends once its other requests are answered', { timeout: 20_000 }, async (t) => {
  const { warehouse, fetch: inProcess } = hubFace(t);
  const post = poster(inProcess);
  const session = await initialize(post);
  const first = warehouse.nextStart();
  const batch = await post([call('a', 'select 1 from held'), call('b', 'select 2 from held')], session);
  await first;
  if (warehouse.releases.size < 2) await warehouse.nextStart();
  await post(cancel('a'), session);
  warehouse.releases.get('select 2 from held')!();
  const answered = await messages(batch);
  assert.deepEqual(answered.map((m) => m.id), ['b']);
});

test('2025 session: a second request under an id still in flight is refused at once; the first is still answered', { timeout: 20_000 }, async (t) => {
  const { warehouse, fetch: inProcess } = hubFace(t);
  const post = poster(inProcess);
  const session = await initialize(post);
  const started = warehouse.nextStart();
  const first = await post(call(9, 'select 1 from held'), session);
  await started;
  const second = await post(call(9, 'select 9'), session);
  assert.equal(second.status, 200);
  const refusal = (await second.json()) as { id: unknown; error: { code: number; message: string } };
  assert.equal(refusal.id, 9);
  assert.equal(refusal.error.code, -32600);
  assert.match(refusal.error.message, /already used by a request of this session that has not been answered yet/);
  // Ids repeated within one batch are the same mistake.
  const twice = (await (await post([call('x', 'select 1'), call('x', 'select 2')], session)).json()) as { error: { code: number } };
  assert.equal(twice.error.code, -32600);
  warehouse.releases.get('select 1 from held')!();
  const answered = await messages(first);
  assert.equal(answered.length, 1);
  assert.equal(answered[0]!.id, 9);
  assert.ok(answered[0]!.result, JSON.stringify(answered));
});

test('the v1 SDK client cancelling calls leaves no POST stream open', { timeout: 20_000 }, async (t) => {
  const { warehouse, fetch: inProcess } = hubFace(t);
  // Every POST answer the client gets, and whether its stream has ended (the client's connection to the hub).
  const ended: Promise<void>[] = [];
  const counting = (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await inProcess(input, init);
    if (init?.method !== 'POST' || !res.body) return res;
    let end!: () => void;
    ended.push(new Promise((resolve) => (end = resolve)));
    const body = res.body.pipeThrough(new TransformStream({ flush: () => end() }));
    return new Response(body, { status: res.status, headers: res.headers });
  }) as typeof fetch;
  const client = new ClientV1({ name: 'v1cancel', version: '1' });
  await client.connect(new HttpV1(new URL('http://127.0.0.1/mcp'), { fetch: counting }));
  t.after(() => client.close());
  for (let i = 0; i < 3; i++) {
    const ac = new AbortController();
    const started = warehouse.nextStart();
    const calling = client.callTool({ name: 'execute_query', arguments: { query: `select ${i} from held` } }, undefined, { signal: ac.signal });
    await started;
    ac.abort('esc');
    await assert.rejects(calling);
  }
  const r = await client.callTool({ name: 'execute_query', arguments: { query: 'select 5' } });
  assert.ok(!r.isError);
  // Every POST's stream ended: the three cancelled calls' too (the client does not abort their fetches).
  await Promise.all(ended);
});
