/**
 * The hub's HTTP face through the real product: keys on every route, Host/Origin refusals, security
 * headers, /readyz, /status, /metrics, /events, and MCP over Streamable HTTP for real clients of both eras
 * (SDK v2 2026-07-28 and 2025-11-25, SDK v1), governed by the key's identity and audited like socket calls.
 * Run once per engine by http-face-uws.test.ts and http-face-node.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defer, runCli, startHub, tempHome, type HubProcess } from '../helpers/harness.js';
import { openEventStream, type HubEvent } from '../helpers/event-stream.js';

interface Rig {
  home: string;
  hub: HubProcess;
  url: string;
  key(identity: string, extra?: string[]): Promise<string>;
}

/** Both engines pass every case: uWebSockets.js (hyper-express) and node:http. */
type Engine = 'uws' | 'node';
let engine: Engine = 'node';

async function rig(t: Parameters<typeof tempHome>[0], config = ''): Promise<Rig> {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_engine = "${engine}"\n${config}`);
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  assert.ok(url, hub.stderr());
  assert.match(hub.stderr(), engine === 'uws' ? /uWebSockets\.js/ : /node:http/);
  return {
    home,
    hub,
    url,
    async key(identity, extra = []) {
      const r = await runCli(['keys', 'create', '--identity', identity, '--home', home, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    },
  };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const SECURITY = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };
function assertSecured(headers: Record<string, unknown> | Headers, what: string): void {
  const get = (k: string) => (headers instanceof Headers ? headers.get(k) : (headers[k] as string | undefined) ?? null);
  for (const [k, v] of Object.entries(SECURITY)) {
    // SSE answers keep no-transform (proxies must not buffer a stream) beside no-store.
    if (k === 'cache-control') assert.match(get(k) ?? '', /^no-store(, no-transform)?$/, `${what}: ${k}`);
    else assert.equal(get(k), v, `${what}: ${k}`);
  }
  assert.match(get('content-security-policy') ?? '', /default-src 'none'/, `${what}: content-security-policy`);
}

interface RawAnswer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * One request with node:http, from a chosen loopback source address (each source has its own budget of
 * failed authentications), as a WebSocket upgrade when `upgrade` is set (a remote shim's /shim).
 */
/** `head`: resolve with the status and headers and drop the body (an /events stream never ends). */
function rawRequest(url: string, opts: { path: string; method?: string; headers?: Record<string, string>; from?: string; upgrade?: boolean; body?: string; head?: boolean }): Promise<RawAnswer> {
  const { port } = new URL(url);
  return import('node:http').then(({ request }) => new Promise<RawAnswer>((resolve, reject) => {
    const upgrade = opts.upgrade ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } : {};
    const req = request({ host: '127.0.0.1', port, path: opts.path, method: opts.method ?? 'GET', localAddress: opts.from, headers: { ...upgrade, ...opts.headers } }, (res) => {
      if (opts.head) {
        res.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, body: '' });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, headers: res.headers, body: '' });
    });
    req.on('error', reject);
    req.end(opts.body);
  }));
}

function auditRecords(home: string): { kind: string; identity?: string; tool?: string; outcome?: string; errorCode?: string; detail?: Record<string, unknown> }[] {
  const dir = join(home, 'audit');
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort().flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as never));
}

/**
 * The cases, for one engine. Each engine's run is a test file of its own (http-face-uws, http-face-node): the
 * two engines in one file came near the runner's per-file limit (180 s) and passed it on a busy machine.
 */
export function httpFaceTests(e: Engine): void {
  test(`[${e}] keys guard every route but /healthz: missing, malformed, unknown, revoked and expired keys are refused with the reason`, async (t) => {
    engine = e;
    const r = await rig(t);
    // The advice names this hub's home: pasted bare, it made a key in ~/.snowmux that this hub never reads.
    assert.ok(r.hub.stderr().includes(`Create one: snowmux keys create --identity NAME --home ${r.home}\n`), r.hub.stderr());
    const alice = await r.key('alice');
    const health = await fetch(`${r.url}/healthz`);
    assert.equal(health.status, 200);
    // Without a key: whether it runs and which process, nothing about its version or who uses it.
    assert.deepEqual(Object.keys((await health.clone().json()) as object).sort(), ['pid', 'status', 'uptimeMs']);
    assert.equal(health.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(health.headers.get('cache-control'), 'no-store');
    assert.equal(health.headers.get('access-control-allow-origin'), null, 'CORS is off by default');

    for (const route of ['/readyz', '/status', '/metrics', '/events', '/mcp']) {
      const res = await fetch(`${r.url}${route}`);
      assert.equal(res.status, 401, route);
      assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.match(((await res.json()) as { error: string }).error, /Authorization: Bearer/);
    }
    const malformed = await fetch(`${r.url}/status`, { headers: bearer('hunter2') });
    assert.match(((await malformed.json()) as { error: string }).error, /not a snowmux key/);
    const forged = alice.slice(0, -4) + (alice.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await fetch(`${r.url}/status`, { headers: bearer(forged) })).status, 401);
    const ok = await fetch(`${r.url}/status`, { headers: bearer(alice) });
    assert.equal(ok.status, 200);
    const status = (await ok.json()) as { pid: number; http: { url: string; auth: boolean } };
    assert.equal(status.pid, r.hub.pid);
    assert.deepEqual(status.http, { url: r.url, engine, auth: true });

    // `snowmux status --url` reads the same over HTTP, with the key from the environment (never a flag).
    const remote = await runCli(['status', '--url', r.url], { SNOWMUX_KEY: alice });
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(remote.stdout, new RegExp(`pid ${r.hub.pid}`));
    const noKey = await runCli(['status', '--url', r.url]);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /refused the key[\s\S]*SNOWMUX_KEY[\s\S]*HTTP_UNAUTHORIZED/);

    // Revocation takes effect on the very next request, without a reload.
    const id = /^smx_([0-9a-f]{12})_/.exec(alice)![1]!;
    assert.equal((await runCli(['keys', 'revoke', id.slice(0, 6), '--home', r.home])).code, 0);
    const revoked = await fetch(`${r.url}/status`, { headers: bearer(alice) });
    assert.equal(revoked.status, 401);
    assert.match(((await revoked.json()) as { error: string }).error, /revoked/);
    const list = await runCli(['keys', 'list', '--json', '--home', r.home]);
    assert.deepEqual((JSON.parse(list.stdout) as { state: string }[]).map((k) => k.state), ['revoked']);
    assert.ok(!list.stdout.includes(alice.slice('smx_'.length + 12 + 1)), 'keys list never shows a secret');
    const keyFile = readFileSync(join(r.home, 'keys.json'), 'utf8');
    assert.ok(!keyFile.includes(alice.slice('smx_'.length + 12 + 1)), 'keys.json holds hashes, not secrets');

    const metrics = await (await fetch(`${r.url}/metrics`, { headers: bearer(await r.key('scraper')) })).text();
    assert.match(metrics, /snowmux_http_auth_failures_total\{reason="missing"\} 6/);
    assert.match(metrics, /snowmux_http_auth_failures_total\{reason="revoked"\} 1/);
    assert.match(metrics, /snowmux_http_requests_total\{route="\/healthz",status="200"\} 1/);
  });

  test(`[${e}] every route (/shim too) refuses missing, malformed, unknown, revoked and expired keys alike, with security headers; each refusal is audited, without the secret`, async (t) => {
    engine = e;
    const r = await rig(t);
    const good = await r.key('good');
    const revoked = await r.key('gone');
    const expired = await r.key('brief', ['--expires', '1s']);
    assert.equal((await runCli(['keys', 'revoke', /^smx_([0-9a-f]{12})_/.exec(revoked)![1]!, '--home', r.home])).code, 0);
    // Wait the expiry out on the hub's own clock by polling, not sleeping blind.
    while ((await fetch(`${r.url}/status`, { headers: bearer(expired) })).status === 200);
    const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const kinds: [string, Record<string, string>, RegExp][] = [
      ['missing', {}, /Authorization: Bearer/],
      ['malformed', bearer('hunter2'), /not a snowmux key/],
      ['unknown', bearer(forged), /not valid/],
      ['revoked', bearer(revoked), /revoked/],
      ['expired', bearer(expired), /expired/],
      // A header that is there but not "Bearer <key>" is a malformed key, not a missing one.
      ['malformed', { authorization: `Bearer ${good} extra` }, /not a snowmux key/],
      ['malformed', { authorization: 'Basic dXNlcjpwYXNz' }, /not a snowmux key/],
    ];
    const routes = ['/readyz', '/status', '/metrics', '/events', '/mcp', '/shim'];
    // Each kind of key from its own source address: 6 refusals each, under the 20 a minute that throttle a source.
    for (const [i, [kind, headers, why]] of kinds.entries()) {
      for (const route of routes) {
        const res = await rawRequest(r.url, { path: route, headers, from: `127.0.0.${10 + i}`, upgrade: route === '/shim' });
        assert.equal(res.status, 401, `${kind} key on ${route}`);
        assert.match(String(res.headers['www-authenticate']), /Bearer/, `${kind} key on ${route}`);
        assertSecured(res.headers, `${kind} key on ${route}`);
        if (route !== '/shim' || e === 'node') assert.match(res.body, why, `${kind} key on ${route}: ${res.body}`);
      }
    }
    // The good key passes everywhere (/shim: the upgrade is accepted).
    for (const route of routes) {
      const res = await rawRequest(r.url, { path: route, headers: bearer(good), upgrade: route === '/shim', method: route === '/mcp' ? 'POST' : 'GET', head: true });
      assert.ok(res.status !== 401 && res.status !== 403, `good key on ${route}: ${res.status}`);
    }
    // One source with too many failures is throttled, and audited once for it.
    let throttled = 0;
    for (let i = 0; i < 25; i++) if ((await rawRequest(r.url, { path: '/status', headers: bearer(forged), from: '127.0.0.20' })).status === 429) throttled++;
    assert.equal(throttled, 5);
    // A valid key from that same address is still served: behind a load balancer or NAT one address is everyone's.
    assert.equal((await rawRequest(r.url, { path: '/status', headers: bearer(good), from: '127.0.0.20' })).status, 200);
    assert.equal((await rawRequest(r.url, { path: '/status', headers: bearer(forged), from: '127.0.0.20' })).status, 429, 'and the address stays throttled for bad keys');

    assert.equal(await r.hub.stop(), 0);
    const refusals = auditRecords(r.home).filter((x) => x.kind === 'auth_refused');
    for (const [kind] of kinds) {
      const mine = refusals.filter((x) => x.detail?.reason === kind && String(x.detail.remote).endsWith(`127.0.0.${10 + kinds.findIndex(([k]) => k === kind)}`));
      assert.deepEqual(mine.map((x) => x.detail!.route).sort(), [...routes].sort(), `${kind} refusals audited on every route`);
      assert.ok(mine.every((x) => x.outcome === 'refused' && x.errorCode === 'HTTP_UNAUTHORIZED'));
    }
    assert.ok(refusals.filter((x) => x.detail?.reason === 'revoked').every((x) => x.identity === 'gone' && x.detail!.keyId === /^smx_([0-9a-f]{12})_/.exec(revoked)![1]));
    assert.ok(refusals.filter((x) => x.detail?.reason === 'expired').every((x) => x.identity === 'brief'));
    assert.ok(refusals.filter((x) => x.detail?.reason === 'missing').every((x) => x.identity === '(unauthenticated)'));
    const fromThrottled = refusals.filter((x) => String(x.detail?.remote).endsWith('127.0.0.20'));
    assert.equal(fromThrottled.filter((x) => x.detail!.reason === 'unknown').length, 20);
    assert.deepEqual(fromThrottled.filter((x) => x.detail!.reason === 'throttled').map((x) => x.errorCode), ['RATE_LIMITED'], 'a throttled source is audited once, not per request');
    const log = readdirSync(join(r.home, 'audit')).map((f) => readFileSync(join(r.home, 'audit', f), 'utf8')).join('');
    for (const key of [good, revoked, expired, forged]) assert.ok(!log.includes(key.slice(-32)), 'no key secret in the audit log');
    assert.equal((await runCli(['audit', 'verify', '--home', r.home])).code, 0);
  });

  test(`[${e}] security headers on every answer: errors of the face and of the engine, streams, MCP, /shim refusals`, async (t) => {
    engine = e;
    const r = await rig(t);
    const key = await r.key('headers');
    const mcpHeaders = { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'h', version: '1' } } });
    const cases: [string, Parameters<typeof rawRequest>[1], number][] = [
      ['healthz', { path: '/healthz' }, 200],
      ['status', { path: '/status', headers: bearer(key) }, 200],
      ['metrics', { path: '/metrics', headers: bearer(key) }, 200],
      ['readyz', { path: '/readyz', headers: bearer(key) }, 200],
      ['unknown route', { path: '/nope', headers: bearer(key) }, 404],
      ['wrong method', { path: '/status', method: 'POST', headers: bearer(key) }, 405],
      ['wrong method on /mcp', { path: '/mcp', method: 'PUT', headers: mcpHeaders, body: '{}' }, 405],
      ['bad host', { path: '/status', headers: { ...bearer(key), host: 'attacker.example' } }, 403],
      ['bad origin', { path: '/status', headers: { ...bearer(key), origin: 'https://evil.example' } }, 403],
      ['mcp initialize', { path: '/mcp', method: 'POST', headers: mcpHeaders, body: init }, 200],
      ['mcp unknown session', { path: '/mcp', method: 'POST', headers: { ...mcpHeaders, 'mcp-session-id': 'nope' }, body: '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' }, 404],
      ['mcp bad json', { path: '/mcp', method: 'POST', headers: mcpHeaders, body: '{' }, 400],
      ['mcp body too large', { path: '/mcp', method: 'POST', headers: mcpHeaders, body: `{"x":"${'a'.repeat(5 * 1024 * 1024)}"}` }, 413],
      ['mcp chunked body too large', { path: '/mcp', method: 'POST', headers: { ...mcpHeaders, 'transfer-encoding': 'chunked' }, body: `{"x":"${'a'.repeat(5 * 1024 * 1024)}"}` }, 413],
      // RFC 9112: the coding's name is case-insensitive. uWebSockets.js drops such a body: said, not "not valid JSON".
      ['mcp body sent "Transfer-Encoding: Chunked"', { path: '/mcp', method: 'POST', headers: { ...mcpHeaders, 'transfer-encoding': 'Chunked' }, body: init }, e === 'node' ? 200 : 400],
      ['shim bad origin', { path: '/shim', upgrade: true, headers: { ...bearer(key), origin: 'https://evil.example' } }, 403],
      ['shim wrong path', { path: '/elsewhere', upgrade: true, headers: bearer(key) }, 404],
      ['plain request to /shim', { path: '/shim', headers: bearer(key) }, 426],
    ];
    for (const [what, req, status] of cases) {
      const res = await rawRequest(r.url, req).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }));
      assert.equal(res.status, status, `${what}: ${res.body.slice(0, 200)}`);
      assertSecured(res.headers, what);
      // Every engine answers an oversize body with the reason (uWebSockets.js used to reset the connection).
      if (status === 413) assert.match(res.body, /over 4194304 bytes/, what);
      // A 404 lists every route, /shim too (a remote shim given the hub's bare address is told where to go).
      if (what === 'unknown route') assert.match(res.body, /Routes: .*\/mcp, \/shim\./, what);
      if (what === 'plain request to /shim') assert.match(res.body, /only WebSocket upgrades/, what);
      if (what.includes('Chunked') && status === 400) assert.match((JSON.parse(res.body) as { error: string }).error, /"Transfer-Encoding: chunked" in lower case, or with a Content-Length/, what);
    }
    const events = new AbortController();
    defer(t, () => events.abort());
    const stream = await fetch(`${r.url}/events`, { headers: bearer(key), signal: events.signal });
    assertSecured(stream.headers, 'events');
    events.abort();
  });

  test(`[${e}] a request body that trickles in is answered 408 with the reason, and the connection closed; a whole one is served`, async (t) => {
    engine = e;
    const r = await rig(t, 'http_body_timeout_ms = 400\n');
    const key = await r.key('slow');
    const { port } = new URL(r.url);
    // Headers and a part of the body, then one more byte now and then, never the whole body.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{"jsonrpc"`);
      });
      const drip = setInterval(() => socket.writable && socket.write(' '), 100);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(drip);
        resolve(text);
      });
      defer(t, () => {
        clearInterval(drip);
        socket.destroy();
      });
      setTimeout(() => reject(new Error(`no answer in 8 s; got ${JSON.stringify(text)}`)), 8_000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 408 /, answer);
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    assert.match((JSON.parse(body) as { error: string }).error, /did not arrive within 400 ms \(hub\.http_body_timeout_ms\)/, body);
    assert.match(answer, /x-content-type-options: nosniff/i);
    // The timer ends with the body: a whole request right after is served.
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'h', version: '1' } } });
    const ok = await rawRequest(r.url, { path: '/mcp', method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: init });
    assert.equal(ok.status, 200, ok.body);
  });

  test(`[${e}] request headers that trickle in are cut after about 10 s, not held for the engine's own check period`, async (t) => {
    engine = e;
    const r = await rig(t);
    const { port } = new URL(r.url);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(`GET /healthz HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`));
      // One more header byte every 200 ms: the request never completes.
      const drip = setInterval(() => socket.writable && socket.write('x-slow: 1\r\n'), 200);
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(drip);
        resolve();
      });
      defer(t, () => {
        clearInterval(drip);
        socket.destroy();
      });
      setTimeout(() => reject(new Error('the trickling request still held its socket after 20 s')), 20_000).unref();
    });
    // node:http checked its 10 s headers timeout every 30 s (cut after 10–40 s); now every second.
    assert.ok(Date.now() - started < 15_000, `cut after ${Date.now() - started} ms`);
  });

  test(`[${e}] an expired key is refused; repeated failures from one address are throttled`, async (t) => {
    engine = e;
    const r = await rig(t);
    const expired = await r.key('temp', ['--expires', '1s']);
    // The key is valid for a second: wait it out on the hub's own clock by polling, not sleeping blind.
    let res: Response;
    do res = await fetch(`${r.url}/status`, { headers: bearer(expired) });
    while (res.status === 200);
    assert.match(((await res.json()) as { error: string }).error, /expired/);
    let throttled = 0;
    for (let i = 0; i < 25; i++) if ((await fetch(`${r.url}/status`, { headers: bearer('smx_000000000000_' + 'x'.repeat(32)) })).status === 429) throttled++;
    assert.ok(throttled >= 4, `throttled ${throttled} of 25`);
  });

  test(`[${e}] one identity holds at most 64 notification streams (subscriptions/listen, GET) at once; a closed one frees its place, and other identities are served`, async (t) => {
    engine = e;
    const r = await rig(t);
    const [one, other] = [await r.key('one'), await r.key('other')];
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' } };
    const listen = (key: string, id: number) =>
      fetch(`${r.url}/mcp`, {
        method: 'POST',
        headers: { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } }),
      });
    const open: Response[] = [];
    defer(t, async () => {
      for (const s of open) await s.body?.cancel().catch(() => {});
    });
    for (let i = 0; i < 64; i++) open.push(await listen(one, i));
    assert.deepEqual(open.map((s) => s.status), Array(64).fill(200));
    const refused = await listen(one, 64);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    const answer = (await refused.json()) as { id: unknown; error: { message: string } };
    assert.equal(answer.id, 64);
    assert.match(answer.error.message, /Too many notification streams open for "one" \(64/);
    const elsewhere = await listen(other, 1);
    assert.equal(elsewhere.status, 200, 'another identity is not affected');
    open.push(elsewhere);
    await open.shift()!.body!.cancel();
    // The place frees when the server sees the stream end: asked again until then, never slept on.
    let again = await listen(one, 65);
    for (let tries = 0; again.status === 429 && tries < 200; tries++) again = await listen(one, 66 + tries);
    assert.equal(again.status, 200, 'a closed stream frees its place');
    open.push(again);
  });

  test(`[${e}] Host and Origin are checked (DNS rebinding); allowed origins get CORS headers`, async (t) => {
    engine = e;
    const r = await rig(t, 'http_allowed_origins = ["https://app.example.com"]\n');
    const key = await r.key('alice');
    const port = new URL(r.url).port;
    const raw = async (headers: Record<string, string>) => {
      const { request } = await import('node:http');
      return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/status', headers: { ...bearer(key), ...headers } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, headers: res.headers });
        });
        req.on('error', reject);
        req.end();
      });
    };
    assert.equal((await raw({ host: 'attacker.example' })).status, 403);
    assert.equal((await raw({ host: `localhost:${port}` })).status, 200);
    assert.equal((await raw({ origin: 'https://evil.example.com' })).status, 403);
    const allowed = await raw({ origin: 'https://app.example.com' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  });

  test(`[${e}] MCP over HTTP: SDK v2 (2026-07-28 and 2025-11-25) and SDK v1 clients call the governed tools as the key's identity`, async (t) => {
    engine = e;
    const me = 'analyst-http';
    const r = await rig(t, `\n[roles.http_analyst]\nidentities = ["${me}"]\ndeny = ["*.*.CUSTOMER"]\nmax_rows = 2\n\n[roles.viewer]\nidentities = ["viewer"]\ntools = ["list_databases"]\n`);
    const key = await r.key(me);
    const endpoint = new URL(`${r.url}/mcp`);

    const modern = new ClientV2({ name: 'modern-http', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await modern.connect(new HttpV2(endpoint, { requestInit: { headers: bearer(key) } }));
    defer(t, () => modern.close());
    const legacy = new ClientV2({ name: 'legacy-http', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
    await legacy.connect(new HttpV2(endpoint, { requestInit: { headers: bearer(key) } }));
    defer(t, () => legacy.close());
    const v1 = new ClientV1({ name: 'v1-http', version: '1' });
    await v1.connect(new HttpV1(endpoint, { requestInit: { headers: bearer(key) } }));
    defer(t, () => v1.close());

    for (const c of [modern, legacy]) {
      const tools = await c.listTools();
      assert.ok(tools.tools.some((x) => x.name === 'execute_query'));
      const rows = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT N_NAME FROM NATION ORDER BY N_NATIONKEY' } });
      assert.equal((rows.structuredContent as { rows: unknown[] }).rows.length, 2, 'the role\'s row cap applies over HTTP');
      const denied = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT * FROM CUSTOMER' } });
      assert.equal(denied.isError, true);
    }
    const v1rows = await v1.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1 AS ONE' } });
    assert.deepEqual((v1rows.structuredContent as { rows: unknown[][] }).rows, [[1]]);

    // Another identity is governed by its own role.
    const viewer = new ClientV2({ name: 'viewer-http', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await viewer.connect(new HttpV2(endpoint, { requestInit: { headers: bearer(await r.key('viewer')) } }));
    defer(t, () => viewer.close());
    const refused = await viewer.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } });
    assert.equal(refused.isError, true);
    assert.match(JSON.stringify(refused.content), /not allowed/);

    const status = JSON.parse((await runCli(['status', '--json', '--home', r.home])).stdout) as { sessions: { transport: string; identity: { name: string; kind: string }; client: { name: string } | null }[] };
    const http = status.sessions.filter((s) => s.transport === 'http');
    assert.deepEqual(new Set(http.map((s) => s.identity.name)), new Set([me, 'viewer']));
    assert.ok(http.every((s) => s.identity.kind === 'api-key'));
    assert.deepEqual(new Set(http.map((s) => s.client?.name)), new Set(['modern-http', 'legacy-http', 'v1-http', 'viewer-http']));

    // An unknown (or another identity's) 2025 session id is a 404, as the spec asks.
    const stray = await fetch(endpoint, { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'not-a-session' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }) });
    assert.equal(stray.status, 404);

    await Promise.all([modern.close(), legacy.close(), v1.close(), viewer.close()]);
    assert.equal(await r.hub.stop(), 0);
    const dir = join(r.home, 'audit');
    const records = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; identity?: string; tool?: string; outcome?: string }));
    const calls = records.filter((x) => x.kind === 'tool_call');
    assert.equal(calls.filter((x) => x.identity === me).length, 5);
    assert.deepEqual(calls.filter((x) => x.identity === 'viewer').map((x) => x.outcome), ['refused']);
    assert.equal((await runCli(['audit', 'verify', '--home', r.home])).code, 0);
  });

  test(`[${e}] /events streams sessions and calls as Server-Sent Events; /readyz says ready`, async (t) => {
    engine = e;
    const r = await rig(t);
    const key = await r.key('watcher');
    const ready = await fetch(`${r.url}/readyz`, { headers: bearer(key) });
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { ready: boolean }).ready, true);

    const stream = await openEventStream(t, r.url, bearer(key));
    const seen = stream.events;
    const until = (pred: (e: HubEvent) => boolean) => stream.waitFor(pred, 15_000);
    await until((e) => e.event === 'hello');
    const c = new ClientV2({ name: 'evented', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await c.connect(new HttpV2(new URL(`${r.url}/mcp`), { requestInit: { headers: bearer(key) } }));
    defer(t, () => c.close());
    await c.callTool({ name: 'list_databases', arguments: {} });
    await until((e) => e.event === 'call' && e.data.tool === 'list_databases');
    assert.ok(seen.some((e) => e.event === 'session_open' && e.data.transport === 'http'));
    const call = seen.find((e) => e.event === 'call')!.data;
    assert.equal(call.outcome, 'ok');
    assert.ok(!('sql' in call), 'events carry no SQL');
    // The call's start came first, under the same request id.
    const start = seen.findIndex((e) => e.event === 'call_start' && e.data.tool === 'list_databases');
    assert.ok(start >= 0 && start < seen.findIndex((e) => e.event === 'call'), JSON.stringify(seen));
    assert.equal(seen[start]!.data.requestId, call.requestId);
    assert.equal(seen[start]!.data.sessionId, call.sessionId);

    // Reloads are events, the refused one too (with the reason): the file on disk is not what runs.
    const file = join(r.home, 'config.toml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}[limits]\nretry_attempts = 1\n`);
    assert.equal((await runCli(['reload', '--home', r.home])).code, 0);
    await until((e) => e.event === 'reload');
    assert.equal(seen.find((e) => e.event === 'reload')!.data.outcome, 'applied');
    writeFileSync(file, `${readFileSync(file, 'utf8')}max_queued = "lots"\n`);
    assert.equal((await runCli(['reload', '--home', r.home])).code, 1);
    await until((e) => e.event === 'reload' && e.data.outcome === 'refused');
    assert.match(String(seen.find((e) => e.data.outcome === 'refused')!.data.reason), /limits\.max_queued/);
  });

  test(`[${e}] auth off is refused on a listener other machines can reach; allowed on loopback`, async (t) => {
    engine = e;
    const home = tempHome(t);
    writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "0.0.0.0:0"\nhttp_auth = false\nhttp_engine = "${engine}"\n`);
    const r = await runCli(['hub', '--home', home]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /hub\.http_auth: false is allowed only on a loopback listener, and 0\.0\.0\.0:0 \(hub\.http_listen\) is reachable/);

    const open = await rig(t, 'http_auth = false\n');
    const res = await fetch(`${open.url}/status`);
    assert.equal(res.status, 200);
    // Loopback is not the owner alone: the terminal says who else can reach it.
    assert.match(open.hub.stderr(), /warning: hub\.http_auth = false: every local user and process on this machine .*can call tools as you/);
    assert.ok(open.hub.stderr().includes(`Create keys (snowmux keys create --identity NAME --home ${open.home})`), open.hub.stderr());
  });

  test(`[${e}] one identity cannot open sessions without bound: 2025 sessions are capped (an idle one makes room), made-up client names share one session`, async (t) => {
    engine = e;
    const r = await rig(t);
    const key = await r.key('many');
    const headers = { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = (i: number) => fetch(`${r.url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `c${i}`, version: '1' } } }) });
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 66; i++) {
      const res = await init(i);
      statuses.push(res.status);
      ids.push(res.headers.get('mcp-session-id') ?? '');
      await res.body?.cancel();
    }
    // Never more than 64 at once: at the limit, the least recently used idle session makes room for the new one.
    assert.deepEqual(new Set(statuses), new Set([200]));
    const status = JSON.parse((await runCli(['status', '--json', '--home', r.home])).stdout) as { sessions: unknown[] };
    assert.equal(status.sessions.length, 64);
    const ping = (id: string) => fetch(`${r.url}/mcp`, { method: 'POST', headers: { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) });
    const [oldest, newest] = [await ping(ids[0]!), await ping(ids[65]!)];
    assert.deepEqual([oldest.status, newest.status], [404, 200]);
    await Promise.all([oldest.body?.cancel(), newest.body?.cancel()]);
  });

  test(`[${e}] a 2025 session opens its GET stream and ends with DELETE (its id is unknown after); refused requests leave no session behind`, async (t) => {
    engine = e;
    const r = await rig(t);
    const key = await r.key('tidy');
    const headers = { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const httpSessions = async () => (JSON.parse((await runCli(['status', '--json', '--home', r.home])).stdout) as { sessions: { transport: string }[] }).sessions.filter((s) => s.transport === 'http').length;
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'tidy', version: '1' } } };

    // Refused before a session existed for the client: none stays (each used to linger 30 minutes, and count against the cap).
    const wrongAccept = await fetch(`${r.url}/mcp`, { method: 'POST', headers: { ...headers, accept: 'text/plain' }, body: JSON.stringify(init) });
    assert.equal(wrongAccept.status, 406);
    const noMethodHeader = await fetch(`${r.url}/mcp`, { method: 'POST', headers: { ...headers, 'mcp-protocol-version': '2026-07-28' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'modern-tidy', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } } }) });
    assert.equal(noMethodHeader.status, 400);
    await noMethodHeader.body?.cancel();
    const nullBody = await fetch(`${r.url}/mcp`, { method: 'POST', headers, body: 'null' });
    assert.equal(nullBody.status, 400, 'a JSON null is a bad request, not an internal error');
    assert.equal(await httpSessions(), 0);

    const opened = await fetch(`${r.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
    assert.equal(opened.status, 200);
    await opened.text();
    const sessionId = opened.headers.get('mcp-session-id')!;
    const inSession = { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const stream = new AbortController();
    defer(t, () => stream.abort());
    const asked = Date.now();
    const get = await fetch(`${r.url}/mcp`, { headers: inSession, signal: stream.signal });
    assert.equal(get.status, 200, 'the GET stream of a 2025 session opens');
    // At once: a quiet stream's headers used to leave with its first keep-alive, 15 s later.
    assert.ok(Date.now() - asked < 5_000, `the GET stream answered after ${Date.now() - asked} ms`);
    assert.equal(get.headers.get('content-type'), 'text/event-stream');
    stream.abort();
    assert.equal(await httpSessions(), 1);
    const ended = await fetch(`${r.url}/mcp`, { method: 'DELETE', headers: inSession });
    assert.equal(ended.status, 200);
    await ended.body?.cancel();
    assert.equal(await httpSessions(), 0);
    const replayed = await fetch(`${r.url}/mcp`, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }) });
    assert.equal(replayed.status, 404, 'an ended session id is unknown');
  });

  // /shim links and /events streams end when their key is revoked; a 2025 session's GET stream (server
  // notifications, held open for hours) outlived the revocation: it never sends another request to be refused.
  test(`[${e}] revoking a key ends the /mcp GET stream it holds open; another key's stays`, async (t) => {
    engine = e;
    const r = await rig(t);
    const doomed = await r.key('pat');
    const other = await r.key('pat');
    const open = async (key: string) => {
      const headers = { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'listener', version: '1' } } };
      const opened = await fetch(`${r.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
      await opened.text();
      const stream = new AbortController();
      defer(t, () => stream.abort());
      const get = await fetch(`${r.url}/mcp`, { headers: { ...headers, 'mcp-session-id': opened.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' }, signal: stream.signal });
      assert.equal(get.status, 200);
      return get.body!.getReader();
    };
    const gone = await open(doomed);
    const kept = await open(other);
    assert.equal((await runCli(['keys', 'revoke', /^smx_([0-9a-f]{12})_/.exec(doomed)![1]!, '--home', r.home])).code, 0);
    // The hub rechecks held keys every 5 s (at once on a team hub): the stream must end well within 15.
    let timer: NodeJS.Timeout | undefined;
    const end = await Promise.race([
      (async () => {
        for (;;) if ((await gone.read()).done) return 'ended';
      })().catch(() => 'ended'),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open'), 15_000))),
    ]);
    clearTimeout(timer);
    assert.equal(end, 'ended', 'the GET stream of the revoked key ends');
    const stillOpen = await Promise.race([kept.read().then((x) => (x.done ? 'ended' : 'open')), new Promise<string>((resolve) => setImmediate(() => resolve('open')))]);
    assert.equal(stillOpen, 'open', "the other key's stream stays");
  });

  test(`[${e}] a client that disconnects mid-call cancels its query in the warehouse`, async (t) => {
    engine = e;
    const r = await rig(t);
    const key = await r.key('leaver');
    // Every request this client makes can be cut, as a closed laptop lid would.
    const cuts: AbortController[] = [];
    const cuttable = ((url: string | URL | Request, init?: RequestInit) => {
      const cut = new AbortController();
      cuts.push(cut);
      return fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, cut.signal]) : cut.signal });
    }) as typeof fetch;
    const client = new ClientV2({ name: 'leaver', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new HttpV2(new URL(`${r.url}/mcp`), { requestInit: { headers: bearer(key) }, fetch: cuttable }));
    const call = client.callTool({ name: 'execute_query', arguments: { query: 'SELECT count(*) FROM range(1000000000000)' } }).catch((err: Error) => err);
    type St = { governance: { queue: { running: number } }; recent: { tool: string; outcome: string; errorCode: string | null }[] };
    const status = async () => JSON.parse((await runCli(['status', '--json', '--home', r.home])).stdout) as St;
    let s = await status();
    while (s.governance.queue.running < 1) s = await status();
    for (const cut of cuts) cut.abort();
    await call;
    s = await status();
    while (s.governance.queue.running > 0 || !s.recent.some((c) => c.tool === 'execute_query')) s = await status();
    const rec = s.recent.find((c) => c.tool === 'execute_query')!;
    assert.equal(rec.outcome, 'cancelled', JSON.stringify(rec));
    await client.close().catch(() => {});
  });

  test(`[${e}] a 2025 session's POST whose client hangs up (no notifications/cancelled) cancels its query in the warehouse`, async (t) => {
    engine = e;
    const r = await rig(t);
    const key = await r.key('hanger');
    const headers = { ...bearer(key), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(`${r.url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'hanger', version: '1' } } }) });
    const session = init.headers.get('mcp-session-id')!;
    await init.text();
    const inSession = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    await (await fetch(`${r.url}/mcp`, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
    const hangUp = new AbortController();
    const call = fetch(`${r.url}/mcp`, { method: 'POST', headers: inSession, signal: hangUp.signal, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT count(*) FROM range(1000000000000)' } } }) }).then((res) => res.text()).catch((err: Error) => err);
    type St = { governance: { queue: { running: number } }; recent: { tool: string; outcome: string }[] };
    const status = async () => JSON.parse((await runCli(['status', '--json', '--home', r.home])).stdout) as St;
    let s = await status();
    while (s.governance.queue.running < 1) s = await status();
    hangUp.abort();
    await call;
    while (s.governance.queue.running > 0 || !s.recent.some((c) => c.tool === 'execute_query')) s = await status();
    assert.equal(s.recent.find((c) => c.tool === 'execute_query')!.outcome, 'cancelled');
  });

}
