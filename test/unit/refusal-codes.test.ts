/**
 * Transport-level refusals carry a stable snowmux code in error.data.code, as tool errors do (UNKNOWN_TOOL):
 * /mcp's HTTP 400/404/406/415/429 answers and the line transport's (socket, stdio) -32700/-32600/-32000/-32022
 * said what happened in words alone, under JSON-RPC codes several causes share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isErrorCode } from '../../src/error-codes.js';
import { MCP_POST_HEADERS, MCP_URL, hubFace, legacySession } from '../helpers/in-process-face.js';
import { openedLineTransport } from '../helpers/line-transport-rig.js';

type Refusal = { id?: unknown; error?: { code: number; message: string; data?: { code?: string; retryable?: boolean } } };

function assertCoded(answer: Refusal, code: string, what: string): void {
  assert.equal(answer.error?.data?.code, code, `${what}: ${JSON.stringify(answer)}`);
  assert.ok(isErrorCode(code), code);
  assert.equal(typeof answer.error?.data?.retryable, 'boolean', what);
}

test('/mcp: every transport refusal carries its stable code', async (t) => {
  const { fetch } = hubFace(t);
  const post = async (body: string, headers: Record<string, string> = MCP_POST_HEADERS) => {
    const res = await fetch(MCP_URL, { method: 'POST', headers, body });
    return { status: res.status, answer: (await res.json()) as Refusal };
  };
  const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  const init = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'c', version: '1' } } });

  let r = await post('{not json');
  assert.equal(r.status, 400);
  assertCoded(r.answer, 'PARSE_ERROR', 'not JSON');

  r = await post(list);
  assert.equal(r.status, 400);
  assertCoded(r.answer, 'SESSION_REQUIRED', 'no Mcp-Session-Id');

  r = await post(list, { ...MCP_POST_HEADERS, 'mcp-session-id': 'no-such-session' });
  assert.equal(r.status, 404);
  assertCoded(r.answer, 'SESSION_NOT_FOUND', 'unknown session');

  r = await post(init, { ...MCP_POST_HEADERS, accept: 'application/json' });
  assert.equal(r.status, 406);
  assertCoded(r.answer, 'BAD_HTTP_REQUEST', 'Accept without text/event-stream');
  assert.equal(r.answer.id, 2, 'still under the request\'s id');

  r = await post(list, { ...MCP_POST_HEADERS, 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
  assertCoded(r.answer, 'BAD_HTTP_REQUEST', 'Content-Type');

  r = await post(list, { ...MCP_POST_HEADERS, 'mcp-protocol-version': '1999-01-01' });
  assert.equal(r.status, 400);
  assertCoded(r.answer, 'PROTOCOL_VERSION_UNSUPPORTED', 'an unknown MCP-Protocol-Version');

  const headers = await legacySession(fetch, '2025-03-26');
  r = await post(init, headers);
  assert.equal(r.status, 400);
  assertCoded(r.answer, 'INVALID_REQUEST', 'a second initialize on a session');
  r = await post(list, { ...headers, 'mcp-protocol-version': '2025-06-18' });
  assert.equal(r.status, 400);
  assertCoded(r.answer, 'PROTOCOL_VERSION_UNSUPPORTED', 'a version other than the negotiated one');
});

test('socket and stdio (the line transport): every refusal carries its stable code', async () => {
  const { replies, sendLines } = await openedLineTransport({ maxLineBytes: 4096, maxOutstanding: 1 });
  await sendLines([
    'this is not json',
    '{"jsonrpc":"2.0","id":11}',
    JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'tools/list', params: { pad: 'x'.repeat(5000) } }),
    JSON.stringify({ jsonrpc: '2.0', id: 13, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    JSON.stringify({ jsonrpc: '2.0', id: 14, method: 'tools/list', params: { cursor: 5 } }),
    // Held unanswered by the rig: the next request is one too many for maxOutstanding 1.
    JSON.stringify({ jsonrpc: '2.0', id: 15, method: 'tools/list' }),
    JSON.stringify({ jsonrpc: '2.0', id: 16, method: 'tools/list' }),
  ]);
  const byId = (id: unknown) => replies.find((r) => r.id === id) as Refusal;
  assertCoded(replies.find((r) => r.id === null && /Parse error/.test(r.error?.message ?? '')) as Refusal, 'PARSE_ERROR', 'not JSON');
  assertCoded(byId(11), 'INVALID_REQUEST', 'not a request');
  assertCoded(replies.find((r) => /byte line limit/.test(r.error?.message ?? '')) as Refusal, 'MESSAGE_TOO_LARGE', 'a line over the limit');
  assertCoded(byId(13), 'INVALID_REQUEST', 'a second initialize');
  assertCoded(byId(14), 'INVALID_REQUEST', 'params of the wrong shape');
  assertCoded(byId(16), 'SESSION_BUSY', 'one request too many in flight');
  assert.equal(byId(16).error?.data?.retryable, true);
  assert.equal(byId(15), undefined, 'the request in flight is not refused');
});
