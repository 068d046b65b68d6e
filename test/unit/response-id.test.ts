import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fastResponseId } from '../../src/wire/response-id.js';

const buf = (text: string) => Buffer.from(text, 'utf8');

/** What the shim must learn from a line, by parsing it whole. */
function parsedId(text: string): string | number | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg) || 'method' in msg) return undefined;
  const id = (msg as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

test('reads the id of a result line as the hub writes it, without parsing the result', () => {
  const listing = { tools: Array.from({ length: 40 }, (_, i) => ({ name: `t${i}`, inputSchema: { type: 'object', properties: { id: { type: 'string' } } } })) };
  for (const id of [0, 7, 123456789, -3, 'a', 'req-1', 'ünïcode ✓', 'snowmux-shim-replay-1']) {
    const line = JSON.stringify({ result: listing, jsonrpc: '2.0', id });
    assert.equal(fastResponseId(buf(line)), id, line.slice(-40));
  }
});

test('leaves every other shape to the parser', () => {
  const others = [
    '{"jsonrpc":"2.0","id":1,"result":{}}', // another key order
    '{"error":{"code":-1,"message":"x"},"jsonrpc":"2.0","id":1}', // errors are small: parsed
    '{"method":"ping","jsonrpc":"2.0","id":0}', // a request from the hub, same id space as the editor's
    '{"result":{"id":1}}', // an id inside the result, none at the top
    '{"result":{},"jsonrpc":"2.0","id":1.0}', // not a plain integer
    '{"result":{},"jsonrpc":"2.0","id":1e3}',
    '{"result":{},"jsonrpc":"2.0","id":-0}',
    '{"result":{},"jsonrpc":"2.0","id":01}',
    '{"result":{},"jsonrpc":"2.0","id":12345678901234567}', // past safe integers
    '{"result":{},"jsonrpc":"2.0","id":"a\\"b"}', // escapes are parsed
    '{"result":{},"jsonrpc":"2.0","id":"a\\\\"}',
    '{"result":{},"jsonrpc":"2.0","id":null}',
    '{"result":{},"jsonrpc":"2.0","id":true}',
    '{"result":{},"jsonrpc":"2.0","id":"x"} ', // trailing space
    `{"result":{},"jsonrpc":"2.0","id":"${'x'.repeat(300)}"}`, // longer than the fast path reads
    '{"result":{},"a\\",\\"id":5}', // "id" inside another key
    '{"result":"x,\\"id\\":5"}',
    '{"result":{}}',
    '',
    '}',
  ];
  for (const text of others) assert.equal(fastResponseId(buf(text)), undefined, text);
});

test('never disagrees with JSON.parse on generated lines', () => {
  // Deterministic PRNG: the same lines on every run.
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ids: unknown[] = [0, 1, -1, 42, 2 ** 53, 1.5, 'id', '"', '\\', ',"id":1', 'é', '', null, { id: 1 }, [1]];
  const values: unknown[] = [{}, [], 'text ,"id":9}', { id: 3 }, [{ id: 'x' }], 0, null, { a: { b: ',"id":"z"}' } }];
  let fastHits = 0;
  for (let i = 0; i < 5000; i++) {
    const members: [string, unknown][] = [];
    if (rand() < 0.8) members.push(['result', pick(values)]);
    if (rand() < 0.2) members.push(['error', { code: -1, message: 'm' }]);
    // A message with both a result and a method is no JSON-RPC message; a line opening with "result" is
    // taken as a response (the hub's SDK writes nothing else that way).
    if (members.length === 0 && rand() < 0.3) members.push(['method', 'ping']);
    if (rand() < 0.2) members.push(['id', pick(ids)]);
    members.push(['jsonrpc', '2.0']);
    if (rand() < 0.9) members.push(['id', pick(ids)]);
    if (rand() < 0.1) members.push([pick(['x', 'id"', 'a,"id"']), pick(values)]);
    const text = `{${members.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
    const fast = fastResponseId(buf(text));
    if (fast === undefined) continue;
    fastHits += 1;
    assert.equal(fast, parsedId(text), text);
  }
  assert.ok(fastHits > 1000, `the fast path took ${fastHits} of 5000 lines`);
});
