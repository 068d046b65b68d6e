/**
 * A JSON-RPC batch on a line connection is refused saying what is true: this hub does not take batches
 * over stdio. The refusal said "not supported by MCP (removed in 2025-06-18)" also on a connection that
 * negotiated 2025-03-26 or 2024-11-05, revisions that have batches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { LineTransport } from '../../src/hub/session/line-transport.js';

test('a batch on a 2025-03-26 connection is refused as this transport\'s limit, not the protocol\'s', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: { id?: unknown; result?: unknown; error?: { code: number; message: string } }[] = [];
  output.on('data', (c: Buffer) => {
    for (const l of c.toString().split('\n')) if (l) lines.push(JSON.parse(l));
  });
  const transport = new LineTransport({ input, output, maxLineBytes: 1 << 20 });
  transport.onmessage = (m) => void transport.send({ jsonrpc: '2.0', id: (m as { id: number }).id, result: { protocolVersion: '2025-03-26' } });
  await transport.start();
  input.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'c', version: '1' } } })}\n`);
  input.write(`${JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }])}\n`);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2);
  const refusal = lines[1]!.error!;
  assert.equal(refusal.code, -32600);
  assert.match(refusal.message, /this hub does not accept JSON-RPC batches over stdio/);
  assert.doesNotMatch(refusal.message, /not supported by MCP/);
  assert.match(refusal.message, /one message per line/);
  await transport.close();
});
