/**
 * What one identity can hold open on the HTTP face, checked without a network: an /events client that
 * stops reading has its stream ended once 1 MiB of events waits for it (the hub held every event for it
 * before), one identity holds at most 8 /events streams and 64 remote shim links at once, and sends
 * requests other than tools/call over /mcp at a bounded rate; a batch over 100 messages is refused before
 * it spends that rate, a deeply nested response is refused saying so, a compressed body is answered 415,
 * and the SDK's catch-all "Parse error" reaches the client without the exception's text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { createHttpFace, withoutExceptionText } from '../../src/hub/http/http-face.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import type { KeyChecker } from '../../src/hub/keys/api-keys.js';
import { sessionlessHub } from '../helpers/in-process-face.js';

function face(otherRequestRate?: { capacity: number; refillPerSecond: number }, protocolErrorRate?: { capacity: number; refillPerSecond: number }) {
  const events = new EventEmitter();
  const linked: PassThrough[] = [];
  const hub = sessionlessHub({ events, acceptRemoteLink: (link: PassThrough) => linked.push(link) });
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const f = createHttpFace({ hub, keys: null, metrics: null, logger, hosts: [], loopbackOnly: true, allowedOrigins: [], ...(otherRequestRate ? { otherRequestRate } : {}), ...(protocolErrorRate ? { protocolErrorRate } : {}) });
  const open = () => f.fetch(new Request('http://127.0.0.1/events', { headers: { host: '127.0.0.1' } }), { remoteAddress: '127.0.0.1' });
  const upgrade = () => f.checkShimUpgrade(new Request('http://127.0.0.1/shim', { headers: { host: '127.0.0.1' } }), { remoteAddress: '127.0.0.1' });
  return { f, events, open, upgrade, linked };
}

/** A 2026-07-28 JSON-RPC POST to /mcp from loopback. */
function postMcp(f: ReturnType<typeof face>['f'], body: unknown): Promise<Response> {
  return postText(f, JSON.stringify(body));
}

function postText(f: ReturnType<typeof face>['f'], body: string): Promise<Response> {
  return f.fetch(
    new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: { host: '127.0.0.1', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
      body,
    }),
    { remoteAddress: '127.0.0.1' },
  );
}

const call = (i: number) => ({ at: new Date().toISOString(), sessionId: 'x'.repeat(900), tool: 'execute_query', outcome: 'ok', errorCode: null, ms: i, rows: 1, queryId: null });

test('an /events client that does not read has its stream ended once 1 MiB waits for it; a reading one is served', async (t) => {
  const { f, events, open } = face();
  t.after(() => f.close());
  const idle = await open();
  const reading = await open();
  assert.equal(idle.status, 200);
  const reader = reading.body!.getReader();
  let readBytes = 0;
  for (let i = 0; i < 3000; i++) {
    events.emit('call', call(i));
    const { value } = await reader.read();
    readBytes += value?.length ?? 0;
  }
  assert.ok(readBytes > 2 * 1024 * 1024, 'the reading client got every event');
  // The idle client's stream was ended instead of holding the ~3 MiB it did not read.
  const idleReader = idle.body!.getReader();
  let held = 0;
  await assert.rejects(async () => {
    for (;;) {
      const { value, done } = await idleReader.read();
      if (done) return;
      held += value.length;
    }
  }, /does not read its events/);
  assert.equal(held, 0, 'what waited was dropped with the stream');
});

test('an /events stream ended for not reading is no longer held by its key: each one had left an entry checked at every recheck, for good', async (t) => {
  const events = new EventEmitter();
  const checked: string[] = [];
  const changed: (() => void)[] = [];
  const keys: KeyChecker = {
    activeCount: 1,
    check: (token) => (checked.push(token ?? ''), token === undefined ? { ok: false, reason: 'missing' } : { ok: true, id: token, identity: 'alice' }),
    onChange: (listener) => changed.push(listener),
  };
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const f = createHttpFace({ hub: sessionlessHub({ events }), keys, metrics: null, logger, hosts: [], loopbackOnly: true, allowedOrigins: [] });
  t.after(() => f.close());
  const idle = await f.fetch(new Request('http://127.0.0.1/events', { headers: { host: '127.0.0.1', authorization: 'Bearer idle-key' } }), { remoteAddress: '127.0.0.1' });
  assert.equal(idle.status, 200);
  for (const listener of changed) listener();
  assert.deepEqual(checked.filter((k) => k === 'idle-key').length, 2, 'held while open: checked again on a change');
  // Hub-wide events (a key holder is sent only its own sessions' calls).
  for (let i = 0; i < 3000; i++) events.emit('breaker', { profile: 'p'.repeat(900), state: 'open', i });
  const idleReader = idle.body!.getReader();
  await assert.rejects(async () => {
    for (;;) if ((await idleReader.read()).done) return;
  }, /does not read its events/);
  checked.length = 0;
  for (const listener of changed) listener();
  assert.deepEqual(checked, [], 'the ended stream holds nothing');
});

test('one identity holds at most 8 /events streams at once', async (t) => {
  const { f, open } = face();
  t.after(() => f.close());
  const streams: Response[] = [];
  for (let i = 0; i < 8; i++) streams.push(await open());
  assert.deepEqual(streams.map((s) => s.status), Array(8).fill(200));
  const ninth = await open();
  assert.equal(ninth.status, 429);
  assert.match(((await ninth.json()) as { error: string }).error, /Too many \/events streams/);
  await streams[0]!.body!.cancel();
  assert.equal((await open()).status, 200, 'a closed stream frees its place');
});

test('one identity holds at most 64 remote shim links at once; a closed link frees its place', async (t) => {
  const { f, upgrade, linked } = face();
  t.after(() => f.close());
  for (let i = 0; i < 64; i++) {
    const verdict = upgrade();
    assert.ok(!(verdict instanceof Response), `link ${i} accepted`);
    f.serveShim(new PassThrough(), verdict);
  }
  const refused = upgrade();
  assert.ok(refused instanceof Response);
  assert.equal(refused.status, 429, 'the shim retries, as with a busy hub');
  assert.match(((await refused.json()) as { error: string }).error, /Too many shim links/);
  linked[0]!.destroy();
  await new Promise((r) => setImmediate(r));
  assert.ok(!(upgrade() instanceof Response), 'a closed link frees its place');
});

test('/mcp: requests other than tools/call are rate-limited per identity before any session is touched; tools/call is not', async (t) => {
  const { f } = face({ capacity: 3, refillPerSecond: 0.01 });
  t.after(() => f.close());
  const post = (body: unknown) => postMcp(f, body);
  for (let i = 1; i <= 3; i++) assert.notEqual((await post({ jsonrpc: '2.0', id: i, method: 'tools/list' })).status, 429, `request ${i} is within the burst`);
  const limited = await post({ jsonrpc: '2.0', id: 'over', method: 'ping' });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  const answer = (await limited.json()) as { id: unknown; error: { code: number; message: string } };
  assert.equal(answer.id, 'over', 'answered under the request id');
  assert.match(answer.error.message, /Too many ping requests.*Retry after/);
  assert.notEqual((await post({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'execute_query', arguments: {} } })).status, 429, 'tools/call is governed by the rate limit and queue instead');
  assert.notEqual((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 429, 'notifications are not requests');
});

test('/mcp: a spec request with badly typed params is answered -32602 naming the field, before any session is touched', async (t) => {
  const { f } = face();
  t.after(() => f.close());
  const post = (body: unknown) => postMcp(f, body);
  // The stub hub throws if a session were attached: the answer must come first.
  const r = await post({ jsonrpc: '2.0', id: 'r1', method: 'resources/read', params: { uri: 5 } });
  assert.equal(r.status, 200);
  const answer = (await r.json()) as { id: unknown; error: { code: number; message: string } };
  assert.equal(answer.id, 'r1');
  assert.equal(answer.error.code, -32602);
  assert.match(answer.error.message, /^Invalid params for resources\/read: params\.uri: /);
});

test('/mcp: a batch over 100 messages is refused for its size before any rate token is taken', async (t) => {
  const { f } = face({ capacity: 5, refillPerSecond: 0.01 });
  t.after(() => f.close());
  const pings = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'ping' }));
  const r = await postMcp(f, pings(101));
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /a batch holds at most 100 messages; this one holds 101\. Send them in smaller batches/);
  // The refused batch spent nothing: the whole burst is still there (it took all 5 and answered 429 before).
  for (let i = 1; i <= 5; i++) assert.notEqual((await postMcp(f, { jsonrpc: '2.0', id: `p${i}`, method: 'ping' })).status, 429, `ping ${i} is within the burst`);
});

test('/mcp: a response whose result or error.data nests deeper than 64 levels is refused saying so (no internal exception text)', async (t) => {
  const { f } = face();
  t.after(() => f.close());
  // As text: JSON.parse takes this depth, JSON.stringify (and the SDK's recursive checks) would not.
  const deep = `${'{"a":'.repeat(250_000)}1${'}'.repeat(250_000)}`;
  for (const message of [`{"jsonrpc":"2.0","id":1,"result":${deep}}`, `{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"no","data":${deep}}}`]) {
    // The stub hub throws if a session were attached: the answer must come first.
    const r = await postText(f, message);
    assert.equal(r.status, 400);
    const answer = (await r.json()) as { error: { code: number; message: string; data?: unknown } };
    assert.equal(answer.error.code, -32600);
    assert.match(answer.error.message, /the response's (result|error) nests deeper than 64 levels/);
    // No exception text: only the stable code every /mcp refusal carries.
    assert.deepEqual(answer.error.data, { code: 'INVALID_REQUEST', retryable: false });
  }
  // A response of ordinary depth passes this check (whatever the session makes of it then).
  const plain = await (await postMcp(f, { jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: 'x' }] } })).text();
  assert.doesNotMatch(plain, /nests deeper|holds more than/);
});

test('/mcp: the SDK\'s catch-all "Parse error" carrying an exception\'s text reaches the client without that text (it is logged)', async () => {
  const logged = new PassThrough();
  let log = '';
  logged.on('data', (c: Buffer) => (log += c.toString()));
  const logger = createLogger({ destination: logged, level: 'warn' });
  // What the SDK's 2025 transport answers for any exception it meets handling a POST.
  const sdk = () => new Response(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error', data: 'RangeError: Maximum call stack size exceeded' }, id: null }), { status: 400, headers: { 'content-type': 'application/json' } });
  const told = await withoutExceptionText(sdk(), logger);
  const text = await told.text();
  assert.equal(told.status, 400);
  assert.doesNotMatch(text, /RangeError|call stack/);
  assert.match(text, /Internal error: the hub could not handle this message \(its log says why\)/);
  await new Promise((resolve) => setImmediate(resolve));
  assert.match(log, /RangeError: Maximum call stack size exceeded/);
  // The SDK's other refusals say what is wrong themselves: they pass as they are.
  const other = new Response('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error: Invalid JSON-RPC message"},"id":null}', { status: 400, headers: { 'content-type': 'application/json' } });
  assert.equal(await withoutExceptionText(other, logger), other);
});

test('/mcp: a compressed body (Content-Encoding other than identity) is answered 415 saying to send it uncompressed', async (t) => {
  const { f } = face();
  t.after(() => f.close());
  const { gzipSync } = await import('node:zlib');
  const r = await f.fetch(
    new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: { host: '127.0.0.1', 'content-type': 'application/json', 'content-encoding': 'gzip', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
      body: gzipSync(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })),
    }),
    { remoteAddress: '127.0.0.1' },
  );
  assert.equal(r.status, 415);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /compressed \(Content-Encoding: gzip\).*Send it without Content-Encoding/);
});

test('a /shim link and an /events stream end when the key they showed is revoked: at once on a change notice (a team\'s pub/sub)', async (t) => {
  const hub = sessionlessHub();
  const revoked = new Set<string>();
  const changed: (() => void)[] = [];
  const keys: KeyChecker = {
    activeCount: 2,
    check: (token) => (token === undefined ? { ok: false, reason: 'missing' } : revoked.has(token) ? { ok: false, reason: 'revoked' } : { ok: true, id: token, identity: `id-${token}` }),
    onChange: (listener) => changed.push(listener),
  };
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const f = createHttpFace({ hub, keys, metrics: null, logger, hosts: [], loopbackOnly: true, allowedOrigins: [] });
  t.after(() => f.close());
  const as = (key: string) => ({ headers: { host: '127.0.0.1', authorization: `Bearer ${key}` } });
  const grant = (key: string) => {
    const verdict = f.checkShimUpgrade(new Request('http://127.0.0.1/shim', as(key)), { remoteAddress: '127.0.0.1' });
    assert.ok(!(verdict instanceof Response));
    return verdict;
  };
  const doomed = new PassThrough();
  const kept = new PassThrough();
  f.serveShim(doomed, grant('old'));
  f.serveShim(kept, grant('good'));
  const stream = await f.fetch(new Request('http://127.0.0.1/events', as('old')), { remoteAddress: '127.0.0.1' });
  assert.equal(stream.status, 200);
  const reader = stream.body!.getReader();
  await reader.read(); // hello

  revoked.add('old');
  for (const listener of changed) listener();
  assert.equal(doomed.destroyed, true, 'the link of the revoked key is closed');
  assert.equal(kept.destroyed, false, 'other keys\' links stay');
  assert.equal((await reader.read()).done, true, 'the /events stream of the revoked key ends');
});

test('/mcp: a body of more values than any method takes is refused from its bytes, never parsed; an identity that keeps sending large refused bodies is answered 429 unread', async (t) => {
  // The default bucket (100, refilled 20 a second), refilled slowly enough that the test's own time does not count.
  const { f } = face(undefined, { capacity: 100, refillPerSecond: 0.01 });
  t.after(() => f.close());
  // The probe's body: 330,000 argument keys, 3.7 MB, under the 4 MiB body limit.
  const keys = Array.from({ length: 330_000 }, (_, i) => `"k${i}":1`).join(',');
  const wide = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_query","arguments":{"query":"SELECT 1",${keys}}}}`;
  const parse = JSON.parse;
  const parsed: number[] = [];
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    parsed.push(text.length);
    return parse(text, reviver);
  }) as typeof JSON.parse;
  let first: Response;
  try {
    first = await postText(f, wide);
  } finally {
    JSON.parse = parse;
  }
  assert.deepEqual(parsed.filter((n) => n > 1 << 20), [], 'the 3.7 MB body was not parsed');
  assert.equal(first.status, 400);
  const answer = (await first.json()) as { error: { code: number; message: string } };
  assert.equal(answer.error.code, -32602);
  assert.match(answer.error.message, /the message holds more than 10,000 values, and no method takes that many; it was not read/);
  // Each such refusal costs 1 + 14 tokens of the identity's 100: the seventh is not read at all.
  const statuses = [400];
  for (let i = 0; i < 7; i++) statuses.push((await postText(f, wide)).status);
  assert.deepEqual(statuses, [400, 400, 400, 400, 400, 400, 400, 429]);
  const throttled = await postMcp(f, { jsonrpc: '2.0', id: 2, method: 'ping' });
  assert.equal(throttled.status, 429);
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  assert.match(((await throttled.json()) as { error: { message: string } }).error.message, /^Too many refused requests from "http-anonymous": .*retry after ~\d+ ms/);
});
