/**
 * The Cortex REST client against a local HTTP server: the session token it sends (from the driver's
 * serialize()), names quoted only where Snowflake needs it (and URL-encoded in paths), and every failure
 * turned into a code and a message saying what to do — an expired token reported for renewal, 4xx and 5xx
 * mapped, a body that is not JSON or too big refused without buffering it all; calls go through the
 * environment's proxy as the driver's do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { analystMessage, qualifiedName, searchService, stagedFileText, type CortexCall } from '../../src/hub/warehouse/snowflake/cortex-api.js';
import { bypassesProxy, proxyFor } from '../../src/hub/warehouse/snowflake/proxy-fetch.js';
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

function call(baseUrl: string, token: string | null = 'tok-123', proxy: CortexCall['proxy'] = { useEnvProxy: true, env: {} }): CortexCall {
  const connection = { serialize: () => JSON.stringify({ services: { sf: { tokenInfo: token === null ? {} : { sessionToken: token } } } }) } as never;
  const controller = new AbortController();
  return { baseUrl, connection, signal: controller.signal, what: 'Cortex Search service X', cancelled: () => new SnowmuxError('QUERY_CANCELLED', 'cancelled'), proxy };
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

/** A forward proxy that tunnels CONNECT requests (what undici and the driver send) and notes each target. */
async function tunnellingProxy(t: { after(fn: () => unknown): void }): Promise<{ url: string; targets: string[] }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); proxy.close(() => r()); }));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, targets };
}

test('Cortex calls go through the proxy the environment names, unless NO_PROXY lists the host or use_env_proxy is off', async (t) => {
  const base = await server(t, (_req, _body, res) => json(res, 200, { results: [{ A: 1 }] }));
  const target = new URL(base).host;
  const proxy = await tunnellingProxy(t);
  const search = (p: CortexCall['proxy']) => searchService(call(base, 'tok-1', p), { database: 'D', schema: 'S', name: 'SVC' }, { query: 'q', columns: [], limit: 1 });

  assert.equal((await search({ useEnvProxy: true, env: { HTTP_PROXY: proxy.url } })).ok, true);
  assert.deepEqual(proxy.targets, [target], 'the call tunnelled through HTTP_PROXY');
  assert.equal((await search({ useEnvProxy: true, env: { http_proxy: proxy.url.replace('http://', ''), NO_PROXY: 'example.com' } })).ok, true);
  assert.equal(proxy.targets.length, 2, 'a proxy given without a scheme is http://, and NO_PROXY for other hosts changes nothing');

  assert.equal((await search({ useEnvProxy: true, env: { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' } })).ok, true);
  assert.equal((await search({ useEnvProxy: false, env: { HTTP_PROXY: proxy.url } })).ok, true);
  assert.equal((await search({ useEnvProxy: true, env: { HTTPS_PROXY: proxy.url } })).ok, true, 'HTTPS_PROXY is for https URLs only');
  assert.equal(proxy.targets.length, 2, 'NO_PROXY, use_env_proxy = false and an https-only proxy each connect directly');
});

test('NO_PROXY is read as the driver reads it: whole names, * and a leading . as wildcards', () => {
  const url = (u: string) => new URL(u);
  const cases: [string, string, boolean][] = [
    ['https://acme.snowflakecomputing.com', '.snowflakecomputing.com', true],
    ['https://acme.snowflakecomputing.com', '*.snowflakecomputing.com', true],
    ['https://acme.snowflakecomputing.com', 'acme.snowflakecomputing.com', true],
    ['https://acme.snowflakecomputing.com', 'snowflakecomputing.com', false],
    ['https://acme.snowflakecomputing.com', 'acme.snowflakecomputing.co', false],
    ['https://acme.snowflakecomputing.com', 'acme-snowflakecomputing.com', false],
    ['https://acme.snowflakecomputing.com', 'other.com|*.snowflakecomputing.com', true],
    ['https://acme.snowflakecomputing.com', 'other.com, acme.snowflakecomputing.com', true],
    ['http://10.1.2.3:8080/x', '10.1.2.3', true],
    ['http://10.1.2.3:8080/x', '10.1.2.*', true],
    ['http://[::1]:8080/x', '::1', true],
    ['https://a.example', '*', true],
    ['https://a.example', ' , ', false],
  ];
  for (const [u, noProxy, expected] of cases) assert.equal(bypassesProxy(url(u), noProxy), expected, `${u} with NO_PROXY=${noProxy}`);
  assert.equal(proxyFor(url('https://a.example'), { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }), 'http://lower:1');
  assert.equal(proxyFor(url('https://a.example'), { HTTPS_PROXY: 'proxy.corp:3128' }), 'http://proxy.corp:3128');
  assert.equal(proxyFor(url('https://a.example'), { HTTP_PROXY: 'http://p:1' }), undefined);
});
