/**
 * /mcp without a session: a GET (a notification stream) or DELETE (ending a session) names no session to
 * serve, so it is answered 405 with Allow, as the Streamable HTTP transport says for a GET the server does
 * not serve as a stream (clients that probe GET before initializing go on only on 405); a POST other than
 * initialize stays 400. A 2026-07-28 client (which has no session to name) is answered the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubFace } from '../helpers/in-process-face.js';

test('a GET or DELETE on /mcp without a session is 405 with Allow: POST; a POST other than initialize is 400', async (t) => {
  const { fetch: inProcess } = hubFace(t);
  for (const version of [undefined, '2025-06-18', '2026-07-28']) {
    const versioned: Record<string, string> = version ? { 'mcp-protocol-version': version } : {};
    for (const method of ['GET', 'DELETE']) {
      const res = await inProcess('http://127.0.0.1/mcp', { method, headers: { accept: 'text/event-stream', ...versioned } });
      const body = await res.text();
      assert.equal(res.status, 405, `${method} ${version}: ${body}`);
      assert.equal(res.headers.get('allow'), 'POST', `${method} ${version}`);
      assert.match(body, /Mcp-Session-Id/, `${method} ${version}`);
    }
  }
  const post = await inProcess('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(post.status, 400);
  assert.match(await post.text(), /start with an initialize request/);
});
