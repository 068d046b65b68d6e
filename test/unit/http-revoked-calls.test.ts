/**
 * A key revoked (or expired) while a call it started runs over /mcp: the answer's stream ends (as /shim links
 * and /events streams of the key do), and the call is cancelled in the warehouse too. Ending the stream alone
 * left the query running to its end for nobody: revoking a leaked key did not stop what it had started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyChecker } from '../../src/hub/keys/api-keys.js';
import { PassThrough } from 'node:stream';
import { hubFace } from '../helpers/in-process-face.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const call = (id: number, query: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } });
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'agent', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function revocableKeys(): { keys: KeyChecker; revoke(key: string): void } {
  const revoked = new Set<string>();
  const changed: (() => void)[] = [];
  return {
    keys: {
      activeCount: 2,
      check: (token) => (token === undefined ? { ok: false, reason: 'missing' } : revoked.has(token) ? { ok: false, reason: 'revoked' } : { ok: true, id: token.slice(0, 12), identity: 'alice' }),
      onChange: (listener) => changed.push(listener),
    },
    revoke(key) {
      revoked.add(key);
      for (const listener of changed) listener();
    },
  };
}

test('a call running over /mcp is cancelled in the warehouse when the key that started it is revoked, in both protocol eras', async (t) => {
  const { keys, revoke } = revocableKeys();
  const { face, warehouse, core } = hubFace(t, { keys });
  const post = (key: string, body: unknown, headers: Record<string, string> = {}) =>
    face.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { host: '127.0.0.1', authorization: `Bearer ${key}`, ...HEADERS, ...headers }, body: JSON.stringify(body) }), { remoteAddress: '127.0.0.1' });
  const outcomes: { outcome: string; errorCode?: string | null }[] = [];
  core.events.on('call', (c) => void outcomes.push(c));

  // A 2025 session, opened with the key that will be revoked; its call is answered over SSE.
  const init = await post('leaked-key-1', { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(init.status, 200);
  await init.text();
  const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post('leaked-key-1', { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
  // A 2026-07-28 request with another key of the same identity, kept.
  const eras = [
    { key: 'leaked-key-1', body: call(1, 'select 1 from held'), headers: session },
    { key: 'leaked-key-2', body: { ...call(2, 'select 2 from held'), params: { ...call(2, '').params, arguments: { query: 'select 2 from held' }, _meta: MODERN_META } }, headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'execute_query' } },
  ];
  for (const [i, era] of eras.entries()) {
    const started = warehouse.nextStart();
    // The 2025 call is answered over SSE (its answer starts at once); the 2026-07-28 one when it ends.
    const answered = post(era.key, era.body, era.headers).then(async (answer) => (await answer.text(), answer.status));
    await started;
    assert.equal(core.status().sessions.reduce((n, s) => n + (s.running as number), 0), 1, 'the call runs');
    const ended = new Promise<void>((resolve) => core.events.once('call', () => resolve()));
    revoke(era.key);
    await ended;
    assert.deepEqual([outcomes[i]!.outcome, outcomes[i]!.errorCode], ['cancelled', 'QUERY_CANCELLED'], `era ${i}: the call was cancelled in the warehouse, not left running`);
    // Its answer ends too (the stream of the revoked key, or the 2026-07-28 answer).
    await answered;
  }
});

test("a key whose identity is changed (keys.json edited) ends what it holds open: its running call, its /events stream and its /shim link, as a revoked key's", async (t) => {
  // The key stays valid, but now names another identity (another role, limits, quota and view of the hub).
  let identity = 'alice';
  const changed: (() => void)[] = [];
  const keys: KeyChecker = {
    activeCount: 1,
    check: (token) => (token === undefined ? { ok: false, reason: 'missing' } : { ok: true, id: token.slice(0, 12), identity }),
    onChange: (listener) => changed.push(listener),
  };
  const { face, warehouse, core } = hubFace(t, { keys });
  const key = 'moved-key-1';
  const outcomes: { outcome: string; errorCode?: string | null }[] = [];
  core.events.on('call', (c) => void outcomes.push(c));
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    face.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { host: '127.0.0.1', authorization: `Bearer ${key}`, ...HEADERS, ...headers }, body: JSON.stringify(body) }), { remoteAddress: '127.0.0.1' });
  const events = await face.fetch(new Request('http://127.0.0.1/events', { headers: { host: '127.0.0.1', authorization: `Bearer ${key}` } }), { remoteAddress: '127.0.0.1' });
  assert.equal(events.status, 200);
  const reader = events.body!.getReader();
  await reader.read(); // hello
  const upgrade = face.checkShimUpgrade(new Request('http://127.0.0.1/shim', { headers: { host: '127.0.0.1', authorization: `Bearer ${key}` } }), { remoteAddress: '127.0.0.1' });
  assert.ok(!(upgrade instanceof Response));
  const link = new PassThrough();
  face.serveShim(link, upgrade);

  const started = warehouse.nextStart();
  const body = { ...call(1, 'select 1 from held'), params: { ...call(1, '').params, arguments: { query: 'select 1 from held' }, _meta: MODERN_META } };
  const answered = post(body, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'execute_query' }).then(async (a) => void (await a.text()));
  await started;
  const ended = new Promise<void>((resolve) => core.events.once('call', () => resolve()));
  identity = 'bob';
  for (const listener of changed) listener();
  await ended;
  assert.deepEqual([outcomes[0]!.outcome, outcomes[0]!.errorCode], ['cancelled', 'QUERY_CANCELLED'], "alice's call does not run on as hers once the key is bob's");
  await answered;
  // What it was sent before (the call's events) is read out; then it ends.
  let done = false;
  for (let i = 0; i < 20 && !done; i++) done = (await reader.read()).done;
  assert.equal(done, true, 'the /events stream ended');
  assert.equal(link.destroyed, true, 'the /shim link ended');
});

test('a revoked key\'s /shim link ends as soon as the hub is told the keys changed (snowmux keys revoke) or reloads, not at the next 5 s check', async (t) => {
  // The home's keys.json: no change messages (a team's pub/sub has them); the hub re-reads it when asked.
  const revoked = new Set<string>();
  const keys: KeyChecker = {
    activeCount: 1,
    check: (token) => (token === undefined ? { ok: false, reason: 'missing' } : revoked.has(token) ? { ok: false, reason: 'revoked' } : { ok: true, id: token.slice(0, 12), identity: 'alice' }),
  };
  const { face, core } = hubFace(t, { keys });
  const open = (key: string) => {
    const upgrade = face.checkShimUpgrade(new Request('http://127.0.0.1/shim', { headers: { host: '127.0.0.1', authorization: `Bearer ${key}` } }), { remoteAddress: '127.0.0.1' });
    assert.ok(!(upgrade instanceof Response));
    const link = new PassThrough();
    face.serveShim(link, upgrade);
    return link;
  };
  const told = open('revoked-key-1');
  const kept = open('kept-key-01');
  revoked.add('revoked-key-1');
  assert.deepEqual(core.keysChanged(), { rechecked: true });
  assert.equal(told.destroyed, true, 'keys-changed ended the revoked key\'s link at once');
  assert.equal(kept.destroyed, false, 'a valid key\'s link stays');
  const reloaded = open('revoked-key-2');
  revoked.add('revoked-key-2');
  core.events.emit('reload', { outcome: 'applied', applied: [] });
  assert.equal(reloaded.destroyed, true, 'a reload re-reads the keys too');
  assert.equal(kept.destroyed, false);
});
