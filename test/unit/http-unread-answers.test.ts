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
import { unreadAnswerBudget } from '../../src/hub/http/serve-http.js';
import { ownStatus } from '../../src/hub/core/status-view.js';
import type { HubCore } from '../../src/hub/core/hub-core.js';

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const batch = (n: number, from = 1) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'tools/call', params: { name: 'execute_query', arguments: { query: `select ${from + i}` } } })));

test('answers a 2025 POST streams over SSE count against the bound of unread answers while its client does not read them: past it the stream is cut and what it held let go of', async (t) => {
  // A 2025-03-26 session is answered in text alone (~130 bytes a call): 60 answers are ~8 KiB.
  const limit = 2 * 1024;
  const answers = new AnswerBudget(limit);
  const { fetch } = hubFace(t, { answers });
  const headers = await legacySession(fetch, '2025-03-26');
  // 60 answers produced while nobody reads the stream.
  const res = await fetch(MCP_URL, { method: 'POST', headers, body: batch(60) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  await until(`a cut (held ${answers.heldBytes} bytes)`, () => answers.cuts > 0);
  assert.equal(answers.cuts, 1);
  // What the stream held is let go of, but for the explanations: the client that comes to read finds, for
  // each request whose answer was cut, a JSON-RPC error saying why and what to do, and the stream ended.
  await until(`the cut stream let go of (${answers.heldBytes} bytes held)`, () => answers.heldBytes === 0);
  const messages = (await res.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { id: number; result?: unknown; error?: { code: number; message: string; data?: { code?: string; retryable?: boolean } } });
  const cut = messages.filter((m) => m.error !== undefined);
  assert.ok(cut.length > 0, 'the cut requests are answered');
  // Every request of the batch is answered once: by its result, if that was handed on before the cut, or by the error.
  assert.deepEqual(messages.map((m) => m.id).sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1));
  for (const m of cut) {
    assert.equal(m.error?.data?.code, 'ANSWER_NOT_READ');
    assert.equal(m.error?.data?.retryable, true);
    assert.match(m.error?.message ?? '', /cut the answer to this request because the client did not read it: the hub holds \d+ bytes of answers its HTTP clients have not read \(limit 2048\).*Its call was cancelled\. Read streamed answers as they come .*send the request again/);
  }
});

test('a 2025 POST of one large request whose answer alone passes the bound: the client reading later gets a JSON-RPC error under its id, not a truncated stream', async (t) => {
  const answers = new AnswerBudget(100);
  const { fetch } = hubFace(t, { answers });
  const headers = await legacySession(fetch, '2025-03-26');
  // (Its initialize's answer, alone over the bound too, was cut.)
  const before = answers.cuts;
  // The test's warehouse answers ~130 bytes a call: alone over a bound of 100.
  const res = await fetch(MCP_URL, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 'q-7', method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 7' } } }) });
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  await until('a cut', () => answers.cuts > before);
  const text = await res.text();
  const messages = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { id: unknown; error?: { data?: { code?: string } } });
  assert.deepEqual(messages.map((m) => [m.id, m.error?.data?.code]), [['q-7', 'ANSWER_NOT_READ']]);
  await until('nothing held', () => answers.heldBytes === 0);
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

test('an answer cut for the bound reaches the hub\'s status (HTTP answers cut, last cut with whose it was), not only the log; another identity\'s own view is not told whose', async (t) => {
  let core: HubCore | undefined;
  const answers = unreadAnswerBudget({ noteAnswerCut: (why, identity) => core!.noteAnswerCut(why, identity) }, 2 * 1024);
  const face = hubFace(t, { answers });
  core = face.core;
  const headers = await legacySession(face.fetch, '2025-03-26');
  const res = await face.fetch(MCP_URL, { method: 'POST', headers, body: batch(60) });
  await until('a cut', () => answers.cuts > 0);
  await res.text().catch(() => '');
  const { totals } = core.status();
  assert.equal(totals.answersCut, 1);
  const caller = core.status().sessions[0]?.identity.name;
  assert.ok(caller, 'the session that was cut is listed');
  assert.equal(totals.lastCut?.identity, caller);
  assert.match(totals.lastCut?.why ?? '', new RegExp(`^an HTTP answer to ${caller}: the hub holds \\d+ bytes of answers its HTTP clients have not read \\(limit 2048\\)`));
  assert.equal(ownStatus(core.status(), caller).totals.lastCut?.identity, caller);
  const other = ownStatus(core.status(), `not-${caller}`).totals.lastCut;
  assert.equal(other?.identity, undefined);
  assert.doesNotMatch(other?.why ?? '', new RegExp(caller));
});
