/**
 * The bounds a session's transport puts on every client, before the SDK sees a message: unanswered
 * requests (any method), the rate of non-tool requests, and the rate of protocol errors (then the
 * session is ended).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openedLineTransport } from '../helpers/line-transport-rig.js';
import { MAX_HUB_LINE_BYTES } from '../../src/wire/framing.js';

const rig = openedLineTransport;

/** A well-formed request of `method` (tools/call names its tool: the MCP schema requires it). */
const req = (id: number, method: string) => JSON.stringify({ jsonrpc: '2.0', id, method, params: method === 'tools/call' ? { name: 't' } : {} });

test('requests beyond the unanswered bound are refused at once, whatever the method', async () => {
  const r = await rig({ maxOutstanding: 2 }, () => false);
  await r.sendLines([req(1, 'tools/call'), req(2, 'tools/list'), req(3, 'ping')]);
  assert.equal(r.delivered.length, 2);
  assert.equal(r.replies.length, 1);
  assert.equal(r.replies[0]!.id, 3);
  assert.equal(r.replies[0]!.error!.code, -32000);
  assert.match(r.replies[0]!.error!.message, /2 are unanswered/);
});

test('non-tool requests are rate-limited per session; tools/call is left to the call pipeline', async () => {
  // Four tokens: the rig's initialize takes one.
  const r = await rig({ otherRequestRate: { capacity: 4, refillPerSecond: 0.001 } }, () => true);
  await r.sendLines([1, 2, 3, 4].map((i) => req(i, 'tools/list')));
  const refused = r.replies.filter((x) => x.error);
  assert.deepEqual(refused.map((x) => x.id), [4]);
  assert.match(refused[0]!.error!.message, /Too many tools\/list requests/);
  await r.sendLines([5, 6, 7, 8, 9].map((i) => req(i, 'tools/call')));
  assert.equal(r.delivered.filter((m) => (m as { method?: string }).method === 'tools/call').length, 5);
});

test('a client that keeps sending malformed input is cut off', async () => {
  let misbehaving = 0;
  const r = await rig({ protocolErrorRate: { capacity: 3, refillPerSecond: 0.001 }, onMisbehaving: () => misbehaving++ }, () => true);
  await r.sendLines(['{not json', '{"jsonrpc":"2.0"}', '[]']);
  assert.equal(misbehaving, 0, 'a few mistakes are answered');
  await r.sendLines(['nope']);
  assert.equal(misbehaving, 1);
  assert.equal(r.replies.filter((x) => x.error?.code === -32700 || x.error?.code === -32600).length, 4);
});

test('requests beyond the unanswered bytes bound are refused at once; one request of any accepted size always runs', async () => {
  const r = await rig({ maxOutstandingBytes: 1000 }, () => false);
  const big = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 't', q: 'x'.repeat(1500) } });
  await r.sendLines([big(1), req(2, 'ping')]);
  assert.deepEqual(r.delivered.map((m) => (m as { id?: unknown }).id), [1], 'alone, a request over the bound still runs');
  assert.equal(r.replies[0]!.id, 2);
  assert.equal(r.replies[0]!.error!.code, -32000);
  assert.match(r.replies[0]!.error!.message, /unanswered requests of this session hold \d+ bytes/);
  // Answering frees the bytes; a cancelled request frees them too.
  await r.transport.send({ jsonrpc: '2.0', id: 1, result: {} });
  await r.sendLines([req(3, 'ping'), req(4, 'ping')]);
  assert.deepEqual(r.delivered.map((m) => (m as { id?: unknown }).id), [1, 3, 4]);
  await r.sendLines([JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } }), JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 4 } }), big(5)]);
  assert.equal(r.transport.outstanding, 1);
});

test('an oversized request is answered under its own id when its first bytes show it', async () => {
  const r = await rig({ maxLineBytes: 100 }, () => true);
  await r.sendLines([JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 't', q: 'x'.repeat(500) } }), req(78, 'ping')]);
  assert.equal(r.replies[0]!.id, 77);
  assert.equal(r.replies[0]!.error!.code, -32600);
  assert.match(r.replies[0]!.error!.message, /exceeds the hub's 100-byte line limit/);
  assert.equal(r.replies[1]!.id, 78, 'the session goes on');
});

test('an oversized or unparseable request is answered under its own id wherever the id sits in it', async () => {
  const r = await rig({ maxLineBytes: 100 }, () => true);
  // As a client may write it: the id after a large params (probe: the shim kept it in flight for ever).
  await r.sendLines([`{"method":"tools/call","params":{"name":"t","q":"${'x'.repeat(500)}"},"id":77,"jsonrpc":"2.0"}`, '{"method":"ping","params":{"a":1,},"id":"p","jsonrpc":"2.0"}', req(78, 'ping')]);
  assert.deepEqual(r.replies.map((m) => m.id), [77, 'p', 78]);
  assert.match(r.replies[0]!.error!.message, /exceeds the hub's 100-byte line limit/);
  assert.equal(r.replies[1]!.error!.code, -32700);
});

test('the hub never writes a line longer than a shim reads: a too-large answer becomes an error for its request', async () => {
  const rejected: string[] = [];
  const r = await rig({ onRejected: (reason) => rejected.push(reason) }, () => false);
  await r.sendLines([req(1, 'tools/call'), req(2, 'tools/call')]);
  await r.transport.send({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x'.repeat(MAX_HUB_LINE_BYTES) }] } });
  await r.transport.send({ jsonrpc: '2.0', id: 2, result: {} });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(r.replies[0]!.id, 1);
  assert.equal(r.replies[0]!.error!.code, -32603);
  assert.match(r.replies[0]!.error!.message, new RegExp(`more than the ${MAX_HUB_LINE_BYTES}-byte limit of one message from the hub`));
  assert.deepEqual(r.replies[0]!.error!.data, { code: 'ANSWER_TOO_LARGE', retryable: false }, 'a stable code the editor can act on');
  assert.deepEqual(r.replies[1], { jsonrpc: '2.0', id: 2, result: {} });
  assert.equal(r.transport.outstanding, 0, 'the refused answer still settles its request');
  assert.deepEqual(rejected, ['answer-too-large']);
});

test('every request the SDK would drop unanswered is answered here with what is wrong; what passes, the SDK reads', async () => {
  const r = await rig({}, () => true);
  const bad: [unknown, RegExp][] = [
    [{ jsonrpc: '2.0', id: 1.5, method: 'ping' }, /"id" must be a string or an integer/],
    [{ jsonrpc: '2.0', id: 2 ** 60, method: 'ping' }, /"id" must be a string or an integer/],
    [{ jsonrpc: '2.0', id: 3, method: 'ping', extra: true }, /unknown member "extra"/],
    [{ jsonrpc: '2.0', id: 4, method: 'tools/list', params: [1] }, /"params" must be an object/],
    [{ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'x', _meta: [[]] } }, /"params._meta" must be an object/],
    [{ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'x', _meta: { progressToken: { a: 1 } } } }, /progressToken/],
    [{ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'x', _meta: { progressToken: 0.5 } } }, /progressToken/],
  ];
  await r.sendLines(bad.map(([m]) => JSON.stringify(m)));
  assert.equal(r.delivered.length, 0, 'none reaches the SDK');
  assert.equal(r.replies.length, bad.length, JSON.stringify(r.replies));
  bad.forEach(([m, why], i) => {
    assert.equal(r.replies[i]!.id, (m as { id: unknown }).id, 'answered under the id the client sent');
    assert.equal(r.replies[i]!.error!.code, -32600);
    assert.match(r.replies[i]!.error!.message, why);
  });
  // A broken notification or response is not answered (JSON-RPC), but never reaches the SDK either.
  await r.sendLines([JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: [] }), JSON.stringify({ jsonrpc: '2.0', id: 9, result: {}, extra: 1 })]);
  assert.equal(r.delivered.length, 0);
  // Well-formed messages of every kind pass.
  await r.sendLines([
    JSON.stringify({ jsonrpc: '2.0', id: 'a string id', method: 'ping' }),
    JSON.stringify({ jsonrpc: '2.0', id: 2 ** 53 - 1, method: 'ping', params: { _meta: { progressToken: 'p' } } }),
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    JSON.stringify({ jsonrpc: '2.0', id: 10, result: {} }),
  ]);
  assert.equal(r.delivered.length, 4);
});

test('a request under an id still owed an answer is refused; once answered, the id may be used again', async () => {
  const held: number[] = [];
  const r = await rig({}, (m) => {
    if (m.method === 'hold') {
      held.push(m.id as number);
      return false;
    }
    return true;
  });
  await r.sendLines([req(1, 'hold'), req(1, 'tools/call'), JSON.stringify({ jsonrpc: '2.0', id: '1', method: 'ping' })]);
  assert.deepEqual(r.delivered.map((m) => (m as { id?: unknown }).id), [1, '1'], 'the string "1" is another id');
  const refused = r.replies.filter((x) => x.error);
  assert.deepEqual(refused.map((x) => x.id), [1]);
  assert.equal(refused[0]!.error!.code, -32600);
  assert.match(refused[0]!.error!.message, /id 1 is already used by a request of this session that has not been answered/);
  await r.transport.send({ jsonrpc: '2.0', id: 1, result: {} });
  await r.sendLines([req(1, 'ping')]);
  assert.equal(r.delivered.length, 3, 'answered, the id is free again');
});

test('a request that is not valid JSON or UTF-8 is answered under the id its bytes show, else under null', async () => {
  const r = await rig({}, () => true);
  await r.sendLines([
    '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t",}}',
    '{"jsonrpc":"2.0","method":"tools/list","params":{"cursor":"x"},"id":"eight"',
    '{"jsonrpc":"2.0","method":"tools/list","params":{},"id":9}',
    'not json',
    '{"params":{"id":10},"jsonrpc":"2.0","method":"x",}',
    '{"jsonrpc":"2.0","method":"x","params":{"id":12}',
  ]);
  r.input.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"t","arguments":{"q":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}}\n')]));
  await new Promise((res) => setImmediate(res));
  const errors = r.replies.filter((x) => x.error).map((x) => [x.id, x.error!.code]);
  assert.deepEqual(errors, [[7, -32700], [null, -32700], [null, -32700], [null, -32700], [null, -32700], [11, -32700]]);
  assert.deepEqual(r.replies.filter((x) => !x.error).map((x) => x.id), [9], 'the valid request between them is served');
});

test('a request whose params hold more values, or nest deeper, than any method takes is refused before any schema check; one at the bounds is delivered', async () => {
  const r = await rig({ maxLineBytes: 8 << 20 }, () => true);
  const wide = Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`k${i}`, 1]));
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = { d: deep };
  let atDepth: unknown = 1;
  for (let i = 0; i < 60; i++) atDepth = { d: atDepth };
  await r.sendLines([
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: wide } }),
    JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: deep, clientInfo: { name: 'c', version: '1' } } }),
    JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 't', arguments: { a: atDepth, list: Array.from({ length: 9_000 }, () => 0) } } }),
  ]);
  const byId = new Map(r.replies.map((x) => [x.id, x]));
  assert.equal(byId.get(1)?.error?.code, -32602);
  assert.match(byId.get(1)!.error!.message, /more than 10,000 values/);
  assert.equal(byId.get(2)?.error?.code, -32602);
  assert.match(byId.get(2)!.error!.message, /nest deeper than 64 levels/);
  assert.deepEqual(r.delivered.map((m) => (m as { id?: unknown }).id), [3]);
});

test('a request whose integer id is past 2^53 (rounded by JSON.parse) is answered under null, not under an id its client never sent', async () => {
  const r = await rig({}, () => true);
  await r.sendLines(['{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/list","params":{}}', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}']);
  assert.deepEqual(r.replies.map((x) => x.id), [null, 1.5]);
  assert.ok(r.replies.every((x) => x.error?.code === -32600));
});

test('open subscriptions have their own bound, so a client that re-subscribes without cancelling cannot wedge its session', async () => {
  const r = await rig({ otherRequestRate: { capacity: 1000, refillPerSecond: 1 } }, () => false);
  const listen = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } });
  await r.sendLines(Array.from({ length: 17 }, (_, i) => listen(i + 1)));
  assert.equal(r.delivered.length, 16, JSON.stringify(r.replies[0]));
  assert.deepEqual(r.replies.map((x) => x.id), [17]);
  assert.match(r.replies[0]!.error!.message, /^Too many open subscriptions: this session holds 16 subscriptions\/listen requests \(the hub allows 16\)\. .*cancel the ones you no longer read/);
  // Other requests still pass; a cancelled subscription makes room for another.
  await r.sendLines([req(100, 'tools/list'), JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }), listen(18)]);
  assert.equal(r.replies.length, 1, JSON.stringify(r.replies));
  assert.deepEqual(r.delivered.slice(16).map((m) => (m as { id?: unknown }).id), [100, undefined, 18]);
});

/** JSON.parse, counting the characters of every text parsed while `body` runs. */
async function parsedWhile(body: () => Promise<void>): Promise<number[]> {
  const parse = JSON.parse;
  const sizes: number[] = [];
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    sizes.push(text.length);
    return parse(text, reviver);
  }) as typeof JSON.parse;
  try {
    await body();
  } finally {
    JSON.parse = parse;
  }
  return sizes;
}

test('a message of more values than any method takes is refused from its bytes, never parsed: its refusal costs the bound, not the message', async () => {
  const r = await rig({ maxLineBytes: 8 << 20 }, () => true);
  // The probe's message: 500,000 argument keys, 5.9 MB, under the line limit.
  const keys = Array.from({ length: 500_000 }, (_, i) => `"k${i}":1`).join(',');
  const line = `{"jsonrpc":"2.0","id":"k0","method":"tools/call","params":{"name":"execute_query","arguments":{"query":"SELECT 1",${keys}}}}`;
  const sizes = await parsedWhile(() => r.sendLines([line]));
  assert.deepEqual(sizes.filter((n) => n > 1 << 20), [], 'the 5.9 MB message was not parsed');
  assert.equal(r.replies.length, 1);
  assert.equal(r.replies[0]!.id, 'k0', 'answered under its id, read from its first bytes');
  assert.equal(r.replies[0]!.error!.code, -32602);
  assert.match(r.replies[0]!.error!.message, /^Invalid params: the message holds more than 10,000 values, and no method takes that many; it was not read/);
  assert.equal(r.delivered.length, 0);
});

test('refusals of large messages empty the protocol-error bucket by their size: a client sending them back to back is cut long before 100', async () => {
  let cut = '';
  // The default bucket's size, refilled slowly enough that the test's own time does not count.
  const r = await rig({ maxLineBytes: 2 << 20, protocolErrorRate: { capacity: 100, refillPerSecond: 0.01 }, onMisbehaving: (why) => (cut = why) }, () => true);
  // 1 MiB lines the hub must read and refuse (not JSON): each costs 5 tokens of the bucket of 100.
  const broken = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(1 << 20)}"`;
  let sent = 0;
  while (cut === '' && sent < 100) {
    await r.sendLines([broken]);
    sent += 1;
  }
  assert.equal(cut, 'too many malformed messages');
  assert.equal(sent, 21, 'cut at the 21st refused 1 MiB message (100 tokens, 5 each)');
});
