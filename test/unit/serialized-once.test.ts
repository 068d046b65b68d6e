import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageLine, serializeOnce, serializedText } from '../../src/hub/session/serialized-once.js';
import { fastResponseId } from '../../src/wire/response-id.js';

const asText = (line: Buffer | string) => (typeof line === 'string' ? line : line.toString('utf8'));

test('a response carrying a registered value is the same JSON, written from the kept text', () => {
  const tools = serializeOnce([{ name: 'a', inputSchema: { type: 'object' } }, { name: 'ü ✓', description: 'x"y\\z' }]);
  assert.ok(serializedText(tools));
  for (const message of [
    { result: { tools }, jsonrpc: '2.0', id: 3 },
    { result: { tools, nextCursor: 'c' }, jsonrpc: '2.0', id: 'req-9' },
    { result: { _meta: { ttl: 60 }, tools, gone: undefined }, jsonrpc: '2.0', id: 0 },
  ]) {
    const line = messageLine(message);
    assert.ok(Buffer.isBuffer(line), 'took the kept text');
    const text = asText(line);
    assert.ok(text.endsWith('\n') && !text.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(message)));
    // The shim reads the id of such a line without parsing it.
    assert.equal(fastResponseId(Buffer.from(text.slice(0, -1))), message.id);
  }
});

test('anything else is JSON.stringify as before', () => {
  const tools = serializeOnce([{ name: 'a' }]);
  for (const message of [
    { result: { tools: [{ name: 'a' }] }, jsonrpc: '2.0', id: 1 }, // equal, but not the registered object
    { error: { code: -1, message: 'm' }, jsonrpc: '2.0', id: 1 },
    { method: 'notifications/tools/list_changed', jsonrpc: '2.0' },
    { result: { tools }, jsonrpc: '2.0', id: 1, extra: true },
    { result: { tools }, jsonrpc: '2.0' },
  ]) {
    assert.equal(messageLine(message), `${JSON.stringify(message)}\n`);
  }
});

test('a registered value cannot change under its kept text', () => {
  const tools = serializeOnce([{ name: 'a' }]);
  assert.throws(() => (tools as unknown[]).push({ name: 'b' }), TypeError);
});
