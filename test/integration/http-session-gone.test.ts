/**
 * A 2025 HTTP session id the hub does not know (its hub was restarted or replaced since) is answered 404
 * saying why a session goes and what to send instead; it said only "Session not found: initialize a new
 * one", which read as a hub fault to whoever saw it after an upgrade.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, tempHome } from '../helpers/harness.js';

test('a session id the hub does not know (after a restart or a replace) gets 404 saying why and what to send', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\nhttp_engine = "node"\n', { mode: 0o600 });
  const hub = await startHub(t, home);
  const base = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'a-session-of-the-previous-hub', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  assert.equal(res.status, 404);
  const body = (await res.json()) as { error: { code: number; message: string } };
  assert.equal(body.error.code, -32001);
  assert.match(body.error.message, /^Session not found: this hub does not know this Mcp-Session-Id\./);
  assert.match(body.error.message, /restarted or replaced \(snowmux hub --replace\)/);
  assert.match(body.error.message, /send an initialize request without the Mcp-Session-Id header/);
});
