import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as z from 'zod';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/server';
import { SNOWFLAKE_ONLY, forgetToolListings, offeredOn, serveToolListingOnce } from '../../src/hub/tools/tool-listing.js';

/** A server with one tool whose schema embeds `max`, as the hub's embed its limits; counts SDK listings. */
async function connected(max: number, key: string): Promise<{ client: Client; sdkListings: () => number; close: () => Promise<void> }> {
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} } });
  server.registerTool('pick', { description: 'd', inputSchema: z.object({ n: z.number().max(max) }) }, async () => ({ content: [] }));
  // Count how often the SDK's own handler runs: wrap it before the listing cache takes it over.
  const inner = server.server as unknown as { _requestHandlers: Map<string, (...a: unknown[]) => unknown> };
  const sdk = inner._requestHandlers.get('tools/list')!;
  let calls = 0;
  inner._requestHandlers.set('tools/list', (...a: unknown[]) => {
    calls += 1;
    return sdk(...a);
  });
  serveToolListingOnce(server, key);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(b);
  return { client, sdkListings: () => calls, close: async () => { await client.close(); await server.close(); } };
}

test('tools/list asks the SDK once per key; every session with that key gets the same listing', async (t) => {
  forgetToolListings();
  t.after(forgetToolListings);
  const one = await connected(10, 'limits-a');
  const two = await connected(10, 'limits-a');
  t.after(() => Promise.all([one.close(), two.close()]));
  const first = await one.client.listTools();
  const again = await one.client.listTools();
  const other = await two.client.listTools();
  assert.deepEqual(again.tools, first.tools);
  assert.deepEqual(other.tools, first.tools);
  assert.equal(one.sdkListings() + two.sdkListings(), 1, 'one conversion for three listings');
  assert.equal((first.tools[0]!.inputSchema.properties as Record<string, { maximum?: number }>).n!.maximum, 10);
});

test('a different key (other limits) gets its own listing', async (t) => {
  forgetToolListings();
  t.after(forgetToolListings);
  const small = await connected(10, 'limits-a');
  const large = await connected(99, 'limits-b');
  t.after(() => Promise.all([small.close(), large.close()]));
  const a = await small.client.listTools();
  const b = await large.client.listTools();
  const max = (r: typeof a) => (r.tools[0]!.inputSchema.properties as Record<string, { maximum?: number }>).n!.maximum;
  assert.equal(max(a), 10);
  assert.equal(max(b), 99);
});

test('tools that declare other engines are left out of a session\'s listing, asked at each listing, and stay callable', async (t) => {
  forgetToolListings();
  t.after(forgetToolListings);
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} } });
  server.registerTool('everywhere', { description: 'd', inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: 'here' }] }));
  server.registerTool('snowflake_only', { description: 'd', inputSchema: z.object({}), _meta: SNOWFLAKE_ONLY }, async () => ({ content: [{ type: 'text', text: 'needs Snowflake' }] }));
  let engine: 'duckdb' | 'snowflake' | undefined = 'duckdb';
  serveToolListingOnce(server, 'engine-key', { engine: () => engine, grants: () => () => true });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(b);
  t.after(async () => { await client.close(); await server.close(); });
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name), ['everywhere']);
  const called = await client.callTool({ name: 'snowflake_only', arguments: {} });
  assert.deepEqual(called.content, [{ type: 'text', text: 'needs Snowflake' }]);
  engine = 'snowflake';
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name), ['everywhere', 'snowflake_only']);
  engine = undefined;
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name), ['everywhere', 'snowflake_only'], 'an unresolved engine hides nothing: the call says why');
  assert.equal(offeredOn({}, 'duckdb'), true, 'a tool that declares nothing is offered everywhere');
});

test('a session is offered the tools its role grants, asked at each listing; changedSinceListed says when what it saw went stale', async (t) => {
  forgetToolListings();
  t.after(forgetToolListings);
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} } });
  for (const name of ['list_databases', 'execute_query', 'cortex']) {
    server.registerTool(name, { description: 'd', inputSchema: z.object({}), ...(name === 'cortex' ? { _meta: SNOWFLAKE_ONLY } : {}) }, async () => ({ content: [{ type: 'text', text: name }] }));
  }
  let grants = new Set(['list_databases']);
  let engine: 'duckdb' | 'snowflake' = 'duckdb';
  const listing = serveToolListingOnce(server, 'grant-key', { engine: () => engine, grants: () => (tool) => grants.has(tool) });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(b);
  t.after(async () => { await client.close(); await server.close(); });
  grants = new Set(['list_databases', 'cortex']);
  assert.equal(listing.changedSinceListed(), false, 'a client that never listed has nothing stale');
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name), ['list_databases'], 'cortex is granted but not on duckdb');
  assert.equal(listing.changedSinceListed(), false);
  grants = new Set(['list_databases', 'execute_query', 'cortex']);
  assert.equal(listing.changedSinceListed(), true, 'a new grant changes what the client would see');
  assert.equal(listing.changedSinceListed(), false, 'said once per change');
  engine = 'snowflake';
  assert.equal(listing.changedSinceListed(), true, 'so does another engine');
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name), ['list_databases', 'execute_query', 'cortex']);
  grants = new Set(['execute_query']);
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name), ['execute_query']);
  assert.equal(listing.changedSinceListed(), false, 'the client already saw the current selection');
  const refusedByListingOnly = await client.callTool({ name: 'list_databases', arguments: {} });
  assert.deepEqual(refusedByListingOnly.content, [{ type: 'text', text: 'list_databases' }], 'the listing decides what is offered, not what may run: the pipeline judges calls');
});

test('the listing names no JSON Schema dialect where it is MCP\'s default, and keeps every other keyword', async (t) => {
  forgetToolListings();
  t.after(forgetToolListings);
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { tools: {} } });
  server.registerTool(
    'pick',
    { description: 'd', inputSchema: z.object({ n: z.number().max(5) }), outputSchema: z.object({ picked: z.number().nullable() }) },
    async ({ n }) => ({ content: [], structuredContent: { picked: n } }),
  );
  // What the SDK itself lists: zod names the 2020-12 dialect in both schemas.
  const inner = server.server as unknown as { _requestHandlers: Map<string, (...a: unknown[]) => Promise<{ tools: Record<string, unknown>[] }>> };
  const sdkListing = await inner._requestHandlers.get('tools/list')!({ method: 'tools/list', params: {} }, {});
  serveToolListingOnce(server, 'dialect-key');
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(b);
  t.after(async () => { await client.close(); await server.close(); });
  const sdkTool = sdkListing.tools[0]! as { inputSchema: Record<string, unknown>; outputSchema: Record<string, unknown> };
  assert.equal(sdkTool.inputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema', 'the SDK names it (else this test proves nothing)');
  const [tool] = (await client.listTools()).tools;
  const { $schema: _in, ...input } = sdkTool.inputSchema;
  const { $schema: _out, ...output } = sdkTool.outputSchema;
  assert.deepEqual(tool!.inputSchema, input);
  assert.deepEqual(tool!.outputSchema, output);
  assert.deepEqual((await client.callTool({ name: 'pick', arguments: { n: 3 } })).structuredContent, { picked: 3 }, 'the client still validates the output against the listed schema');
});
