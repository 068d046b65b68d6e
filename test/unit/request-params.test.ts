/**
 * The bounds on a request's shape stop at the bound: the values of a message are counted from its bytes
 * before it is parsed (exactly, for valid JSON), and the count of a parsed value reads at most the bound's
 * worth of its members, however many it holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PARAM_VALUES, jsonShapeOver, messageTextProblem, oversizedValue } from '../../src/hub/session/request-params.js';
import { brokenLineId } from '../../src/wire/cut-line.js';

/** Values in a parsed JSON value, member names not counted (what oversizedValue counts). */
function valuesIn(value: unknown): number {
  if (value === null || typeof value !== 'object') return 1;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce((sum: number, child) => sum + valuesIn(child), 0);
}

test('jsonShapeOver counts exactly the values of valid JSON, whatever its strings, escapes, spacing and nesting hold', () => {
  const samples = [
    '1',
    '"a"',
    '{}',
    '[]',
    '[[],{},[{}]]',
    '{"a":1,"b":[1,2,{"c":null}],"d":{"e":true,"f":false}}',
    ' { "a" : [ 1 , -2.5e3 , "x,y:{}[]" ] , "b\\"," : "\\\\" , "c" : "\\\\\\"" } ',
    '{"emoji":"héllo 🌍 \\u00e9","k":{"":""}}',
    `{"long":"${'x'.repeat(200)}\\"${'y'.repeat(100)}","after":[1,2,3]}`,
    `[${'"\\\\",'.repeat(50)}0]`,
  ];
  for (const text of samples) {
    const count = valuesIn(JSON.parse(text));
    const bytes = Buffer.from(text);
    assert.equal(jsonShapeOver(bytes, count, 100), null, `${text}: not over ${count}`);
    assert.equal(jsonShapeOver(bytes, count - 1, 100)?.bound, 'values', `${text}: over ${count - 1}`);
  }
});

test('jsonShapeOver stops at the value past the bound: a 5.9 MB message of 500,000 members is read only up to it', () => {
  const text = Buffer.from(`{"params":{"arguments":{${Array.from({ length: 500_000 }, (_, i) => `"k${i}":1`).join(',')}}}}`);
  let reads = 0;
  const counted = new Proxy(text, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads += 1;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  assert.deepEqual(jsonShapeOver(counted, MAX_PARAM_VALUES, 64), { bound: 'values', member: 'params' });
  // Each member ("k12345":1,) is ~12 bytes, each read at most twice: the bound's worth is ~0.1 MB of the 5.9 MB.
  assert.ok(reads < 2 * 12 * MAX_PARAM_VALUES, `${reads} bytes read of ${text.length}`);
});

/** `text`, with every byte read one at a time (an index) counted; native searches on it are not. */
function countingReads(text: Buffer): { bytes: Buffer; reads: () => number } {
  let reads = 0;
  const bytes = new Proxy(text, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads += 1;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { bytes, reads: () => reads };
}

// What the line transport does to refuse a message of too many values unparsed: count them (jsonShapeOver)
// and find the id to answer under (brokenLineId). Both stepped through every byte in JavaScript (~4 ns a
// byte): ~85 ms of the hub's only thread for each 8 MB message of 10,000 long strings refused.
test('refusing a message of too many long values reads its bulk natively: strings, escaped strings and long numbers, id first or last', () => {
  const long = 'y'.repeat(2000);
  const values = {
    strings: Array.from({ length: 110 }, () => long),
    escaped: Array.from({ length: 110 }, () => `${'a\\'.repeat(100)}"${long}`),
    numbers: Array.from({ length: 110 }, () => 1),
  };
  for (const [shape, x] of Object.entries(values)) {
    for (const idFirst of [true, false]) {
      const message = idFirst ? { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { arguments: { x } } } : { jsonrpc: '2.0', method: 'tools/call', params: { arguments: { x } }, id: 7 };
      let json = JSON.stringify(message);
      if (shape === 'numbers') json = json.replaceAll(',1', `,${'1'.repeat(2000)}`);
      const text = Buffer.from(json);
      const counted = countingReads(text);
      assert.deepEqual(jsonShapeOver(counted.bytes, 100, 64), { bound: 'values', member: 'params' }, shape);
      assert.equal(brokenLineId(counted.bytes), 7, shape);
      // Looked at one by one: the structure, and a few bytes into each value before the native search.
      assert.ok(counted.reads() < text.length / 10, `${shape}, id ${idFirst ? 'first' : 'last'}: ${counted.reads()} of ${text.length} bytes read one at a time`);
    }
  }
});

test('oversizedValue reads at most the bound of an object\'s members, however many it holds', () => {
  const wide = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 1]));
  let reads = 0;
  const counted = new Proxy(wide, {
    get(target, key) {
      reads += 1;
      return Reflect.get(target, key) as unknown;
    },
  });
  assert.equal(oversizedValue({ arguments: counted }), 'values');
  assert.ok(reads <= MAX_PARAM_VALUES + 1, `${reads} members read`);
  assert.equal(oversizedValue({ a: Array.from({ length: MAX_PARAM_VALUES - 2 }, () => 0) }), null, 'at the bound: accepted');
  assert.equal(oversizedValue({ a: Array.from({ length: MAX_PARAM_VALUES - 1 }, () => 0) }), 'values');
});

test('messageTextProblem names the bound a message passes and where: params of a request, the result or error of a response', () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const problem = (text: string) => messageTextProblem(Buffer.from(text));
  // params nested 64 deep pass (oversizedValue's bound), 65 do not.
  assert.equal(problem(`{"jsonrpc":"2.0","id":1,"method":"m","params":${nested(64)}}`), null);
  assert.equal(oversizedValue(JSON.parse(nested(64))), null);
  assert.equal(oversizedValue(JSON.parse(nested(65))), 'depth');
  assert.deepEqual(problem(`{"jsonrpc":"2.0","id":1,"method":"m","params":${nested(65)}}`), { code: -32602, message: 'Invalid params: params nest deeper than 64 levels; no method takes that. Flatten the request', response: false });
  assert.deepEqual(problem(`{"jsonrpc":"2.0","id":1,"result":${nested(100_000)}}`)?.message, "Invalid Request: the response's result nests deeper than 64 levels; no answer to the hub needs that. Flatten the response");
  assert.deepEqual(problem(`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":[${'0,'.repeat(20_000)}0]}}`), {
    code: -32600,
    message: "Invalid Request: the response's error holds more than 10,000 values; no answer to the hub needs that many. Send a smaller response",
    response: true,
  });
  // A batch has room for each of its messages' envelopes.
  const small = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}';
  assert.equal(messageTextProblem(Buffer.from(`[${Array(100).fill(small).join(',')}]`), 100), null);
});
