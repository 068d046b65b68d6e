/**
 * A body that is no JSON-RPC message is answered over HTTP as the Unix socket and `snowmux stdio` answer
 * the same line: what is wrong with it (a null, fractional or too large id, an unknown member, a progress
 * token that is no string or integer), under the id as sent or null. The SDK's HTTP transport answered every
 * such body "Bad Request: the request body is not a valid JSON-RPC message", under the id as JSON.parse read
 * it (an id past 2^53 rounded to one the client never sent), and a fractional progress token -32602
 * "expected string, received number" where the socket says -32600 "a string or an integer".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { LineTransport } from '../../src/hub/session/line-transport.js';
import { hubFace } from '../helpers/in-process-face.js';

const LINES = [
  '{"jsonrpc":"2.0","id":null,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
  '{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}',
  '{"jsonrpc":"2.0","id":7,"method":"ping","extra":1}',
  '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":1.5}}}',
  '{"jsonrpc":"1.0","id":9,"method":"ping"}',
  '5',
];

/** What the line transport (the socket's and stdio's) answers each line. */
async function lineAnswers(lines: string[]): Promise<unknown[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = new LineTransport({ input, output, maxLineBytes: 1 << 20 });
  transport.onmessage = () => assert.fail('no line here is a message the SDK should see');
  await transport.start();
  const answers: unknown[] = [];
  let buffered = '';
  const all = new Promise<void>((resolve) => {
    output.on('data', (c: Buffer) => {
      buffered += c.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        answers.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
      }
      if (answers.length === lines.length) resolve();
    });
  });
  input.write(lines.map((l) => `${l}\n`).join(''));
  await all;
  await transport.close();
  return answers;
}

for (const era of ['2025', '2026-07-28'] as const) {
  test(`HTTP (${era} request) answers a body that is no JSON-RPC message as the socket answers the line`, async (t) => {
    const { fetch: inProcess } = hubFace(t);
    const expected = await lineAnswers(LINES);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (era !== '2025') headers['mcp-protocol-version'] = era;
    for (const [i, line] of LINES.entries()) {
      const res = await inProcess('http://127.0.0.1/mcp', { method: 'POST', headers, body: line });
      assert.equal(res.status, 400, line);
      assert.deepEqual(await res.json(), expected[i], line);
    }
  });
}
