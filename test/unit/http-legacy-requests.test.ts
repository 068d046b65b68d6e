/**
 * A 2025-era HTTP session's requests in flight, through the HTTP face in process (no network) on a real
 * hub core: a cancelled request's POST stream ends (the SDK's transport left it open for the session's
 * life, one connection per cancel), also for a batch once its other requests are answered, and for the v1
 * SDK client cancelling a call; a second request under an id still in flight is refused at once, and the
 * first is still answered (it was left unanswered for ever).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hubFace } from '../helpers/in-process-face.js';

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

test('a drain closes a 2025 session as soon as its call answered over SSE ends, not when the grace period is over', { timeout: 20_000 }, async (t) => {
  // A grace period longer than the test may run: the stop must not wait for it.
  const { warehouse, fetch: inProcess, core } = hubFace(t, {}, { shutdownGraceMs: 60_000 });
  const post = poster(inProcess);
  const session = await initialize(post);
  const started = warehouse.nextStart();
  const running = await post(call('c1', 'select 1 from held'), session);
  await started;
  // The POST has returned (its answer streams); the call runs on into the drain.
  const stopped = core.stop('snowmux stop');
  assert.equal(core.status().sessions.length, 1, 'the session stays while its call runs');
  warehouse.releases.get('select 1 from held')!();
  const answered = await messages(running);
  assert.equal(answered[0]?.id, 'c1');
  assert.equal((answered[0]?.result as { isError?: boolean } | undefined)?.isError, undefined, JSON.stringify(answered));
  await stopped;
  assert.equal(core.status().sessions.length, 0);
});
