/**
 * A browser client on an allowed origin sends every header the MCP SDK clients set: the CORS preflight
 * allows each of them. The 2026-07-28 transport's Mcp-Method and Mcp-Name were missing, so a browser
 * refused every 2026-07-28 request (and a v2 client in `auto` mode could not even probe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hubFace } from '../helpers/in-process-face.js';

const ORIGIN = 'http://localhost:6274';
/** Request headers a browser sends without asking (CORS-safelisted); Content-Type only for form types, not JSON. */
const SAFELISTED = new Set(['accept', 'accept-language', 'content-language']);

test('the CORS preflight allows every header the SDK clients send, in both eras', async (t) => {
  const { fetch: inProcess } = hubFace(t, { allowedOrigins: [ORIGIN] });
  const sent = new Set<string>();
  const recording = (async (input: string | URL | Request, init?: RequestInit) => {
    for (const name of new Request(input, init).headers.keys()) sent.add(name.toLowerCase());
    return inProcess(input, init);
  }) as typeof fetch;
  const url = new URL('http://127.0.0.1/mcp');
  const requestInit = { headers: { authorization: 'Bearer smx_test' } };
  const clients = [
    new ClientV2({ name: 'auto', version: '1' }),
    new ClientV2({ name: 'legacy', version: '1' }, { versionNegotiation: { mode: 'legacy' } }),
    new ClientV2({ name: 'pinned', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } }),
  ];
  for (const client of clients) {
    await client.connect(new HttpV2(url, { fetch: recording, requestInit }));
    await client.listTools();
    await client.callTool({ name: 'execute_query', arguments: { query: 'select 1' } });
    await client.readResource({ uri: 'snowflake://DB/S/T' }).catch(() => {});
    await client.close();
  }
  const v1 = new ClientV1({ name: 'v1', version: '1' });
  await v1.connect(new HttpV1(url, { fetch: recording, requestInit }));
  await v1.listTools();
  await v1.close();
  assert.ok(sent.has('mcp-method') && sent.has('mcp-name') && sent.has('mcp-session-id'), [...sent].join(', '));

  const asked = [...sent].filter((h) => !SAFELISTED.has(h)).sort();
  const preflight = await inProcess('http://127.0.0.1/mcp', {
    method: 'OPTIONS',
    headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': asked.join(',') },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
  const allowed = new Set((preflight.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim().toLowerCase()));
  assert.deepEqual(asked.filter((h) => !allowed.has(h)), [], `the clients send ${asked.join(', ')}; the preflight allows ${[...allowed].join(', ')}`);
  assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /\bPOST\b.*\bDELETE\b/);
});
