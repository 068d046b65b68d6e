/**
 * A tools/call the HTTP face refuses before any tool sees it leaves a call record (status, audit, metrics),
 * as the Unix socket's line transport records the same refusals (INVALID_REQUEST): params its method's
 * schema refuses, a body that is no JSON-RPC message, an MCP-Protocol-Version header the hub does not speak,
 * a 2026-07-28 request the SDK refuses (no _meta envelope, Mcp-Name disagreeing with the body), a 2025
 * request with no session or another identity's. Over /mcp no session existed yet for such a request, so
 * the call was answered and never audited: a client probing with malformed calls left no trace.
 * A call refused by a tool (unknown tool, bad arguments) is still recorded once, not twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubFace } from '../helpers/in-process-face.js';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'prober', version: '1' },
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' };

type Recent = { tool: string; requestId: string; outcome: string; errorCode?: string; identity: string }[];

function setUp(t: Parameters<typeof hubFace>[0]) {
  const face = hubFace(t);
  const post = (body: unknown, headers: Record<string, string> = {}) => face.fetch('http://127.0.0.1/mcp', { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });
  const recent = () => (face.core.status() as unknown as { recent: Recent }).recent;
  const recordOf = (requestId: string) => recent().filter((r) => r.requestId === requestId);
  return { ...face, post, recent, recordOf };
}

test('a 2026-07-28 tools/call refused before any tool saw it leaves one INVALID_REQUEST record', async (t) => {
  const { post, recordOf, core } = setUp(t);
  const cases: [string, unknown, Record<string, string>, number][] = [
    ['params', { jsonrpc: '2.0', id: 'p1', method: 'tools/call', params: { name: 5, _meta: META } }, MODERN, 200],
    ['shape', { jsonrpc: '2.0', id: 'p2', method: 'tools/call', params: { name: 'execute_query', _meta: { ...META, progressToken: 1.5 } } }, MODERN, 400],
    ['version', { jsonrpc: '2.0', id: 'p3', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' }, _meta: META } }, { ...MODERN, 'mcp-protocol-version': '2099-01-01' }, 400],
    ['envelope', { jsonrpc: '2.0', id: 'p4', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' } } }, MODERN, 400],
    ['header', { jsonrpc: '2.0', id: 'p5', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' }, _meta: META } }, { ...MODERN, 'mcp-name': 'other' }, 400],
  ];
  for (const [what, body, headers, status] of cases) {
    const res = await post(body, headers);
    const text = await res.text();
    assert.equal(res.status, status, `${what}: ${text}`);
    const id = (body as { id: string }).id;
    const records = recordOf(id);
    assert.equal(records.length, 1, `${what}: ${JSON.stringify(records)}`);
    assert.equal(records[0]!.outcome, 'refused', what);
    assert.equal(records[0]!.errorCode, 'INVALID_REQUEST', what);
    assert.equal(records[0]!.identity, 'http-anonymous', what);
  }
  // The session opened for the record closed with it: nothing is left open for a refused request.
  assert.equal(core.status().sessions.length, 0);
  // A call a tool refused is recorded once, by the tool's own record.
  const unknown = await post({ jsonrpc: '2.0', id: 'p6', method: 'tools/call', params: { name: 'no_such_tool', arguments: {}, _meta: META } }, { ...MODERN, 'mcp-name': 'no_such_tool' });
  await unknown.text();
  assert.deepEqual(recordOf('p6').map((r) => r.errorCode), ['UNKNOWN_TOOL']);
  const badArgs = await post({ jsonrpc: '2.0', id: 'p7', method: 'tools/call', params: { name: 'execute_query', arguments: { nope: 1 }, _meta: META } }, { ...MODERN, 'mcp-name': 'execute_query' });
  await badArgs.text();
  assert.deepEqual(recordOf('p7').map((r) => r.errorCode), ['INVALID_ARGUMENTS']);
});

test('a 2025 tools/call refused before any tool saw it leaves one INVALID_REQUEST record, in its own session when it named one', async (t) => {
  const { post, recordOf, recent, sessions } = setUp(t);
  const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(init.status, 200);
  await init.text();
  const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
  const cases: [string, unknown, Record<string, string>, number][] = [
    ['params', { jsonrpc: '2.0', id: 'q1', method: 'tools/call', params: { arguments: {} } }, session, 200],
    ['batch params', [{ jsonrpc: '2.0', id: 'q2', method: 'tools/call', params: { name: ['x'] } }], session, 200],
    ['version', { jsonrpc: '2.0', id: 'q3', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' } } }, { ...session, 'mcp-protocol-version': 'garbage' }, 400],
    ['no session', { jsonrpc: '2.0', id: 'q4', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' } } }, { 'mcp-protocol-version': '2025-06-18' }, 400],
    ['unknown session', { jsonrpc: '2.0', id: 'q5', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' } } }, { ...session, 'mcp-session-id': 'not-a-session' }, 404],
  ];
  for (const [what, body, headers, status] of cases) {
    const res = await post(body, headers);
    const text = await res.text();
    assert.equal(res.status, status, `${what}: ${text}`);
    const id = ((Array.isArray(body) ? body[0] : body) as { id: string }).id;
    const records = recordOf(id);
    assert.equal(records.length, 1, `${what}: ${JSON.stringify(recent())}`);
    assert.equal(records[0]!.errorCode, 'INVALID_REQUEST', what);
  }
  // Those that named the caller's own session are recorded in it.
  const own = sessions[0]!.id;
  for (const id of ['q1', 'q2', 'q3']) assert.equal((recordOf(id)[0] as unknown as { sessionId: string }).sessionId, own, id);
  for (const id of ['q4', 'q5']) assert.notEqual((recordOf(id)[0] as unknown as { sessionId: string }).sessionId, own, id);
});

test('a request in a 2025 session whose MCP-Protocol-Version header names another version than the session negotiated is refused (400), saying which, and its tool call recorded', async (t) => {
  const { post, recordOf } = setUp(t);
  for (const [negotiated, other] of [['2025-03-26', '2025-06-18'], ['2025-06-18', '2025-11-25']] as const) {
    const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: negotiated, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    assert.equal(init.status, 200);
    await init.text();
    const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': negotiated };
    assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
    const id = `m-${negotiated}`;
    const res = await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 1' } } }, { ...session, 'mcp-protocol-version': other });
    assert.equal(res.status, 400, negotiated);
    const body = (await res.json()) as { id: unknown; error: { code: number; message: string } };
    assert.equal(body.id, id);
    assert.match(body.error.message, new RegExp(`header says "${other}", but this session .* negotiated ${negotiated} at initialize\\. Send the version initialize negotiated`));
    assert.deepEqual(recordOf(id).map((r) => r.errorCode), ['INVALID_REQUEST']);
    // The negotiated version, and no header at all (a 2025-03-26 client sends none), are served.
    for (const headers of [session, { 'mcp-session-id': session['mcp-session-id'] }]) {
      const listed = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, headers);
      assert.equal(listed.status, 200, JSON.stringify(headers));
      assert.match(await listed.text(), /"tools":\[/);
    }
  }
});

test('a 2025 POST or GET whose Accept lacks a type, and a second GET stream on a session, are told what to send or close (same status and code)', async (t) => {
  const { post, fetch: inProcess } = setUp(t);
  const init0 = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  // An initialize refused for its Accept says so too.
  const refusedInit = await post(init0, { accept: 'application/json' });
  assert.equal(refusedInit.status, 406);
  assert.match(((await refusedInit.json()) as { error: { message: string } }).error.message, /send "Accept: application\/json, text\/event-stream"/);
  const init = await post(init0);
  await init.text();
  const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
  for (const accept of ['application/json', 'text/event-stream', 'text/html']) {
    const res = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...session, accept });
    assert.equal(res.status, 406, accept);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32000);
    assert.match(body.error.message, /^Not Acceptable: .*send "Accept: application\/json, text\/event-stream"\.$/, accept);
  }
  const getJson = await inProcess('http://127.0.0.1/mcp', { method: 'GET', headers: { ...session, accept: 'application/json' } });
  assert.equal(getJson.status, 406);
  assert.match(((await getJson.json()) as { error: { message: string } }).error.message, /send "Accept: text\/event-stream"/);
  const first = await inProcess('http://127.0.0.1/mcp', { method: 'GET', headers: { ...session, accept: 'text/event-stream' } });
  assert.equal(first.status, 200);
  const second = await inProcess('http://127.0.0.1/mcp', { method: 'GET', headers: { ...session, accept: 'text/event-stream' } });
  assert.equal(second.status, 409);
  const conflict = (await second.json()) as { error: { code: number; message: string } };
  assert.equal(conflict.error.code, -32000);
  assert.match(conflict.error.message, /already has its GET notification stream open .*close it before opening another/);
  await first.body?.cancel();
});
