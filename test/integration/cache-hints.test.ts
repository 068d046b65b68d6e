/**
 * The cache hints of the 2026-07-28 revision on the wire: every cacheable answer (tools/list, prompts/list,
 * resources/list, resources/templates/list, resources/read, server/discover) to a 2026-07-28 request carries
 * `resultType`, `ttlMs` and `cacheScope` — the listing's minute, the metadata cache's TTL for resources,
 * `private` throughout — over `/mcp` and over the Unix socket (whose tools/list answer is pre-serialised:
 * session/serialized-once.ts); 2025-era answers carry none of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initialize, rawLink, tempHome } from '../helpers/harness.js';
import { createKey, rpcAnswer, startHttpHub } from '../helpers/mcp-http.js';

const METADATA_TTL_MS = 45_000;
const LISTING_TTL_MS = 60_000;
const MODERN = '2026-07-28';
const RESOURCE = 'snowflake://SNOWMUX_SAMPLE/TPCH/NATION';

/** Each cacheable method, its params, and the ttl its 2026-07-28 answer must carry. */
const CACHEABLE: { method: string; params: Record<string, unknown>; ttlMs: number; modernOnly?: boolean; check(result: Record<string, unknown>): void }[] = [
  { method: 'tools/list', params: {}, ttlMs: LISTING_TTL_MS, check: (r) => assert.ok((r.tools as { name: string }[]).some((x) => x.name === 'execute_query')) },
  { method: 'prompts/list', params: {}, ttlMs: LISTING_TTL_MS, check: (r) => assert.deepEqual((r.prompts as { name: string }[]).map((x) => x.name), ['explore_schema']) },
  { method: 'server/discover', params: {}, ttlMs: LISTING_TTL_MS, modernOnly: true, check: (r) => assert.match(JSON.stringify(r), /"name":"snowmux"/) },
  { method: 'resources/list', params: {}, ttlMs: METADATA_TTL_MS, check: (r) => assert.ok(Array.isArray(r.resources)) },
  { method: 'resources/templates/list', params: {}, ttlMs: METADATA_TTL_MS, check: (r) => assert.deepEqual((r.resourceTemplates as { uriTemplate: string }[]).map((x) => x.uriTemplate), ['snowflake://{database}/{schema}/{object}']) },
  { method: 'resources/read', params: { uri: RESOURCE }, ttlMs: METADATA_TTL_MS, check: (r) => assert.match((r.contents as { text: string }[])[0]!.text, /N_NATIONKEY/) },
];

const modernMeta = (client: string) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: client, version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
});

function assertHinted(method: string, result: Record<string, unknown> | undefined, ttlMs: number, where: string): void {
  assert.ok(result, `${where} ${method}: no result`);
  assert.equal(result.resultType, 'complete', `${where} ${method}: resultType`);
  assert.equal(result.ttlMs, ttlMs, `${where} ${method}: ttlMs`);
  assert.equal(result.cacheScope, 'private', `${where} ${method}: cacheScope`);
}

function assertUnhinted(method: string, result: Record<string, unknown> | undefined, where: string): void {
  assert.ok(result, `${where} ${method}: no result`);
  for (const field of ['resultType', 'ttlMs', 'cacheScope']) assert.ok(!(field in result), `${where} ${method}: a 2025-era answer carries no ${field}: ${JSON.stringify(result).slice(0, 300)}`);
}

test('2026-07-28 cacheable answers carry the configured hints over /mcp and the socket; 2025-era answers carry none', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:0"\n[limits]\nmetadata_cache_ttl = "${METADATA_TTL_MS / 1000}s"\n`);
  const { url } = await startHttpHub(t, home);
  const key = await createKey(home, 'hinted');
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  // /mcp, 2026-07-28: each request self-contained, with its method (and name) in headers.
  let id = 0;
  for (const c of CACHEABLE) {
    const name: Record<string, string> = c.method === 'resources/read' ? { 'mcp-name': RESOURCE } : {};
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-protocol-version': MODERN, 'mcp-method': c.method, ...name },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: c.method, params: { ...c.params, _meta: modernMeta('hinted-http') } }),
    });
    const answer = await rpcAnswer(res);
    const result = answer.result as Record<string, unknown> | undefined;
    assertHinted(c.method, result, c.ttlMs, '/mcp');
    c.check(result!);
  }

  // /mcp, 2025-11-25: a session, and no hints.
  const opened = await fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'legacy-hints', version: '1' } } }) });
  await rpcAnswer(opened);
  const inSession = { ...headers, 'mcp-session-id': opened.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await (await fetch(`${url}/mcp`, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  for (const c of CACHEABLE.filter((x) => !x.modernOnly)) {
    const answer = await rpcAnswer(await fetch(`${url}/mcp`, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: c.method, params: c.params }) }));
    const result = answer.result as Record<string, unknown> | undefined;
    assertUnhinted(c.method, result, '/mcp (2025)');
    c.check(result!);
  }

  // The Unix socket's line transport, both eras on one link each.
  const modern = await rawLink(t, join(home, 'hub.sock'));
  for (const c of CACHEABLE) {
    const answer = await modern.request(++id, c.method, { ...c.params, _meta: modernMeta('hinted-socket') });
    const result = answer.result as Record<string, unknown> | undefined;
    assertHinted(c.method, result, c.ttlMs, 'socket');
    c.check(result!);
  }
  const legacy = await rawLink(t, join(home, 'hub.sock'));
  await initialize(legacy, { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'legacy-socket', version: '1' } });
  for (const c of CACHEABLE.filter((x) => !x.modernOnly)) {
    const answer = await legacy.request(++id, c.method, c.params);
    const result = answer.result as Record<string, unknown> | undefined;
    assertUnhinted(c.method, result, 'socket (2025)');
    c.check(result!);
  }
});
