/**
 * A 2025 session over /mcp follows the revision its initialize negotiated: MCP 2025-06-18 removed JSON-RPC
 * batches, yet a session that negotiated it (or 2025-11-25) had its batches served by the SDK's transport;
 * now such a batch is refused (-32600, saying why and what to send), while 2024-11-05 and 2025-03-26
 * sessions, whose revisions have batches, are still served them. (The Unix socket and stdio take no batches
 * in any revision, saying so: line-batches.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MCP_URL, hubFace, legacySession, rpcMessages } from '../helpers/in-process-face.js';

const BATCH = JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]);

for (const version of ['2024-11-05', '2025-03-26']) {
  test(`a ${version} session (its revision has batches) is served a batch`, async (t) => {
    const { fetch } = hubFace(t);
    const headers = await legacySession(fetch, version);
    const res = await fetch(MCP_URL, { method: 'POST', headers, body: BATCH });
    assert.equal(res.status, 200);
    const answers = await rpcMessages(res);
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2]);
    assert.ok(answers.every((a) => a.error === undefined));
  });
}

for (const version of ['2025-06-18', '2025-11-25']) {
  test(`a ${version} session (no batches in its revision) is refused a batch, saying why and what to send`, async (t) => {
    const { fetch } = hubFace(t);
    const headers = await legacySession(fetch, version);
    const res = await fetch(MCP_URL, { method: 'POST', headers, body: BATCH });
    assert.equal(res.status, 400);
    const [answer] = await rpcMessages(res);
    assert.equal(answer!.id, null);
    assert.equal(answer!.error?.code, -32600);
    assert.match(answer!.error!.message, new RegExp(`speaks MCP ${version}.*no JSON-RPC batches.*2025-06-18.*POST of its own`));
    // The session still serves single messages.
    const one = await fetch(MCP_URL, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }) });
    assert.deepEqual((await rpcMessages(one)).map((a) => [a.id, a.error]), [[3, undefined]]);
  });
}

