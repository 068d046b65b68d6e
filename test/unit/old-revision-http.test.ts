/**
 * A 2024-11-05 or 2025-03-26 session reads no structuredContent, so it must find everything in the text:
 * over /mcp it was sent output schemas, titles and structured content, and a text table whose cells past
 * 120 characters were cut (the whole value being in the structured content it does not read). Now such a
 * session is listed tools as its revision defines them and answered with the text alone, every cell whole,
 * whatever its role's result form ("structured" left it no rows at all); 2025-06-18 and later are unchanged.
 * The line faces (shim, stdio): test/e2e/old-revision.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryTransport, type JSONRPCMessage } from '@modelcontextprotocol/server';
import type { QueryResult } from '../../src/hub/warehouse/types.js';
import { createMcpServer } from '../../src/hub/core/mcp-server.js';
import { observeClientMessage } from '../../src/hub/session/session.js';
import { MCP_POST_HEADERS, MCP_URL, hubFace, legacySession, rpcMessages, Held } from '../helpers/in-process-face.js';
import { coreOver } from '../helpers/in-memory-hub.js';

const WIDE = `${'w'.repeat(299)}Z`;

/** A warehouse whose every query answers one row of one 300-character cell. */
function wide(warehouse: Held): void {
  warehouse.query = async (): Promise<QueryResult> => ({ columns: [{ name: 'WIDE', type: 'VARCHAR' }], rows: [[WIDE]], rowCount: 1, truncated: false, elapsedMs: 0 });
}

const call = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select wide' } } });

for (const version of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) {
  test(`/mcp, a ${version} session: ${version < '2025-06-18' ? 'its revision\'s listing, the text alone with whole cells' : 'unchanged (output schemas, structured content, a cut table cell)'}`, async (t) => {
    const { fetch, warehouse } = hubFace(t);
    wide(warehouse);
    const headers = await legacySession(fetch, version);
    const listed = (await rpcMessages(await fetch(MCP_URL, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) })))[0]!;
    const tools = (listed.result as { tools: Record<string, unknown>[] }).tools;
    const query = tools.find((x) => x.name === 'execute_query')!;
    const [answer] = await rpcMessages(await fetch(MCP_URL, { method: 'POST', headers, body: call(2) }));
    const result = answer!.result as { content: { text: string }[]; structuredContent?: { rows: unknown[][] }; isError?: boolean };
    assert.ok(!result.isError, JSON.stringify(result));
    const text = result.content.map((c) => c.text).join('\n');
    if (version >= '2025-06-18') {
      assert.ok(query.outputSchema);
      assert.equal(typeof query.title, 'string');
      assert.deepEqual(result.structuredContent?.rows, [[WIDE]]);
      assert.ok(!text.includes(WIDE), 'the table beside structured content cuts the cell');
      return;
    }
    for (const tool of tools) {
      const extra = Object.keys(tool).filter((k) => !['name', 'description', 'inputSchema', ...(version >= '2025-03-26' ? ['annotations'] : [])].includes(k));
      assert.deepEqual(extra, [], `${tool.name as string}: only what ${version} defines`);
    }
    assert.equal(result.structuredContent, undefined);
    assert.ok(text.includes(WIDE), text);
  });
}

/** A raw 2025 client of a server made before its initialize, as the socket and stdio make it (the face observes each message). */
async function rawSession(t: { after(fn: () => unknown): void }, config: string, version: string) {
  const warehouse = new Held();
  wide(warehouse);
  const core = coreOver(t, warehouse, { config });
  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  t.after(() => attached.detach('test over'));
  const server = createMcpServer(attached.env);
  const [client, serverSide] = InMemoryTransport.createLinkedPair();
  const answers = new Map<unknown, (m: JSONRPCMessage) => void>();
  client.onmessage = (m) => answers.get((m as { id?: unknown }).id)?.(m);
  await server.connect(serverSide);
  await client.start();
  t.after(async () => {
    await client.close();
    await server.close();
  });
  const send = async (message: Record<string, unknown>) => {
    const full = { jsonrpc: '2.0', ...message } as JSONRPCMessage;
    observeClientMessage(attached.session, full);
    const answered = 'id' in message ? new Promise<JSONRPCMessage>((resolve) => answers.set(message.id, resolve)) : undefined;
    await client.send(full);
    return answered as Promise<unknown> | undefined;
  };
  await send({ id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'old', version: '1' } } });
  await send({ method: 'notifications/initialized' });
  return send;
}

test('a role with result_form = "structured" (its rows in structured content alone): a 2025-03-26 client gets them in the text, whole', async (t) => {
  const config = '[roles.lean]\nresult_form = "structured"\n';
  const old = await rawSession(t, config, '2025-03-26');
  const result = ((await old({ id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select wide' } } })) as { result: { content: { text: string }[]; structuredContent?: unknown } }).result;
  assert.equal(result.structuredContent, undefined);
  assert.ok(result.content[0]!.text.includes(WIDE), result.content[0]!.text);
  // A 2025-06-18 client of the same role is served its form: the rows once, in structured content.
  const modern = await rawSession(t, config, '2025-06-18');
  const served = ((await modern({ id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select wide' } } })) as { result: { content: { text: string }[]; structuredContent?: { rows: unknown[][] } } }).result;
  assert.deepEqual(served.structuredContent?.rows, [[WIDE]]);
  assert.ok(!served.content[0]!.text.includes(WIDE));
});

for (const version of ['2024-11-05', '2025-03-26', '2025-06-18']) {
  test(`/mcp, a ${version} session: prompts and resource templates are listed ${version < '2025-06-18' ? 'without title (2025-06-18 added it)' : 'with their titles'}`, async (t) => {
    const { fetch } = hubFace(t);
    const headers = await legacySession(fetch, version);
    const list = async (id: number, method: string) => (await rpcMessages(await fetch(MCP_URL, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id, method }) })))[0]!.result as Record<string, Record<string, unknown>[]>;
    const prompts = (await list(1, 'prompts/list')).prompts!;
    const templates = (await list(2, 'resources/templates/list')).resourceTemplates!;
    assert.ok(prompts.length > 0 && templates.length > 0);
    const titled = [...prompts, ...templates].filter((entry) => 'title' in entry);
    if (version >= '2025-06-18') assert.equal(titled.length, prompts.length + templates.length);
    else assert.deepEqual(titled, []);
    // Nothing else is lost: names, descriptions and the prompt's arguments stay.
    assert.equal(prompts[0]!.name, 'explore_schema');
    assert.ok(Array.isArray(prompts[0]!.arguments) && (prompts[0]!.arguments as unknown[]).length === 2);
    assert.equal(typeof templates[0]!.uriTemplate, 'string');
  });
}

for (const version of ['2024-11-05', '2025-03-26']) {
  test(`/mcp, a ${version} initialize: ${version === '2024-11-05' ? 'no completions capability (2025-03-26 added it)' : 'the completions capability'}`, async (t) => {
    const { fetch } = hubFace(t);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'c', version: '1' } } });
    const [answer] = await rpcMessages(await fetch(MCP_URL, { method: 'POST', headers: MCP_POST_HEADERS, body }));
    const result = answer!.result as { protocolVersion: string; capabilities: Record<string, unknown> };
    assert.equal(result.protocolVersion, version);
    assert.deepEqual(Object.keys(result.capabilities).sort(), ['prompts', 'resources', 'tools', ...(version === '2024-11-05' ? [] : ['completions'])].sort());
  });
}
