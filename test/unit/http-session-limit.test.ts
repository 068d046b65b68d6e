/**
 * The 2025-era limit of open sessions per identity (64), through the HTTP face in process on a real hub
 * core: a client that goes away without DELETE (the v1 SDK client's close() sends none) is not locked out
 * of new sessions once it has left 64 behind; at the limit the least recently used idle session makes
 * room, and only when every one is busy (a call running, a GET stream open) is the new one refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hubFace } from '../helpers/in-process-face.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const LIMIT = 64;

function poster(fetchIt: typeof fetch) {
  return (body: unknown, headers: Record<string, string> = {}) => fetchIt('http://127.0.0.1/mcp', { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });
}

async function initialize(post: ReturnType<typeof poster>): Promise<Response> {
  return post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
}

async function session(post: ReturnType<typeof poster>): Promise<Record<string, string>> {
  const res = await initialize(post);
  assert.equal(res.status, 200);
  await res.text();
  const headers = { 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status, 202);
  return headers;
}

/**
 * What an engine does when a client hangs up: the answer's stream is cancelled (in process, a fetch's
 * abort reaches no stream by itself, and the v1 client aborts its GET stream on close()).
 */
function hangingUp(inProcess: typeof fetch): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await inProcess(input, init);
    const signal = init?.signal;
    if (!res.body || !signal) return res;
    const reader = res.body.getReader();
    signal.addEventListener('abort', () => void reader.cancel(signal.reason).catch(() => {}), { once: true });
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        } catch (err) {
          c.error(err);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }) as typeof fetch;
}

test('the v1 SDK client connecting once per task, closing without DELETE, is still served after 64 tasks', { timeout: 60_000 }, async (t) => {
  const { fetch: inProcess } = hubFace(t);
  const fetchIt = hangingUp(inProcess);
  for (let i = 0; i < LIMIT + 6; i++) {
    const client = new ClientV1({ name: 'task-runner', version: '1' });
    try {
      await client.connect(new HttpV1(new URL('http://127.0.0.1/mcp'), { fetch: fetchIt }));
      const r = await client.callTool({ name: 'execute_query', arguments: { query: `select ${i}` } });
      assert.ok(!r.isError, JSON.stringify(r));
    } catch (err) {
      assert.fail(`task #${i}: ${(err as Error).message}`);
    } finally {
      await client.close();
    }
  }
});

test('at the limit, the least recently used idle session makes room; a new one is refused only while all are busy', { timeout: 60_000 }, async (t) => {
  const { warehouse, fetch: inProcess } = hubFace(t);
  const post = poster(inProcess);
  const sessions: Record<string, string>[] = [];
  for (let i = 0; i < LIMIT; i++) sessions.push(await session(post));
  // One session runs a call; every other holds its GET (notification) stream open: all are busy.
  const started = warehouse.nextStart();
  const running = await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 7 from held' } } }, sessions[0]);
  assert.equal(running.status, 200);
  await started;
  const streams: Response[] = [];
  for (const headers of sessions.slice(1)) {
    const get = await inProcess('http://127.0.0.1/mcp', { method: 'GET', headers: { accept: 'text/event-stream', ...headers } });
    assert.equal(get.status, 200);
    streams.push(get);
  }
  const refused = await initialize(post);
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('retry-after'), '5');
  const { error } = (await refused.json()) as { error: { message: string } };
  assert.match(error.message, /all 64 are busy \(a call running or a GET stream open\)/);
  // The call finishes: its session is idle now, the least recently used one, and makes room.
  warehouse.releases.get('select 7 from held')!();
  assert.match(await running.text(), /"result"/);
  const admitted = await initialize(post);
  assert.equal(admitted.status, 200);
  await admitted.text();
  const gone = await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, sessions[0]);
  assert.equal(gone.status, 404, 'the idle session was the one closed');
  await gone.text();
  // The listening sessions were left alone.
  const still = await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, sessions[1]);
  assert.equal(still.status, 200);
  await still.text();
  // A GET stream that ends leaves its session idle, in use until then: new sessions take the place of the
  // one idle for longer first (the session admitted above), then its.
  await streams[1]!.body!.cancel();
  for (let i = 0; i < 2; i++) {
    const next = await initialize(post);
    assert.equal(next.status, 200);
    await next.text();
  }
  const replaced = await post({ jsonrpc: '2.0', id: 4, method: 'ping' }, sessions[2]);
  assert.equal(replaced.status, 404);
  await replaced.text();
  for (const s of streams) await s.body!.cancel().catch(() => {});
});

test('a 2025 session that only listens on its GET stream is not idle: the idle sweep leaves it open, and counts from when the stream ends', async (t) => {
  // The sweep runs every 30 s and compares the monotonic clock with the session's last request: here the
  // mocked Date.now(), which the ticks move.
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const { fetch: inProcess } = hubFace(t, { legacyIdleMs: 30 * 60_000, monotonic: () => Date.now() });
  const post = poster(inProcess);
  const listening = await session(post);
  const quiet = await session(post);
  const stream = await inProcess('http://127.0.0.1/mcp', { method: 'GET', headers: { accept: 'text/event-stream', ...listening } });
  assert.equal(stream.status, 200);
  const alive = async (headers: Record<string, string>) => {
    const res = await post({ jsonrpc: '2.0', id: 9, method: 'ping' }, headers);
    await res.text();
    return res.status === 200;
  };
  t.mock.timers.tick(31 * 60_000);
  assert.equal(await alive(quiet), false, 'the session with nothing going on was closed');
  assert.equal(await alive(listening), true, 'the one whose GET stream is open was not');
  // Its stream ends 40 minutes after its last request: its idle time starts then, not at that request.
  t.mock.timers.tick(40 * 60_000);
  await stream.body!.cancel();
  t.mock.timers.tick(60_000);
  assert.equal(await alive(listening), true, 'two sweeps after its stream ended');
  t.mock.timers.tick(31 * 60_000);
  assert.equal(await alive(listening), false, 'closed once idle for 30 minutes');
});
