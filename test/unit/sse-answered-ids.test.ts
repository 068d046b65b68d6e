import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answeredIds } from '../../src/hub/http/sse-answered-ids.js';

const event = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
const chunk = (...events: string[]) => new TextEncoder().encode(events.join(''));

test("the ids an SSE chunk answers: results (read from the line's end), errors and batches (parsed); requests and notifications answer nothing", () => {
  const big = 'x'.repeat(200_000);
  assert.deepEqual(answeredIds(chunk(event({ result: { content: [{ type: 'text', text: big }] }, jsonrpc: '2.0', id: 7 }))), [7]);
  assert.deepEqual(answeredIds(chunk(event({ result: {}, jsonrpc: '2.0', id: 'q-1' }), event({ jsonrpc: '2.0', id: 2, error: { code: -32602, message: 'no' } }))), ['q-1', 2]);
  // Another key order, a batch of answers, a request and a notification of the hub's.
  assert.deepEqual(answeredIds(chunk(event({ jsonrpc: '2.0', id: 3, result: {} }), event([{ jsonrpc: '2.0', id: 4, result: {} }, { jsonrpc: '2.0', method: 'notifications/progress', params: {} }]))), [3, 4]);
  assert.deepEqual(answeredIds(chunk(event({ jsonrpc: '2.0', id: 9, method: 'sampling/createMessage', params: {} }), event({ jsonrpc: '2.0', method: 'notifications/message', params: {} }))), []);
  // A comment, an unparseable data line, a `data:` with no space.
  assert.deepEqual(answeredIds(chunk(': stream open\n\n', 'data: {not json\n\n', `data:${JSON.stringify({ result: {}, jsonrpc: '2.0', id: 5 })}\n\n`)), [5]);
  // A subarray of a larger buffer is read where it lies.
  const whole = chunk('padding', event({ result: {}, jsonrpc: '2.0', id: 6 }));
  assert.deepEqual(answeredIds(whole.subarray(7)), [6]);
});
