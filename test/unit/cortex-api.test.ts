/**
 * The Cortex REST client against a local HTTP server: the session token it sends (from the driver's
 * serialize()), names quoted only where Snowflake needs it (and URL-encoded in paths), and every failure
 * turned into a code and a message saying what to do — an expired token reported for renewal, 4xx and 5xx
 * mapped, a body that is not JSON or too big refused without buffering it all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { analystMessage, qualifiedName, searchService, stagedFileText, type CortexCall } from '../../src/hub/warehouse/snowflake/cortex-api.js';
import { SnowmuxError } from '../../src/errors.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function server(t: { after(fn: () => unknown): void }, handler: Handler): Promise<string> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function call(baseUrl: string, token: string | null = 'tok-123'): CortexCall {
  const connection = { serialize: () => JSON.stringify({ services: { sf: { tokenInfo: token === null ? {} : { sessionToken: token } } } }) } as never;
  const controller = new AbortController();
  return { baseUrl, connection, signal: controller.signal, what: 'Cortex Search service X', cancelled: () => new SnowmuxError('QUERY_CANCELLED', 'cancelled') };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('names are quoted only where Snowflake needs it, and encoded in URL paths', async (t) => {
  assert.equal(qualifiedName({ database: 'DB', schema: 'S_1', name: 'V$X' }), 'DB.S_1.V$X');
  assert.equal(qualifiedName({ database: 'My Db', schema: 'a"b', name: 'v' }), '"My Db"."a""b"."v"');
  assert.equal(stagedFileText({ stage: { database: 'DB', schema: 'S', name: 'st' }, path: 'm/x.yaml' }), '@DB.S."st"/m/x.yaml');
  let seen: { url?: string; auth?: string; body?: unknown } = {};
  const base = await server(t, (req, body, res) => {
    seen = { url: req.url, auth: req.headers.authorization, body: JSON.parse(body) };
    json(res, 200, { results: [{ A: 1 }, 'not a row'], request_id: 'r1' });
  });
  const out = await searchService(call(base), { database: 'My Db', schema: 'S', name: 'a/b?c' }, { query: 'q', columns: [], limit: 3 });
  assert.deepEqual(out, { ok: true, value: { results: [{ A: 1 }], requestId: 'r1' } });
  assert.equal(seen.url, '/api/v2/databases/%22My%20Db%22/schemas/S/cortex-search-services/%22a%2Fb%3Fc%22:query');
  assert.equal(seen.auth, 'Snowflake Token="tok-123"');
  assert.deepEqual(seen.body, { query: 'q', limit: 3 });
});

test('an expired or missing session token is reported for renewal; other failures get codes and what to do', async (t) => {
  const replies: [number, unknown, string | undefined][] = [
    [401, { code: '390112', message: 'Your session has expired.' }, undefined],
    [400, { message: 'bad semantic view', request_id: 'q' }, 'INVALID_ARGUMENT'],
    [401, { code: '390104', message: 'login again' }, 'CONNECTION_LOST'],
    [403, { message: 'no usage' }, 'PERMISSION_DENIED'],
    [404, { message: 'no such service' }, 'OBJECT_NOT_FOUND'],
    [503, { message: 'busy' }, 'WAREHOUSE_ERROR'],
    [429, { message: 'slow down' }, 'WAREHOUSE_ERROR'],
  ];
  let i = 0;
  const base = await server(t, (_req, _body, res) => {
    const [status, body] = replies[i++]!;
    json(res, status, body);
  });
  for (const [status, , code] of replies) {
    const out = await analystMessage(call(base), { question: 'q', semanticView: { database: 'D', schema: 'S', name: 'V' } });
    assert.equal(out.ok, false);
    if (out.ok) continue;
    if (code === undefined) {
      assert.equal(out.expired, true, `HTTP ${status}`);
      continue;
    }
    assert.equal(out.expired, false);
    if (!out.expired) {
      assert.equal(out.error.code, code, `HTTP ${status}: ${out.error.message}`);
      assert.match(out.error.message, /Cortex Search service X/);
    }
  }
  const noToken = await analystMessage(call(base, null), { question: 'q', semanticView: { database: 'D', schema: 'S', name: 'V' } });
  assert.deepEqual(noToken, { ok: false, expired: true });
});

test('a body that is not JSON, or too big, is refused with a clear error; an unreachable host is WAREHOUSE_UNAVAILABLE', async (t) => {
  let mode = 'html';
  const base = await server(t, (_req, _body, res) => {
    if (mode === 'html') {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    // Streams more than the cap without a content-length: the client stops reading, it does not buffer it all.
    const chunk = Buffer.alloc(1024 * 1024, 32);
    let sent = 0;
    const push = () => {
      while (sent < 20 && res.write(chunk)) sent++;
      if (sent < 20) res.once('drain', push);
      else res.end();
    };
    res.write('{"results":[');
    push();
  });
  const html = await searchService(call(base), { database: 'D', schema: 'S', name: 'X' }, { query: 'q', columns: [], limit: 1 });
  assert.ok(!html.ok && !html.expired && html.error.code === 'WAREHOUSE_ERROR' && /not JSON/.test(html.error.message));
  mode = 'huge';
  const huge = await searchService(call(base), { database: 'D', schema: 'S', name: 'X' }, { query: 'q', columns: [], limit: 1 });
  assert.ok(!huge.ok && !huge.expired && huge.error.code === 'WAREHOUSE_ERROR' && /more than 16 MiB/.test(huge.error.message), JSON.stringify(huge));
  const down = await searchService(call('http://127.0.0.1:1'), { database: 'D', schema: 'S', name: 'X' }, { query: 'q', columns: [], limit: 1 });
  assert.ok(!down.ok && !down.expired && down.error.code === 'WAREHOUSE_UNAVAILABLE');
});
