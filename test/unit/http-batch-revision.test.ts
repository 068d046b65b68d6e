/**
 * A 2025 session over /mcp follows the revision its initialize negotiated: MCP 2025-06-18 removed JSON-RPC
 * batches, yet a session that negotiated it (or 2025-11-25) had its batches served by the SDK's transport;
 * now such a batch is refused (-32600, saying why and what to send), while 2024-11-05 and 2025-03-26
 * sessions, whose revisions have batches, are still served them. (The Unix socket and stdio take no batches
 * in any revision, saying so: line-batches.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubFace } from '../helpers/in-process-face.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const URL_ = 'http://127.0.0.1/mcp';

async function session(fetch: typeof globalThis.fetch, version: string): Promise<Record<string, string>> {
  const res = await fetch(URL_, { method: 'POST', headers: HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'c', version: '1' } } }) });
  assert.equal(res.status, 200);
  await res.text();
  const headers = { ...HEADERS, 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': version };
  const ack = await fetch(URL_, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  assert.equal(ack.status, 202);
  return headers;
}

/** The JSON-RPC messages of an answer (JSON, or SSE data lines). */
async function messagesOf(res: Response): Promise<{ id?: unknown; result?: unknown; error?: { code: number; message: string } }[]> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) return [JSON.parse(text)].flat();
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

const BATCH = JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]);

for (const version of ['2024-11-05', '2025-03-26']) {
  test(`a ${version} session (its revision has batches) is served a batch`, async (t) => {
    const { fetch } = hubFace(t);
    const headers = await session(fetch, version);
    const res = await fetch(URL_, { method: 'POST', headers, body: BATCH });
    assert.equal(res.status, 200);
    const answers = await messagesOf(res);
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2]);
    assert.ok(answers.every((a) => a.error === undefined));
  });
}

for (const version of ['2025-06-18', '2025-11-25']) {
  test(`a ${version} session (no batches in its revision) is refused a batch, saying why and what to send`, async (t) => {
    const { fetch } = hubFace(t);
    const headers = await session(fetch, version);
    const res = await fetch(URL_, { method: 'POST', headers, body: BATCH });
    assert.equal(res.status, 400);
    const [answer] = await messagesOf(res);
    assert.equal(answer!.id, null);
    assert.equal(answer!.error?.code, -32600);
    assert.match(answer!.error!.message, new RegExp(`speaks MCP ${version}.*no JSON-RPC batches.*2025-06-18.*POST of its own`));
    // The session still serves single messages.
    const one = await fetch(URL_, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }) });
    assert.deepEqual((await messagesOf(one)).map((a) => [a.id, a.error]), [[3, undefined]]);
  });
}

