import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { ConnectionEra } from '../../src/hub/session/connection-era.js';

// The envelope's required keys (the revision and the client's capabilities), as every 2026-07-28 request carries them.
const envelope = (version = '2026-07-28') => ({ _meta: { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientCapabilities': {} } });
const result = (id: number, value: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, result: value }) as JSONRPCMessage;
const failure = (id: number, code: number, message = 'Method not found', data?: unknown) => ({ jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } }) as JSONRPCMessage;
const messageOf = (m: JSONRPCMessage) => (m as { error?: { message: string } }).error?.message ?? '';

test('a 2025 connection: the first initialize goes through, a second is refused; server/discover\'s refusal says what to do', () => {
  const era = new ConnectionEra();
  assert.equal(era.refusal('initialize', {}), null);
  era.asked(1, 'initialize', { protocolVersion: '2025-06-18' });
  era.answer(result(1, { protocolVersion: '2025-06-18' }));
  assert.match(era.refusal('initialize', {})?.message ?? '', /already initialized \(MCP 2025-06-18\)/);
  assert.equal(era.refusal('tools/list', {}), null);
  era.asked(2, 'server/discover', envelope());
  const told = era.answer(failure(2, -32601));
  assert.equal((told as { error: { code: number } }).error.code, -32601);
  assert.match(messageOf(told), /server\/discover is MCP 2026-07-28, and this connection was initialized with MCP 2025-06-18/);
  // Other methods' errors, and other ids, pass unchanged.
  era.asked(3, 'tools/call', {});
  const other = failure(3, -32601, 'nope');
  assert.equal(era.answer(other), other);
});

test('a 2026-07-28 connection is pinned by an answered request with the envelope; initialize is then refused with the SDK\'s code and data', () => {
  const era = new ConnectionEra();
  era.asked(1, 'tools/list', envelope());
  assert.equal(era.refusal('initialize', {}), null, 'not before the answer: the SDK has not pinned it yet');
  era.answer(result(1));
  const refusal = era.refusal('initialize', { protocolVersion: '2025-11-25' });
  assert.equal(refusal?.code, -32022);
  assert.deepEqual(refusal?.data, { supported: ['2026-07-28'], requested: '2025-11-25' });
  assert.match(refusal?.message ?? '', /already speaks MCP 2026-07-28.*open a new connection and send initialize first/);
  era.asked(2, 'ping', {});
  assert.match(messageOf(era.answer(failure(2, -32601))), /ping is not part of MCP 2026-07-28/);
});

test('what pins nothing: a refused probe, a bare server/discover, a cancelled request; the hub\'s own requests are left alone', () => {
  const era = new ConnectionEra();
  era.asked(1, 'server/discover', envelope('2099-01-01'));
  era.answer(failure(1, -32022, 'Unsupported protocol version: 2099-01-01'));
  era.asked(2, 'server/discover', envelope());
  era.answer(result(2, { supportedVersions: ['2026-07-28'] }));
  assert.equal(era.refusal('initialize', {}), null, 'after a probe, initialize still opens a 2025 connection');
  era.asked(3, 'tools/list', envelope());
  era.forget(3);
  const late = result(3);
  assert.equal(era.answer(late), late);
  assert.equal(era.refusal('initialize', {}), null, 'a cancelled request was never answered');
  era.asked(4, 'ping', {});
  const hubRequest = { jsonrpc: '2.0', id: 4, method: 'ping' } as JSONRPCMessage;
  assert.equal(era.answer(hubRequest), hubRequest);
});

test('on a 2026-07-28 connection, a later request whose envelope claims another revision is refused, not served as the first one\'s', () => {
  const era = new ConnectionEra();
  era.asked(1, 'tools/list', envelope());
  era.answer(result(1));
  assert.equal(era.refusal('tools/list', envelope()), null);
  // Without the envelope the SDK served it as 2025, switching the connection's answers without a word.
  const bare = era.refusal('tools/call', { name: 'x' });
  assert.equal(bare?.code, -32602);
  assert.deepEqual(bare?.data, { envelope: { missing: ['_meta'] } });
  assert.match(bare?.message ?? '', /speaks MCP 2026-07-28 .*missing the required per-request envelope key\(s\): _meta/);
  assert.deepEqual(era.refusal('tools/call', { name: 'x', _meta: { progressToken: 1 } })?.data, { envelope: { missing: ['io.modelcontextprotocol/protocolVersion'] } });
  assert.equal(era.refusal('ping', {}), null, 'ping gets its own answer: not part of 2026-07-28');
  for (const claimed of ['2099-01-01', '2025-06-18']) {
    const refusal = era.refusal('tools/call', { name: 'x', ...envelope(claimed) });
    assert.equal(refusal?.code, -32022);
    assert.deepEqual(refusal?.data, { supported: ['2026-07-28'], requested: claimed });
    assert.match(refusal?.message ?? '', new RegExp(`speaks MCP 2026-07-28 .*envelope says ${claimed}\\. One connection speaks one protocol version`));
  }
});

test('a connection is opened by initialize or a 2026-07-28 request: any other request first is refused, ping and a waiting opener aside', () => {
  const era = new ConnectionEra();
  const first = era.refusal('tools/list', {});
  assert.equal(first?.code, -32600);
  assert.match(first?.message ?? '', /tools\/list came before the connection was opened\. Send initialize first/);
  assert.equal(era.refusal('ping', {}), null);
  era.asked(1, 'server/discover', envelope());
  era.answer(result(1, { supportedVersions: ['2026-07-28'] }));
  assert.equal(era.refusal('tools/list', {})?.code, -32600, 'a probe opens nothing');
  assert.equal(era.refusal('tools/list', envelope()), null);
  era.asked(2, 'initialize', { protocolVersion: '2025-06-18' });
  assert.equal(era.refusal('tools/list', {}), null, 'sent right behind its initialize');
  era.answer(result(2, { protocolVersion: '2025-06-18' }));
  assert.equal(era.refusal('tools/list', {}), null);
});

test('logging/setLevel on a 2026-07-28 connection is told that revision has none, as ping is; before opening it is refused like any request', () => {
  const era = new ConnectionEra();
  assert.match(era.refusal('logging/setLevel', { level: 'info' })?.message ?? '', /came before the connection was opened/);
  era.asked(1, 'tools/list', envelope());
  era.answer(result(1));
  era.asked(2, 'logging/setLevel', { level: 'info', ...envelope() });
  const told = era.answer(failure(2, -32601));
  assert.equal((told as { error: { code: number } }).error.code, -32601);
  assert.match(messageOf(told), /logging\/setLevel is not part of MCP 2026-07-28, which this connection speaks .*_meta.*no level to set/);
});

test('a 2026-07-28 request the server answered with an error pins the connection as the SDK does; the SDK\'s own opening refusals pin nothing', () => {
  // Before, only a successful answer pinned it: after a failed first request (an unknown tool), a bare
  // request was told "send initialize first", and initialize was then refused as "already speaks 2026-07-28".
  const era = new ConnectionEra();
  era.asked(1, 'tools/call', envelope());
  era.answer(failure(1, -32602, 'Invalid params: unknown tool nope'));
  const bare = era.refusal('tools/list', {});
  assert.equal(bare?.code, -32602);
  assert.match(bare?.message ?? '', /this connection speaks MCP 2026-07-28.*missing the required per-request envelope key\(s\): _meta/);
  assert.equal(era.refusal('initialize', { protocolVersion: '2025-11-25' })?.code, -32022);

  const opening = new ConnectionEra();
  opening.asked(1, 'tools/list', envelope('2099-01-01'));
  opening.answer(failure(1, -32022, 'Unsupported protocol version: 2099-01-01', { supported: ['2026-07-28'], requested: '2099-01-01' }));
  opening.asked(2, 'tools/list', envelope());
  opening.answer(failure(2, -32602, 'Invalid _meta envelope for protocol revision 2026-07-28: x: missing', { envelope: { key: 'x', problem: 'missing' } }));
  assert.equal(opening.refusal('initialize', { protocolVersion: '2025-11-25' }), null, 'initialize still opens a 2025 connection');
});

test('on a 2026-07-28 connection, a later request whose envelope lacks a key or holds a wrong one is told which, as its first request and HTTP are', () => {
  const era = new ConnectionEra();
  era.asked(1, 'tools/list', envelope());
  era.answer(result(1));
  const version = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
  // The SDK refused these with the schema's words alone ("Invalid input: expected object, received undefined").
  const missing = era.refusal('tools/call', { name: 'execute_query', _meta: version });
  assert.equal(missing?.code, -32602);
  assert.equal(missing?.message, 'Invalid _meta envelope for protocol revision 2026-07-28: io.modelcontextprotocol/clientCapabilities: missing');
  assert.deepEqual(missing?.data, { envelope: { key: 'io.modelcontextprotocol/clientCapabilities', problem: 'missing' } });
  const wrong = era.refusal('tools/list', { _meta: { ...version, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': 3 } });
  assert.match(wrong?.message ?? '', /^Invalid _meta envelope for protocol revision 2026-07-28: io\.modelcontextprotocol\/clientInfo: /);
  assert.equal((wrong?.data as { envelope: { key: string } } | undefined)?.envelope.key, 'io.modelcontextprotocol/clientInfo');
  assert.equal(era.refusal('tools/list', envelope()), null, 'a whole envelope passes');
});

test("a 2026-07-28 method sent without the envelope is told the envelope is missing, not to send server/discover first", () => {
  const era = new ConnectionEra();
  era.asked(1, 'server/discover', {});
  const told = messageOf(era.answer(failure(1, -32601)));
  assert.match(told, /server\/discover is MCP 2026-07-28, and this request has no 2026-07-28 _meta envelope/);
  assert.match(told, /io\.modelcontextprotocol\/protocolVersion = "2026-07-28"/);
  assert.doesNotMatch(told, /send server\/discover .* first/);
  // With its envelope, on a connection a request without one opened in 2025: one connection, one version.
  const opened = new ConnectionEra();
  opened.asked(1, 'tools/list', {});
  opened.answer(result(1, { tools: [] }));
  opened.asked(2, 'server/discover', envelope());
  assert.match(messageOf(opened.answer(failure(2, -32601))), /this connection began in a 2025 version of MCP.*open a new connection/);
});

test('initialize carrying the 2026-07-28 envelope is told why it is not found and what to send, first or on a 2026-07-28 connection', () => {
  const init = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' }, ...envelope() };
  for (const opened of [false, true]) {
    const era = new ConnectionEra();
    if (opened) {
      era.asked(1, 'tools/list', envelope());
      era.answer(result(1));
    }
    assert.equal(era.refusal('initialize', init), null, 'the SDK answers it (and pins the connection as it does)');
    era.asked(2, 'initialize', init);
    const told = era.answer(failure(2, -32601));
    assert.equal((told as { error: { code: number } }).error.code, -32601);
    assert.match(messageOf(told), /initialize is not part of MCP 2026-07-28, which this request speaks \(it carries the 2026-07-28 _meta envelope\), and so does this connection from now on.*Send server\/discover .*For a 2025 version, send initialize without the envelope \(over stdio or a shim: as the first request of a new connection\)/);
    // The connection speaks 2026-07-28 from now on, as the SDK's does: a bare initialize is refused with the SDK's code.
    assert.equal(era.refusal('initialize', { protocolVersion: '2025-11-25' })?.code, -32022);
  }
});
