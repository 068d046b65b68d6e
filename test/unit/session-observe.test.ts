/**
 * The protocol version a session shows (status, /events) is the one it speaks: an initialize's answer
 * agrees on the client's version when the SDK serves it, else on the SDK's latest; a 2026-07-28 request's
 * envelope names the revision only when the hub serves it (a request claiming another is refused). Status
 * showed the version asked for: 2099-01-01 for a session of 2025-11-25, and an HTTP client's shared session
 * took the version of its refused requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/server';
import { Session, observeClientMessage } from '../../src/hub/session/session.js';

const session = () => new Session({ id: 's', identity: { kind: 'local-user', name: 'u' }, transport: 'stdio' });
const initialize = (protocolVersion: string) => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'c', version: '1' } } });
const modern = (revision: string) => ({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': revision, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'm', version: '1' } } } });

test('an initialize shows the version its answer agrees on, not the one asked for', () => {
  const served = session();
  observeClientMessage(served, initialize('2025-06-18'));
  assert.equal(served.protocolVersion, '2025-06-18');
  const unknown = session();
  observeClientMessage(unknown, initialize('2099-01-01'));
  assert.equal(unknown.protocolVersion, LATEST_PROTOCOL_VERSION);
  assert.deepEqual(unknown.client, { name: 'c', version: '1' });
});

test('a 2026-07-28 request names the revision; one claiming a revision the hub does not serve renames nothing', () => {
  const s = session();
  observeClientMessage(s, modern('2026-07-28'));
  assert.equal(s.protocolVersion, '2026-07-28');
  observeClientMessage(s, modern('2099-01-01'));
  assert.equal(s.protocolVersion, '2026-07-28');
});
