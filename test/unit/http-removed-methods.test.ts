/**
 * A 2026-07-28 request over HTTP for a method that revision removed (ping, logging/setLevel) is told why,
 * as over the Unix socket and `snowmux stdio`: the SDK's bare "Method not found" said nothing of it.
 * The SDK's status and code stay; every other method's answer is the SDK's own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubFace } from '../helpers/in-process-face.js';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
};

async function post(fetch: typeof globalThis.fetch, method: string, params: Record<string, unknown> = {}): Promise<{ status: number; body: { error?: { code: number; message: string }; result?: unknown } }> {
  const res = await fetch('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } }),
  });
  return { status: res.status, body: JSON.parse(await res.text()) as never };
}

test('ping, logging/setLevel and initialize in 2026-07-28 over HTTP say that revision removed them', async (t) => {
  const { fetch } = hubFace(t);
  const ping = await post(fetch, 'ping');
  assert.equal(ping.status, 404);
  assert.equal(ping.body.error?.code, -32601);
  assert.match(ping.body.error?.message ?? '', /ping is not part of MCP 2026-07-28, which this request speaks .*any request shows that the hub is alive/);
  const level = await post(fetch, 'logging/setLevel', { level: 'info' });
  assert.equal(level.body.error?.code, -32601);
  assert.match(level.body.error?.message ?? '', /logging\/setLevel is not part of MCP 2026-07-28.*io\.modelcontextprotocol\/logLevel/);
  // initialize with the envelope is a 2026-07-28 request for a method that revision does not have.
  const init = await post(fetch, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
  assert.equal(init.body.error?.code, -32601);
  assert.match(init.body.error?.message ?? '', /initialize is not part of MCP 2026-07-28, which this request speaks .*Send server\/discover .*For a 2025 version, send initialize without the envelope/);
  const unknown = await post(fetch, 'nope/x');
  assert.match(unknown.body.error?.message ?? '', /"nope\/x" is not an MCP method this server serves/);
  // The era's own methods are among those it names: a client lost between versions learns where to start.
  assert.match(unknown.body.error?.message ?? '', /initialize up to 2025-11-25, or server\/discover and subscriptions\/listen in 2026-07-28/);
  const listed = await post(fetch, 'tools/list');
  assert.equal(listed.status, 200);
  assert.ok(listed.body.result);
});
