/**
 * A 2025-era HTTP session's requests in flight, through the HTTP face in process (no network) on a real
 * hub core: a cancelled request's POST stream ends (the SDK's transport left it open for the session's
 * life, one connection per cancel), also for a batch once its other requests are answered, and for the v1
 * SDK client cancelling a call; a second request under an id still in flight is refused at once, and the
 * first is still answered (it was left unanswered for ever); cancelled requests leave nothing in the SDK's
 * transport (each left an entry for the session's life); an initialize sent again in a session renames
 * nothing (it renamed the session's client and protocol version to what the SDK refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hubFace } from '../helpers/in-process-face.js';
import { LegacyTransport } from '../../src/hub/http/legacy-transport.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A 2025-03-26 session: the last revision with JSON-RPC batches, which several tests here send. */
async function initialize(post: (body: unknown, headers?: Record<string, string>) => Promise<Response>): Promise<Record<string, string>> {
  const res = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(res.status, 200);
  await res.text();
  const session = { 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-03-26' };
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

/** The 2025-era transports the face makes while `fn` runs (the SDK's per-request maps live on them). */
async function transportsDuring<T>(fn: (transports: LegacyTransport[]) => Promise<T>): Promise<T> {
  const transports: LegacyTransport[] = [];
  const handle = Object.getOwnPropertyDescriptor(LegacyTransport.prototype, 'handleRequest')!;
  Object.defineProperty(LegacyTransport.prototype, 'handleRequest', {
    ...handle,
    value(this: LegacyTransport, ...args: Parameters<LegacyTransport['handleRequest']>) {
      if (!transports.includes(this)) transports.push(this);
      return (handle.value as LegacyTransport['handleRequest']).apply(this, args);
    },
  });
  try {
    return await fn(transports);
  } finally {
    Object.defineProperty(LegacyTransport.prototype, 'handleRequest', handle);
  }
}

/** What the SDK's transport holds per request (its own fields: this test fails if they are renamed). */
function sdkEntries(transport: LegacyTransport): { requestStreams: number; answers: number; streams: number } {
  const held = transport as unknown as Record<string, Map<unknown, unknown> | undefined>;
  for (const field of ['_requestToStreamMapping', '_requestResponseMap', '_streamMapping']) assert.ok(held[field] instanceof Map, `the SDK's transport has no ${field} any more: count what it holds per request instead`);
  return { requestStreams: held._requestToStreamMapping!.size, answers: held._requestResponseMap!.size, streams: held._streamMapping!.size };
}

// Each cancelled request left the SDK's transport an entry (its stream id, and the answers of the other
// requests of its POST) for the session's life: it is owed no answer, and the SDK forgets a POST's requests
// only once all of them are answered. 10,000 cancels held 10,000 entries (~0.7 KB each, ~1 KB in batches).
test('2025 session: cancelled requests leave nothing in the SDK transport, whether cancelled by notification, by hanging up, or in a batch', { timeout: 30_000 }, async (t) => {
  await transportsDuring(async (transports) => {
    const { warehouse, fetch: inProcess } = hubFace(t);
    const post = (body: unknown, headers: Record<string, string>, signal?: AbortSignal) => inProcess('http://127.0.0.1/mcp', { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
    const session = await initialize(poster(inProcess));
    const cancels = 20;
    for (let i = 0; i < cancels; i++) {
      const started = warehouse.nextStart();
      const hangUp = new AbortController();
      const running = await post(call(`n${i}`, 'select 1 from held'), session, hangUp.signal);
      await started;
      if (i % 2 === 0) {
        assert.equal((await post(cancel(`n${i}`), session)).status, 202);
        assert.deepEqual(await messages(running), []);
      } else {
        hangUp.abort();
        await running.body?.cancel().catch(() => {});
      }
    }
    // A batch: one request answered, the other cancelled (the SDK kept the answer, waiting for the other's).
    const first = warehouse.nextStart();
    const batch = await post([call('a', 'select 1 from held'), call('b', 'select 2 from held')], session);
    await first;
    if (warehouse.releases.size < 2) await warehouse.nextStart();
    warehouse.releases.get('select 2 from held')!();
    await post(cancel('a'), session);
    assert.deepEqual((await messages(batch)).map((m) => m.id), ['b']);
    assert.equal(transports.length, 1);
    assert.equal(transports[0]!.owed, 0);
    assert.deepEqual(sdkEntries(transports[0]!), { requestStreams: 0, answers: 0, streams: 0 }, `after ${cancels + 1} cancelled requests`);
  });
});

// The SDK maps a batch's ids to its stream until all of them are answered: a request reusing one of them
// (answered or cancelled) took that mapping over, so the batch lost an answer, or the new request lost its
// stream when the batch ended. Such an id is taken until its batch ends, as an id in flight is.
test('2025 session: an id of a batch still being answered is refused, answered or cancelled, and free once the batch ends', { timeout: 20_000 }, async (t) => {
  const { warehouse, fetch: inProcess } = hubFace(t);
  const post = poster(inProcess);
  const session = await initialize(post);
  const first = warehouse.nextStart();
  const batch = await post([call('a', 'select 1'), call('b', 'select 2 from held'), call('c', 'select 3 from held')], session);
  await first;
  if (warehouse.releases.size < 2) await warehouse.nextStart();
  assert.equal((await post(cancel('c'), session)).status, 202);
  // 'a' is answered (and so no longer in flight) before its id is reused.
  const stream = batch.body!.pipeThrough(new TextDecoderStream()).getReader();
  let read = '';
  while (!read.includes('"id":"a"')) {
    const { value, done } = await stream.read();
    assert.ok(!done, `the batch ended before answering a: ${read}`);
    read += value;
  }
  for (const id of ['a', 'c']) {
    const res = await post(call(id, 'select 4'), session);
    const text = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /json/, `id ${id} was taken while its batch is still being answered: ${text}`);
    const reuse = JSON.parse(text) as { id: unknown; error?: { code: number; message: string } };
    assert.equal(reuse.id, id);
    assert.equal(reuse.error?.code, -32600, JSON.stringify(reuse));
    assert.match(reuse.error?.message ?? '', /batch whose other requests are still being answered/);
  }
  warehouse.releases.get('select 2 from held')!();
  for (let chunk = await stream.read(); !chunk.done; chunk = await stream.read()) read += chunk.value;
  assert.deepEqual(read.split('\n').filter((l) => l.startsWith('data: ')).map((l) => (JSON.parse(l.slice(6)) as { id: unknown }).id), ['a', 'b']);
  for (const id of ['a', 'c']) {
    const again = await messages(await post(call(id, 'select 5'), session));
    assert.equal(again[0]?.id, id);
    assert.equal(again[0]?.error, undefined, JSON.stringify(again));
  }
});

test('2025 session: an initialize sent again is refused and renames nothing (status and audit keep the client that initialized)', { timeout: 20_000 }, async (t) => {
  const { fetch: inProcess, sessions } = hubFace(t);
  const post = poster(inProcess);
  const session = await initialize(post);
  const again = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'impostor', version: '9' } } }, session);
  assert.equal(again.status, 400);
  // Under its own id, saying what an initialize is for (the SDK's answer was a bare refusal under id null).
  const refusal = (await again.json()) as { id: unknown; error: { code: number; message: string } };
  assert.equal(refusal.id, 1);
  assert.equal(refusal.error.code, -32600);
  assert.match(refusal.error.message, /already initialized.*without the Mcp-Session-Id header/);
  // Before, the refused initialize was read first: the session's client and protocol became the impostor's.
  assert.deepEqual(sessions[0]!.client, { name: 'raw', version: '1' });
  assert.equal(sessions[0]!.protocolVersion, '2025-03-26');
  // The session goes on under its own name.
  const listed = await messages(await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, session));
  assert.equal(listed[0]?.id, 2);
  assert.deepEqual(sessions[0]!.client, { name: 'raw', version: '1' });
});

test('a request whose MCP-Protocol-Version header names no version the server speaks is told so (400), not about a _meta envelope', { timeout: 20_000 }, async (t) => {
  const { fetch: inProcess } = hubFace(t);
  const post = poster(inProcess);
  const session = await initialize(post);
  for (const version of ['2099-01-01', 'garbage']) {
    const res = await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...session, 'mcp-protocol-version': version });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.match(body.error.message, new RegExp(`unsupported MCP-Protocol-Version header "${version}": this server speaks 2026-07-28, 2025-11-25, `), version);
    assert.doesNotMatch(body.error.message, /envelope key/);
  }
  // The negotiated version is served as before.
  const listed = await messages(await post({ jsonrpc: '2.0', id: 6, method: 'tools/list' }, session));
  assert.ok(Array.isArray((listed[0]?.result as { tools?: unknown[] } | undefined)?.tools), JSON.stringify(listed));
});
