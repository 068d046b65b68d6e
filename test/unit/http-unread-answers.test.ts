/**
 * The bound on answers their HTTP clients have not read counts what the MCP SDK's streams produced and the
 * engine has not taken yet: the SDK enqueues every message of a stream as it is sent, read or not, so a
 * 2025 POST whose batch is answered over SSE held every answer there, uncounted (one POST of 40 large
 * queries, never read, held 367 MiB until the 60 s stalled-output cut). Past the bound the stream is cut,
 * its calls cancelled, and what it held let go of.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerBudget } from '../../src/hub/http/answer-budget.js';
import { hubFace, legacySession, MCP_URL } from '../helpers/in-process-face.js';

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const batch = (n: number, from = 1) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'tools/call', params: { name: 'execute_query', arguments: { query: `select ${from + i}` } } })));

test('answers a 2025 POST streams over SSE count against the bound of unread answers while its client does not read them: past it the stream is cut and what it held let go of', async (t) => {
  const limit = 8 * 1024;
  const answers = new AnswerBudget(limit);
  const { fetch } = hubFace(t, { answers });
  const headers = await legacySession(fetch, '2025-03-26');
  // 60 answers of ~400 bytes each, ~24 KiB, produced while nobody reads the stream.
  const res = await fetch(MCP_URL, { method: 'POST', headers, body: batch(60) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  await until(`a cut (held ${answers.heldBytes} bytes)`, () => answers.cuts > 0);
  assert.equal(answers.cuts, 1);
  // What the stream held is let go of, and the client that comes to read finds the stream ended with the reason.
  await until(`the cut stream let go of (${answers.heldBytes} bytes held)`, () => answers.heldBytes === 0);
  await assert.rejects(res.text(), /did not read its answer: the hub holds \d+ bytes of answers its HTTP clients have not read \(limit 8192\)/);
});

test('a client that reads its SSE answers is not cut, and nothing stays counted once they are read', async (t) => {
  const answers = new AnswerBudget(64 * 1024);
  const { fetch } = hubFace(t, { answers });
  const headers = await legacySession(fetch, '2025-03-26');
  for (let round = 0; round < 3; round++) {
    const res = await fetch(MCP_URL, { method: 'POST', headers, body: batch(20, 1 + round * 20) });
    const text = await res.text();
    assert.equal(text.split('\n').filter((l) => l.startsWith('data: ')).length, 20);
  }
  assert.equal(answers.cuts, 0);
  assert.equal(answers.heldBytes, 0);
});
