/**
 * A POST to /mcp refused for its Accept header (406), for naming no session (400) or an unknown one (404), or for
 * an MCP-Protocol-Version header the hub does not speak (400) was answered under id null, though the body
 * was one request with an id the client waits on; now under that id (null still for a batch or no body).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MCP_POST_HEADERS, MCP_URL, hubFace, legacySession, rpcMessages } from '../helpers/in-process-face.js';

const BATCH = JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]);

test('refusals of a POST that carried one request are answered under its id', async (t) => {
  const { fetch } = hubFace(t);
  const headers = await legacySession(fetch, '2025-06-18');
  const ping = (id: number | string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });
  const cases: [string, RequestInit, number][] = [
    ['Accept without event streams (406)', { method: 'POST', headers: { ...headers, accept: 'application/json' }, body: ping(11) }, 406],
    ['an initialize with a bad Accept (406)', { method: 'POST', headers: { ...MCP_POST_HEADERS, accept: 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }) }, 406],
    ['no session (400)', { method: 'POST', headers: MCP_POST_HEADERS, body: ping('thirteen') }, 400],
    ['an unknown session (404)', { method: 'POST', headers: { ...headers, 'mcp-session-id': 'not-a-session' }, body: ping(14) }, 404],
    ['an MCP-Protocol-Version the hub does not speak (400)', { method: 'POST', headers: { ...headers, 'mcp-protocol-version': '1999-01-01' }, body: ping(15) }, 400],
  ];
  for (const [what, init, status] of cases) {
    const res = await fetch(MCP_URL, init);
    assert.equal(res.status, status, what);
    const [answer] = await rpcMessages(res);
    assert.equal(answer!.id, JSON.parse(init.body as string).id, what);
    assert.ok(answer!.error!.message.length > 20, what);
  }
  // A batch, or a body with no request, has no one id to answer under.
  const batch = await fetch(MCP_URL, { method: 'POST', headers: { ...headers, 'mcp-session-id': 'not-a-session' }, body: BATCH });
  assert.equal(batch.status, 404);
  assert.equal((await rpcMessages(batch))[0]!.id, null);
});
