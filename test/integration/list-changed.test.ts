/**
 * A session is offered the tools its role grants, and when `snowmux reload` changes that, its client is
 * told (notifications/tools/list_changed, which the hub advertises as tools.listChanged) and its next
 * listing is the new one. Sessions whose offer did not change hear nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { INIT_PARAMS, cliEnv, initialize, rawLink, runCli, startHub, tempHome, type RawLink } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { createKey, rpcAnswer, startHttpHub } from '../helpers/mcp-http.js';

const roles = (a: string) => `[roles.a]\nclients = ["editor-a"]\ntools = [${a}]\n\n[roles.b]\nclients = ["editor-b"]\ntools = ["list_databases", "execute_query"]\n`;

async function toolNames(link: RawLink, id: string): Promise<string[]> {
  const res = (await link.request(id, 'tools/list')) as { result: { tools: { name: string }[] } };
  return res.result.tools.map((t) => t.name);
}

/** Every message up to the answer to a ping sent now: what the hub sent this session before it. */
async function messagesBeforePing(link: RawLink, id: string): Promise<Record<string, unknown>[]> {
  link.send(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' })}\n`);
  const seen: Record<string, unknown>[] = [];
  for (;;) {
    const m = await link.next();
    if (m.id === id) return seen;
    seen.push(m);
  }
}

test('a reload that changes a role\'s tools tells that role\'s sessions, and only them; listings offer only granted tools', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  writeFileSync(file, roles('"list_databases"'));
  await startHub(t, home);
  const a = await rawLink(t, join(home, 'hub.sock'));
  const b = await rawLink(t, join(home, 'hub.sock'));
  const init = await initialize(a, { ...INIT_PARAMS, clientInfo: { name: 'editor-a', version: '1' } });
  const capabilities = (init.result as { capabilities: Record<string, unknown> }).capabilities;
  assert.deepEqual(capabilities.tools, { listChanged: true });
  // The resource template and the prompt never change: no listChanged promised for them.
  assert.deepEqual(capabilities.resources, { listChanged: false });
  assert.deepEqual(capabilities.prompts, { listChanged: false });
  await initialize(b, { ...INIT_PARAMS, clientInfo: { name: 'editor-b', version: '1' } });
  assert.deepEqual(await toolNames(a, 'a1'), ['list_databases'], 'role a is offered only what it grants');
  assert.deepEqual(await toolNames(b, 'b1'), ['list_databases', 'execute_query']);

  writeFileSync(file, roles('"list_databases", "describe_table"'));
  const reloaded = await runCli(['reload', '--home', home]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  // The hub tells sessions before it answers the reload, so each one's notice (if any) precedes a later ping's answer.
  assert.deepEqual(await messagesBeforePing(a, 'a2'), [{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
  assert.deepEqual(await messagesBeforePing(b, 'b2'), [], 'role b did not change: no notice');
  assert.deepEqual(await toolNames(a, 'a3'), ['list_databases', 'describe_table']);

  // Denied again: told again; a reload that changes nothing for anyone tells no one.
  writeFileSync(file, roles('"list_databases"'));
  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  assert.deepEqual(await messagesBeforePing(a, 'a4'), [{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
  writeFileSync(file, `# a comment only\n${roles('"list_databases"')}`);
  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  assert.deepEqual(await messagesBeforePing(a, 'a5'), [], 'a has not listed since its last notice, and its offer is unchanged');
  assert.deepEqual(await toolNames(a, 'a6'), ['list_databases']);

  // A hidden tool is still judged, not merely hidden: the call says the role does not allow it.
  const call = (await a.request('a7', 'tools/call', { name: 'execute_query', arguments: { query: 'SELECT 1' } })) as { result: { isError: boolean; content: { text: string }[] } };
  assert.equal(call.result.isError, true);
  assert.match(call.result.content[0]!.text, /not allowed for role "a"/);
});

test('execute_query is listed as what it is for the role: read-only for readers; for a role that may write, not read-only, destructive, not idempotent, and a reload that grants write tells the session', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  const config = (write: boolean) => `[roles.writer]\nclients = ["editor-w"]\nwrite = ${write}\n`;
  writeFileSync(file, config(false));
  await startHub(t, home);
  const w = await rawLink(t, join(home, 'hub.sock'));
  const r = await rawLink(t, join(home, 'hub.sock'));
  await initialize(w, { ...INIT_PARAMS, clientInfo: { name: 'editor-w', version: '1' } });
  await initialize(r, { ...INIT_PARAMS, clientInfo: { name: 'reader', version: '1' } });
  type Listed = { name: string; title?: string; description: string; annotations: Record<string, boolean> };
  const executeQuery = async (link: RawLink, id: string): Promise<Listed> => {
    const res = (await link.request(id, 'tools/list')) as { result: { tools: Listed[] } };
    return res.result.tools.find((x) => x.name === 'execute_query')!;
  };
  const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
  assert.deepEqual((await executeQuery(w, 'w1')).annotations, readOnly, 'write = false: read-only');

  writeFileSync(file, config(true));
  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  assert.deepEqual(await messagesBeforePing(w, 'w2'), [{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }], 'the writer is told its listing changed');
  assert.deepEqual(await messagesBeforePing(r, 'r2'), [], 'a reader is not');
  const writer = await executeQuery(w, 'w3');
  // Clients run a tool marked read-only without asking: a role that may DELETE must not be offered one.
  assert.deepEqual(writer.annotations, { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false });
  assert.doesNotMatch(`${writer.title} ${writer.description}`, /read-only|Writes[^.]*are refused/i, writer.description);
  assert.match(writer.description, /may write/);
  const reader = await executeQuery(r, 'r3');
  assert.deepEqual(reader.annotations, readOnly, 'another role in the same hub is still offered the read-only tool');
  assert.match(reader.description, /read-only/);
});

test('a 2025-era HTTP session is told on its GET stream when a reload changes the tools its key\'s role is offered', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  const config = (tools: string) => `[hub]\nhttp_listen = "127.0.0.1:0"\n\n[roles.remote]\nidentities = ["ana"]\ntools = [${tools}]\n`;
  writeFileSync(file, config('"list_databases"'));
  const { url } = await startHttpHub(t, home);
  const key = await createKey(home, 'ana');
  const endpoint = new URL('/mcp', url);
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const post = (body: unknown) => fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body) });

  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });
  assert.equal(init.status, 200);
  headers['mcp-session-id'] = init.headers.get('mcp-session-id')!;
  headers['mcp-protocol-version'] = INIT_PARAMS.protocolVersion;
  await rpcAnswer(init);
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  const listed = (await rpcAnswer(await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }))) as { result: { tools: { name: string }[] } };
  assert.deepEqual(listed.result.tools.map((x) => x.name), ['list_databases']);

  const aborted = new AbortController();
  t.after(() => aborted.abort());
  const stream = await fetch(endpoint, { headers: { ...headers, accept: 'text/event-stream' }, signal: aborted.signal });
  assert.equal(stream.status, 200);
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();

  writeFileSync(file, config('"list_databases", "execute_query"'));
  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  // The hub wrote the notice before it answered the reload: a bound only so a missing notice fails, not hangs.
  const bound = setTimeout(() => aborted.abort(), 20_000);
  let seen = '';
  try {
    while (!seen.includes('notifications/tools/list_changed')) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before the notice: ${seen}`);
      seen += value;
    }
  } catch (err) {
    assert.fail(`no notifications/tools/list_changed on the GET stream (${String(err)}): ${seen}`);
  } finally {
    clearTimeout(bound);
  }
  const relisted = (await rpcAnswer(await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }))) as { result: { tools: { name: string }[] } };
  assert.deepEqual(relisted.result.tools.map((x) => x.name), ['list_databases', 'execute_query']);
  aborted.abort();
});

/** A 2026-07-28 client (through a shim, or straight to /mcp) that listens for tools/list_changed. */
async function modernListener(t: Parameters<typeof tempHome>[0], transport: StdioClientTransport | StreamableHTTPClientTransport): Promise<{ client: Client; told: () => Promise<void> }> {
  const client = new Client({ name: 'editor-m', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  let tell: () => void = () => {};
  let told = new Promise<void>((r) => (tell = r));
  client.setNotificationHandler('notifications/tools/list_changed', () => tell());
  await client.connect(transport);
  t.after(() => client.close().catch(() => {}));
  const subscription = await client.listen({ toolsListChanged: true });
  t.after(() => subscription.close());
  return {
    client,
    told: async () => {
      // A bound only so a missing notice fails instead of hanging: the hub sends it before it answers the reload.
      let bound: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (bound = setTimeout(() => reject(new Error('no notifications/tools/list_changed within 20 s')), 20_000)));
      try {
        await Promise.race([told, late]);
      } finally {
        clearTimeout(bound);
      }
      told = new Promise<void>((r) => (tell = r));
    },
  };
}

test('2026-07-28 clients that listen (subscriptions/listen) hear tools/list_changed after a reload, through a shim and over HTTP', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  const config = (tools: string) => `[hub]\nhttp_listen = "127.0.0.1:0"\n\n[roles.remote]\nidentities = ["*"]\ntools = [${tools}]\n`;
  writeFileSync(file, config('"list_databases"'));
  const { url } = await startHttpHub(t, home);
  const key = await createKey(home, 'ana');
  const viaShim = await modernListener(t, new StdioClientTransport({ command: process.execPath, args: [cliPath, 'shim', '--home', home], env: cliEnv(), stderr: 'ignore' }));
  const viaHttp = await modernListener(t, new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  for (const c of [viaShim, viaHttp]) assert.deepEqual((await c.client.listTools()).tools.map((x) => x.name), ['list_databases']);

  writeFileSync(file, config('"list_databases", "describe_table"'));
  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  await Promise.all([viaShim.told(), viaHttp.told()]);
  for (const c of [viaShim, viaHttp]) assert.deepEqual((await c.client.listTools({}, { cacheMode: 'refresh' } as never)).tools.map((x) => x.name), ['list_databases', 'describe_table']);
});
