/**
 * Both HTTP engines (node:http and uWebSockets.js) against a stand-in face, over real sockets on an
 * ephemeral port: an upgrade whose Host cannot be parsed is answered 400 and its socket closed (node:http
 * held it for good and logged an uncaught exception); a request its headers refuse has no body held, and
 * the bodies held at once are bounded; an answer its client does not read is cut after stalledOutputMs and
 * its request aborted; a /shim link the hub ends for a reason closes with 1008 and that reason (node:http's
 * ws stream terminated it: 1006), even behind answers its shim has not read yet, and a message over 16 MiB
 * with 1009 and why; a /shim link the hub does not read is cut once 16 MiB of its input waits (uWebSockets.js
 * queued every message before), and the links of one identity once 32 MiB waits on them together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { createLogger } from '../../src/hub/observe/logger.js';
import { serveWithNodeHttp, type EngineLimits, type HttpEndpoint } from '../../src/hub/http/node-engine.js';
import { serveWithUws } from '../../src/hub/http/uws-engine.js';
import type { Admission, HttpFace } from '../../src/hub/http/http-face.js';
import { AnswerBudget } from '../../src/hub/http/answer-budget.js';
import { ENGINE_MAX_PAYLOAD_BYTES } from '../../src/hub/http/shim-link.js';

const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
const ENGINES = { node: serveWithNodeHttp, uws: serveWithUws } as const;

interface StandIn {
  face: HttpFace;
  fetched: Request[];
  links: Duplex[];
}

/** A face that admits requests with `authorization: ok` and answers with `answer` (JSON "ok" by default). */
function standIn(answer: (request: Request) => Response = () => new Response('"ok"\n')): StandIn {
  const fetched: Request[] = [];
  const links: Duplex[] = [];
  const face: HttpFace = {
    admit: (request) => (request.headers.get('authorization') === 'ok' ? ({ caller: { identity: 'alice', keyId: 'k', key: 'ok' } } satisfies Admission) : new Response('{"error":"no key"}\n', { status: 401 })),
    fetch: async (request) => {
      fetched.push(request);
      if (request.body) await request.arrayBuffer();
      return answer(request);
    },
    checkShimUpgrade: (request) => (new URL(request.url).pathname === '/shim' ? { identity: 'alice', key: null } : new Response('{}', { status: 404 })),
    serveShim: (link) => void links.push(link),
    close: async () => {},
  };
  return { face, fetched, links };
}

async function serve(t: { after(fn: () => unknown): void }, engine: keyof typeof ENGINES, face: HttpFace, limits: Partial<EngineLimits> = {}, log = logger): Promise<HttpEndpoint & { port: number }> {
  const endpoint = await ENGINES[engine](face, '127.0.0.1:0', log, { bodyTimeoutMs: 5_000, ...limits });
  t.after(() => endpoint.close());
  return { ...endpoint, port: Number(new URL(endpoint.url).port) };
}

/** Sends raw bytes, and resolves with everything the server sent once it closes the connection. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    socket.setEncoding('utf8').on('data', (d: string) => (got += d)).on('error', reject).on('close', () => resolve(got));
    // The server must close it; a test that hangs here is the failure.
  });
}

/**
 * Sends each request on one connection once the answers before it have their headers (uWebSockets.js drops
 * a connection that pipelines while an answer is pending), and resolves with all it read once the server
 * closes it (the last request asks it to).
 */
function keptAlive(port: number, requests: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    let sent = 0;
    const socket = connect(port, '127.0.0.1', () => socket.write(requests[sent++]!));
    socket.setEncoding('utf8').on('error', reject).on('close', () => resolve(got));
    socket.on('data', (d: string) => {
      got += d;
      if (sent < requests.length && got.split('\r\n\r\n').length - 1 >= sent) socket.write(requests[sent++]!);
    });
  });
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const engine of ['node', 'uws'] as const) {
  test(`[${engine}] a HEAD request is answered with headers alone, its refusals too: a kept-alive client reads its next answer where it starts`, async (t) => {
    const { port } = await serve(t, engine, standIn().face);
    // One kept-alive connection: an admitted HEAD, a refused HEAD, then a GET whose answer ends the exchange.
    const got = await keptAlive(port, [
      'HEAD /status HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: ok\r\n\r\n',
      'HEAD /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: ok\r\nconnection: close\r\n\r\n',
    ]);
    const starts = [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => [m.index, m[1]]);
    assert.deepEqual(starts.map(([, status]) => status), ['200', '401', '200'], got);
    // Each answer starts right after the last one's headers: no body of a HEAD answer between them.
    assert.ok(got.slice(0, starts[1]![0] as number).endsWith('\r\n\r\n'), got);
    assert.ok(got.slice(0, starts[2]![0] as number).endsWith('\r\n\r\n'), got);
    assert.doesNotMatch(got, /no key/);
    assert.ok(got.endsWith('\r\n\r\n"ok"\n') || got.endsWith('\r\n5\r\n"ok"\n\r\n0\r\n\r\n'), got);
  });

  test(`[${engine}] plain answers (the face's own refusals and fetched answers) are written whole and log no engine error`, async (t) => {
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    const { port } = await serve(t, engine, standIn().face, {}, createLogger({ destination: sink, level: 'info' }));
    for (let i = 0; i < 5; i++) {
      const refused = await fetch(`http://127.0.0.1:${port}/status`);
      assert.equal(refused.status, 401);
      assert.equal(await refused.text(), '{"error":"no key"}\n');
      const answered = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { authorization: 'ok' }, body: '{}' });
      assert.equal(await answered.text(), '"ok"\n');
    }
    // An answer written whole before the engine looked at its progress made uWS throw on the next access.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50), []);
  });

  test(`[${engine}] a WebSocket upgrade with a Host that is not a URL part is answered 400 and its socket closed`, async (t) => {
    const { face, links } = standIn();
    const { port } = await serve(t, engine, face);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    t.after(() => process.off('uncaughtException', onUncaught));
    for (const host of ['[', 'a b']) {
      const answer = await rawExchange(port, `GET /shim HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.match(answer, /Malformed WebSocket upgrade: the Host header or the path is not a valid URL part/);
    }
    assert.deepEqual(uncaught, []);
    assert.equal(links.length, 0);
  });

  test(`[${engine}] a request its headers refuse is answered without its body being held; held bodies are bounded (503, retry)`, async (t) => {
    const { face, fetched } = standIn();
    const { url } = await serve(t, engine, face, { heldBodyBytes: 64 * 1024 });
    const body = 'x'.repeat(1024 * 1024);
    // Over the budget of held bodies, but refused from its headers: never held, so a 401, not a 503.
    const refused = await fetch(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(refused.status, 401);
    assert.equal(fetched.length, 0);
    // An admitted one over the budget is refused until others are served.
    const busy = await fetch(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'ok' }, body });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.match(((await busy.json()) as { error: string }).error, /as many request bodies as it takes at once \(65536 bytes/);
    // Bodies within it are served, and their bytes given back: many in a row all pass.
    for (let i = 0; i < 5; i++) {
      const ok = await fetch(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'ok' }, body: 'y'.repeat(40 * 1024) });
      assert.equal(ok.status, 200);
      await ok.text();
    }
    assert.equal(fetched.length, 5);
  });

  test(`[${engine}] an answer its client does not read is cut after stalledOutputMs and its request aborted`, async (t) => {
    const chunk = new Uint8Array(256 * 1024).fill(97);
    let aborted: Promise<void> | undefined;
    const { face } = standIn((request) => {
      aborted = new Promise((resolve) => request.signal.addEventListener('abort', () => resolve()));
      return new Response(new ReadableStream({ pull: (c) => c.enqueue(chunk) }), { headers: { 'content-type': 'text/event-stream' } });
    });
    // The cut is reported to whoever watches the budget (the hub's status), not only logged.
    const stalls: string[] = [];
    const answers = new AnswerBudget(64 * 1024 * 1024, { stalled: (why, identity) => stalls.push(`${identity}: ${why}`) });
    const { port } = await serve(t, engine, face, { stalledOutputMs: 300, answers });
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\n\r\n'));
    socket.on('error', () => {});
    t.after(() => socket.destroy());
    // Never read: the kernel buffers fill and the engine waits for a drain that does not come.
    socket.pause();
    await until('the request', () => aborted !== undefined);
    const asked = Date.now();
    await aborted;
    assert.equal(stalls.length, 1);
    assert.match(stalls[0]!, /: its client took none of it for 300 ms$/);
    // uWebSockets.js gives up on a stalled connection on its own after ~10 s: the hub's cut comes first.
    assert.ok(Date.now() - asked < 5_000, `cut after ${Date.now() - asked} ms`);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.resume();
    await closed;
  });
}

for (const engine of ['node', 'uws'] as const) {
  test(`[${engine}] an answer whose stream fails (the face cut it) ends its connection without the answer's end: the client sees it incomplete`, async (t) => {
    let pulls = 0;
    let fail: (() => void) | undefined;
    const failed = new Promise<void>((resolve) => (fail = resolve));
    const { face } = standIn(() => new Response(new ReadableStream({
      pull: async (c) => {
        pulls += 1;
        if (pulls === 1) return c.enqueue(new TextEncoder().encode(': stream open\n\n'));
        // Once the client has the start of the answer, its stream fails.
        await failed;
        c.error(new Error('the client did not read its answer'));
      },
    }), { headers: { 'content-type': 'text/event-stream' } }));
    const { port } = await serve(t, engine, face);
    const got = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        if (text.includes(': stream open')) fail!();
      }).on('error', reject).on('close', () => resolve(text));
    });
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.ok(got.includes(': stream open'), got);
    // Chunked: a stream that ended as it should closes with the last chunk; this one must not look ended.
    assert.ok(!got.endsWith('0\r\n\r\n'), `the failed stream was ended as if complete: ${JSON.stringify(got.slice(-40))}`);
  });
}

for (const engine of ['node', 'uws'] as const) {
  test(`[${engine}] answers their clients do not read are bounded for all connections together: past heldAnswerBytes the longest-waiting is cut, its request aborted, the log names its identity, and a reading client is answered`, { timeout: 20_000 }, async (t) => {
    // Eight clients each ask for an 8 MiB answer and read none of it. The stalled-output cut (60 s) is
    // out of the way: without a bound on all of them together the hub held every answer for a minute.
    const answer = JSON.stringify({ rows: 'x'.repeat(8 * 1024 * 1024) });
    const why: string[] = [];
    const { face, fetched } = standIn((request) => {
      request.signal.addEventListener('abort', () => why.push(String((request.signal.reason as Error | undefined)?.message)));
      return new Response(answer, { headers: { 'content-type': 'application/json' } });
    });
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    const { port } = await serve(t, engine, face, { heldAnswerBytes: 16 * 1024 * 1024 }, createLogger({ destination: sink, level: 'info' }));
    const closed: Promise<void>[] = [];
    const sockets: Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\n\r\n'));
      socket.on('error', () => {});
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      t.after(() => socket.destroy());
      socket.pause();
      sockets.push(socket);
      await until(`request ${i + 1}`, () => fetched.length > i);
    }
    await until('a cut', () => why.length > 0);
    assert.match(why[0]!, /the client did not read its answer: the hub holds \d+ bytes of answers its HTTP clients have not read \(limit 16777216\)/);
    // The hub log says whose answer it was: the operator can tell which key's client does not read.
    await until('the cut logged', () => lines.some((l) => l.includes('the longest-waiting answer is cut')));
    const logged = JSON.parse(lines.find((l) => l.includes('the longest-waiting answer is cut'))!) as { identity?: string; limit?: number };
    assert.equal(logged.identity, 'alice');
    assert.equal(logged.limit, 16 * 1024 * 1024);
    // The first client, which waited longest, was cut: once it reads, it finds its connection closed.
    sockets[0]!.resume();
    await closed[0];
    // A client that reads still gets its whole answer.
    const got = await rawExchange(port, 'GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\nConnection: close\r\n\r\n');
    assert.ok(got.includes(answer), `a reading client got ${got.length} bytes`);
  });
}

for (const engine of ['node', 'uws'] as const) {
  test(`[${engine}] an unread answer cut for the bound, or whose client goes away, is let go of at once, not a stalledOutputMs later`, { timeout: 20_000 }, async (t) => {
    // uWebSockets.js's writer waited out stalledOutputMs (60 s) on an answer cut or whose client had gone,
    // holding its bytes: each cut made room in the count for another answer, not in the hub's memory.
    const answer = JSON.stringify({ rows: 'x'.repeat(8 * 1024 * 1024) });
    const { face, fetched } = standIn(() => new Response(answer, { headers: { 'content-type': 'application/json' } }));
    const limit = 16 * 1024 * 1024;
    const answers = new AnswerBudget(limit);
    const { port } = await serve(t, engine, face, { answers });
    const sockets: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\n\r\n'));
      socket.on('error', () => {});
      t.after(() => socket.destroy());
      socket.pause();
      sockets.push(socket);
      await until(`request ${i + 1}`, () => fetched.length > i);
    }
    await until('a cut', () => answers.cuts > 0);
    // What is still counted is what is still held: the cut answers' bytes went with their connections.
    await until(`the cut answers let go of (${answers.heldBytes} bytes held)`, () => answers.heldBytes <= limit, 5_000);
    for (const socket of sockets) socket.destroy();
    await until(`the answers of clients gone let go of (${answers.heldBytes} bytes held)`, () => answers.heldBytes === 0, 5_000);
  });
}

// uWebSockets.js only: node:http stops reading a connection whose answers wait (what arrived already is
// parsed, and its answers are queued: the probe's client, sending as long as it could, held ~170 MB there).
test('[uws] a client pipelining requests on one connection and never reading holds one answer, not one per request, and is cut after stalledOutputMs', async (t) => {
  const answer = JSON.stringify({ rows: 'x'.repeat(64 * 1024) });
  const cut: Promise<void>[] = [];
  const { face, fetched } = standIn((request) => {
    cut.push(new Promise((resolve) => request.signal.addEventListener('abort', () => resolve())));
    return new Response(answer, { headers: { 'content-type': 'application/json' } });
  });
  const { port } = await serve(t, 'uws', face, { stalledOutputMs: 300 });
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  socket.pause();
  // 2,000 requests back to back, ~128 MB of answers: the engine answered every one (and held them all)
  // while the client read none.
  socket.write('GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ok\r\n\r\n'.repeat(2000));
  await until('the first request', () => fetched.length > 0);
  // The unread answer that waited 300 ms cuts the connection (its request's signal aborts); what the kernel
  // buffers took before it is all the hub answered.
  await until('the cut', () => cut.length > 0);
  await Promise.race(cut);
  assert.ok(fetched.length < 200, `${fetched.length} of 2000 pipelined requests were answered for a client that read nothing`);
});

/** A /shim link opened on `port` and handed to the face; `closed` resolves with the close frame the client got. */
async function openShim(t: { after(fn: () => unknown): void }, port: number, links: Duplex[]): Promise<{ ws: WebSocket; link: Duplex; closed: Promise<{ code: number; reason: string }> }> {
  const before = links.length;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/shim`);
  t.after(() => ws.terminate());
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await until('the link', () => links.length > before);
  const link = links[before]!;
  link.on('error', () => {});
  return { ws, link, closed };
}

const NO_HELLO = 'No hello within 5000 ms: a shim sends its hello first. Upgrade snowmux shim to match the hub.';

for (const engine of ['node', 'uws'] as const) {
  // node:http's link was ws's own stream, whose destroy() terminated the socket: 1006, no close frame.
  test(`[${engine}] a /shim link the hub ends with a reason (no hello in time, a silent link) is closed with 1008 and that reason`, async (t) => {
    const { face, links } = standIn();
    const { port } = await serve(t, engine, face);
    const { link, closed } = await openShim(t, port, links);
    link.destroy(new Error(NO_HELLO));
    assert.deepEqual(await closed, { code: 1008, reason: NO_HELLO });
  });

  test(`[${engine}] a /shim message over 16 MiB closes the link with 1009 and the reason`, async (t) => {
    const { face, links } = standIn();
    const { port } = await serve(t, engine, face);
    const { ws, link, closed } = await openShim(t, port, links);
    ws.send(Buffer.alloc(16 * 1024 * 1024 + 10, 32));
    assert.deepEqual(await closed, { code: 1009, reason: 'A WebSocket message over 16777216 bytes: the hub takes at most that much at once.' });
    await until('the link to end', () => link.destroyed);
  });

  // Past what the engine itself takes in one message (a little over 16 MiB), ws closed with a bare 1009: the
  // peer learned nothing of why. (uWebSockets.js closes the socket there with no close frame at all, 1006,
  // and tells the hub only afterwards: nothing can be said to the peer.)
  if (engine === 'node') test(`[${engine}] a /shim message past the engine's own bound closes the link with 1009 and the reason`, async (t) => {
    const { face, links } = standIn();
    const { port } = await serve(t, engine, face);
    const { ws, link, closed } = await openShim(t, port, links);
    ws.send(Buffer.alloc(ENGINE_MAX_PAYLOAD_BYTES + 10, 32));
    assert.deepEqual(await closed, { code: 1009, reason: 'A WebSocket message over 16777216 bytes: the hub takes at most that much at once.' });
    await until('the link to end', () => link.destroyed);
  });

  // The hub cuts a shim that does not read its answers: the close frame waits behind them. uWebSockets.js
  // dropped it (over its 1 MiB backpressure limit, any frame is dropped), and the shim read 1006.
  test(`[${engine}] a /shim link the hub ends with a reason while its shim reads nothing: once it reads what was sent, then 1008 and the reason`, async (t) => {
    const { face, links } = standIn();
    const { port } = await serve(t, engine, face);
    const { ws, link, closed } = await openShim(t, port, links);
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    let got = 0;
    ws.on('message', (data: Buffer) => (got += data.length));
    // 24 MiB of answers, more than the kernel buffers take: the engine ends up holding one it cannot send,
    // and the link the rest. Wait until the engine has stopped taking them.
    const answer = Buffer.alloc(3 * 1024 * 1024, 120);
    for (let i = 0; i < 8; i++) link.write(answer);
    const sent = 8 * answer.length;
    let last = -1;
    let steady = 0;
    await until('the engine to stop taking answers', () => {
      steady = link.writableLength === last ? steady + 1 : 0;
      last = link.writableLength;
      return steady >= 20 && last > 0;
    });
    link.destroy(new Error('The hub cut this session: the client did not read its answers.'));
    socket.resume();
    assert.deepEqual(await closed, { code: 1008, reason: 'The hub cut this session: the client did not read its answers.' });
    assert.ok(got > 0 && got <= sent, `read ${got} of ${sent} bytes`);
  });
}

// uWebSockets.js only: node:http's ws stops reading a link whose input the hub does not read (backpressure).
test('[uws] a /shim link whose input the hub does not read is cut past 16 MiB waiting, saying why (it queued every message before)', async (t) => {
  const { face, links } = standIn();
  const { port } = await serve(t, 'uws', face);
  const { ws, link, closed } = await openShim(t, port, links);
  let mostQueued = 0;
  const push = link.push.bind(link);
  link.push = (chunk: Buffer | null) => {
    const more = push(chunk);
    mostQueued = Math.max(mostQueued, link.readableLength);
    return more;
  };
  const frame = Buffer.alloc(1024 * 1024, 32);
  for (let i = 0; i < 48; i++) ws.send(frame);
  const { code, reason } = await closed;
  assert.equal(code, 1008);
  assert.match(reason, /sent more than the hub has read \(16 MiB waiting\): it sends without reading its answers/);
  assert.ok(mostQueued <= 17 * 1024 * 1024, `queued ${mostQueued} bytes for a link nobody reads`);
  assert.equal(link.destroyed, true);
});

test('[uws] the /shim links of one identity are bounded together: the link whose message passes 32 MiB waiting is cut, saying why', async (t) => {
  const { face, links } = standIn();
  const { port } = await serve(t, 'uws', face);
  const frame = Buffer.alloc(1024 * 1024, 32);
  // Each link stays under its own 16 MiB bound; three of them (of the 64 one identity may hold) pass 32 MiB.
  const opened: Awaited<ReturnType<typeof openShim>>[] = [];
  for (let i = 0; i < 3; i++) {
    const shim = await openShim(t, port, links);
    opened.push(shim);
    if (i === 2) break;
    for (let j = 0; j < 12; j++) shim.ws.send(frame);
    await until(`link ${i + 1}'s input`, () => shim.link.readableLength === 12 * frame.length);
  }
  const last = opened[2]!;
  let closed: { code: number; reason: string } | undefined;
  void last.closed.then((c) => (closed = c));
  for (let j = 0; j < 12; j++) last.ws.send(frame);
  await until('the third link to be cut', () => closed !== undefined);
  const { code, reason } = closed!;
  assert.equal(code, 1008);
  assert.match(reason, /identity's shim links sent more than the hub has read \(32 MiB waiting\)/);
  assert.equal(last.link.destroyed, true);
  assert.ok(links.reduce((sum, l) => sum + (l.destroyed ? 0 : l.readableLength), 0) <= 32 * 1024 * 1024);
  // The links that kept within the bound stay open.
  assert.deepEqual(opened.slice(0, 2).map((o) => o.ws.readyState), [WebSocket.OPEN, WebSocket.OPEN]);
  assert.deepEqual(opened.slice(0, 2).map((o) => o.link.destroyed), [false, false]);
});
