/**
 * A 2026-07-28-style request whose `_meta` envelope names a revision the hub does not speak was refused with
 * the SDK's bare "Unsupported protocol version: 2027-01-01" (its data listing 2026-07-28 alone), over /mcp and
 * over the socket and `snowmux stdio` alike: the client learnt neither that the hub speaks the 2025 versions
 * (through initialize) nor what to send. Now every face says which versions it speaks, how to reach each, and
 * keeps the SDK's status, code (-32022) and data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { ConnectionEra } from '../../src/hub/session/connection-era.js';
import { hubFace } from '../helpers/in-process-face.js';

const envelope = (version: string) => ({
  _meta: { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' } },
});
const EXPLAINED = (v: string) => new RegExp(`Unsupported protocol version "${v}".*speaks MCP 2026-07-28 .*2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05.* through initialize.*Send "2026-07-28" in the envelope, or open a session with initialize`);

for (const version of ['2027-01-01', '2025-06-18']) {
  test(`over /mcp, an envelope naming ${version} is told which versions the hub speaks and how`, async (t) => {
    const { fetch } = hubFace(t);
    const res = await fetch('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-method': 'tools/list' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: envelope(version) }),
    });
    assert.equal(res.status, 400);
    const answer = (await res.json()) as { id: unknown; error: { code: number; message: string; data: unknown } };
    assert.equal(answer.id, 7);
    assert.equal(answer.error.code, -32022);
    // The SDK's data, and the stable code every /mcp refusal carries.
    assert.deepEqual(answer.error.data, { supported: ['2026-07-28'], requested: version, code: 'PROTOCOL_VERSION_UNSUPPORTED', retryable: false });
    assert.match(answer.error.message, EXPLAINED(version));
  });
}

test('on a line connection (socket, stdio), the SDK\'s refusal of an envelope\'s revision says the same', () => {
  for (const method of ['tools/list', 'server/discover']) {
    const era = new ConnectionEra();
    era.asked(1, method, envelope('2027-01-01'));
    const sdk = { jsonrpc: '2.0', id: 1, error: { code: -32022, message: 'Unsupported protocol version: 2027-01-01', data: { supported: ['2026-07-28'], requested: '2027-01-01' } } } as JSONRPCMessage;
    const told = era.answer(sdk) as { id: unknown; error: { code: number; message: string; data: unknown } };
    assert.equal(told.id, 1, method);
    assert.equal(told.error.code, -32022, method);
    assert.deepEqual(told.error.data, { supported: ['2026-07-28'], requested: '2027-01-01' }, method);
    assert.match(told.error.message, EXPLAINED('2027-01-01'), method);
    // It pinned nothing: initialize still opens a 2025 connection.
    assert.equal(era.refusal('initialize', {}), null, method);
  }
});
